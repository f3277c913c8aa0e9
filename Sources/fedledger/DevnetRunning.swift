import ArgumentParser
import Foundation
import Ledger
import Logging
import NodeAPI
import Records

extension Devnet {
  /// A devnet this process brought up (through `devnet up`, as a user would) and brings down,
  /// for benchmarks: its genesis, its nodes' ports and process ids, and clients of them.
  final class Running {
    let directory: String
    let state: DevnetState
    let genesis: Genesis
    private var followers: [Task<Void, Never>] = []
    private var clients: [NodeClient] = []

    init(directory: String, up arguments: [String]) throws {
      self.directory = directory
      try DevnetUp.runToEnd(
        ["devnet", "up", "--directory", directory] + arguments, log: directory + "-up.log")
      state = try DevnetState.read(directory)
      genesis = try Genesis.read(path: directory + "/network/genesis.json")
    }

    /// A client of node `i` as member-0.
    func client(node i: Int) throws -> NodeClient {
      var logger = Logger(label: "fedledger.bench")
      logger.logLevel = .critical
      let client = try NodeClient(
        host: "127.0.0.1", port: state.nodes[i].client,
        identity: try IdentityFiles(directory: directory + "/network/member-0").transport(),
        network: genesis.hash, expected: [genesis.nodes[i].key], logger: logger,
        timeout: .seconds(60))
      clients.append(client)
      followers.append(Task { try? await client.run() })
      return client
    }

    /// Follows every node's blocks from its first, noting when each arrived.
    func follow() async throws -> BlockRecorder {
      let recorder = BlockRecorder(nodes: state.nodes.count)
      for i in state.nodes.indices {
        let client = try client(node: i)
        followers.append(
          Task {
            try? await client.blocks(after: nil) { block in
              recorder.record(block, node: i)
              return true
            }
          })
      }
      return recorder
    }

    /// Whether every node's blob store holds every one of `hashes`.
    func allHold(_ hashes: [Hash256]) throws -> Bool {
      for i in state.nodes.indices {
        let store = try BlobStore(
          directory: "\(directory)/node-\(i)/ledger/blobs", create: false)
        if !hashes.allSatisfy(store.contains) { return false }
      }
      return true
    }

    /// The node processes' peak resident memory (VmHWM), largest first, and now (VmRSS).
    func peakMemory() -> String {
      func read(_ field: String) -> [Int] {
        state.nodes.compactMap { n -> Int? in
          guard let text = try? String(contentsOfFile: "/proc/\(n.pid)/status", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix(field) }),
            let kb = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
          else { return nil }
          return kb / 1024
        }
      }
      let peaks = read("VmHWM:")
      guard let top = peaks.max() else { return "unknown" }
      return "\(top) MB (nodes' peaks: " + peaks.map { "\($0)" }.joined(separator: ", ")
        + " MB; now: " + read("VmRSS:").map { "\($0)" }.joined(separator: ", ") + " MB)"
    }

    /// Stops the devnet (`devnet down`) and the clients.
    func down() {
      for c in clients { c.close() }
      for t in followers { t.cancel() }
      let p = Process()
      p.executableURL = URL(fileURLWithPath: DevnetUp.program)
      p.arguments = ["devnet", "down", "--directory", directory]
      p.standardOutput = FileHandle.nullDevice
      try? p.run()
      p.waitUntilExit()
    }
  }
}

/// When each node stored each block, and what the blocks hold that benchmarks time.
final class BlockRecorder: @unchecked Sendable {
  private let lock = NSLock()
  private var opens: [UInt64: [Int: Double]] = [:]
  private var commits: [UInt64: [Int: Double]] = [:]
  /// Per round, per node: valid endorsements so far, and when the count reached each number.
  private var endorsed: [UInt64: [Int: [Double]]] = [:]
  private var commitments: [UInt64: [Int: Int]] = [:]
  /// Per round, per node, per payload: its valid commitments.
  private var committed: [UInt64: [Int: [Hash256: Int]]] = [:]
  /// Per round, per node: when it stored the newest commitment, and the close.
  private var lastCommitment: [UInt64: [Int: Double]] = [:]
  private var closes: [UInt64: [Int: Double]] = [:]
  let nodes: Int

  init(nodes: Int) { self.nodes = nodes }

  func record(_ block: WireBlock, node: Int) {
    let now = Date().timeIntervalSince1970
    lock.withLock {
      for (bytes, valid) in zip(block.transactions, block.valid) where valid {
        switch try? Transaction(canonical: bytes) {
        case .roundOpen(let o)?: opens[o.round, default: [:]][node] = now
        case .modelCommit(let m)?: commits[m.round, default: [:]][node] = now
        case .endorsement(let e)?:
          endorsed[e.statement.round, default: [:]][node, default: []].append(now)
        case .commitment(let c)?:
          commitments[c.round, default: [:]][node, default: 0] += 1
          committed[c.round, default: [:]][node, default: [:]][c.payload, default: 0] += 1
          lastCommitment[c.round, default: [:]][node] = now
        case .roundClose(let c)?: closes[c.round, default: [:]][node] = now
        default: break
        }
      }
    }
  }

  /// When the first node stored `round`'s open.
  func opened(round: UInt64) -> Double? { lock.withLock { opens[round]?.values.min() } }

  /// When the first node stored `round`'s close, and the block with its last commitment.
  func closed(round: UInt64) -> Double? { lock.withLock { closes[round]?.values.min() } }
  func lastUpdate(round: UInt64) -> Double? {
    lock.withLock { lastCommitment[round]?.values.min() }
  }

  /// When the last of `nodes` nodes stored `round`'s commit, once all did.
  func committedEverywhere(round: UInt64, nodes: Int) -> Double? {
    lock.withLock {
      guard let c = commits[round], c.count == nodes else { return nil }
      return c.values.max()
    }
  }

  /// When the first node stored the block that brought `round`'s `threshold`-th endorsement.
  func quorumEndorsed(round: UInt64, threshold: Int) -> Double? {
    lock.withLock {
      endorsed[round]?.values.compactMap { $0.count >= threshold ? $0[threshold - 1] : nil }
        .min()
    }
  }

  /// Per node, each payload named by a valid commitment of `round`, and how many name it.
  func committedPayloads(round: UInt64) -> [[Hash256: Int]] {
    lock.withLock { (0..<nodes).map { committed[round]?[$0] ?? [:] } }
  }

  /// Each node's valid commitments of `round` so far.
  func commitments(round: UInt64) -> [Int] {
    lock.withLock { Array((commitments[round] ?? [:]).values) }
  }
}
