import ArgumentParser
import Etcd
import Foundation
import Ledger
import Records

/// A running devnet's processes as a fault trial drives them: signals to the process ids
/// `devnet up` recorded (never by name), restarts with the arguments it recorded, and what
/// the nodes' ledgers say meanwhile.
final class DevnetProcesses: @unchecked Sendable {
  enum Part {
    case node(Int)
    case etcd(Int)
    case cluster(Int)
  }

  let directory: String
  private(set) var state: DevnetState
  let genesis: Genesis
  private let started = Date()

  init(directory: String, state: DevnetState) throws {
    self.directory = directory
    self.state = state
    genesis = try Genesis.read(path: directory + "/network/genesis.json")
  }

  /// Node `i`'s data directory, as it was last started.
  func data(node i: Int) -> String {
    if let a = state.nodes[i].arguments, let at = a.firstIndex(of: "--data"), at + 1 < a.count {
      return a[at + 1]
    }
    return "\(directory)/node-\(i)"
  }

  private func member(_ part: Part) -> DevnetState.Member {
    switch part {
    case .node(let i): state.nodes[i]
    case .etcd(let i): state.etcd[i]
    case .cluster(let i): state.clusters[i]
    }
  }

  /// Sends `signal` to the part's recorded process; after SIGKILL, waits (at most 10 s) until
  /// it is gone.
  func signal(_ part: Part, _ signal: Int32) throws {
    let m = member(part)
    guard kill(m.pid, signal) == 0 else {
      throw ValidationError("\(m.name) (pid \(m.pid)) cannot be signalled: it is not running")
    }
    guard signal == SIGKILL else { return }
    let deadline = Date().addingTimeInterval(10)
    while kill(m.pid, 0) == 0 && Date() < deadline {
      _ = waitpid(m.pid, nil, WNOHANG)
      usleep(20_000)
    }
  }

  /// Starts the part again as `devnet up` started it, its output after its log's.
  /// Starts the part again: as it was started, with `extra` arguments this time, or with
  /// `arguments` from now on.
  func restart(_ part: Part, adding extra: [String] = [], arguments replaced: [String]? = nil)
    throws
  {
    let m = member(part)
    guard let program = m.program, let recorded = m.arguments, let log = m.log else {
      throw ValidationError("\(m.name) was started by a devnet that did not record its command")
    }
    let arguments = replaced ?? recorded
    let pid = try DevnetUp.start(program, arguments + extra, log: log, appending: true)
    switch part {
    case .node(let i):
      state.nodes[i].pid = pid
      state.nodes[i].arguments = arguments
    case .etcd(let i): state.etcd[i].pid = pid
    case .cluster(let i): state.clusters[i].pid = pid
    }
    try state.write(directory)
  }

  /// Node `i`'s ledger as it stands (read beside the running node); nil while unreadable.
  func view(node i: Int) -> LedgerView? {
    guard
      let store = try? LedgerStore(
        path: "\(data(node: i))/ledger/ledger.sqlite", readOnly: true)
    else { return nil }
    return try? LedgerView(store: store, genesis: genesis)
  }

  /// Whether node-0's ledger holds a valid update of `cluster` in `round`.
  func answered(cluster: String, round: UInt64) throws -> Bool {
    let store = try LedgerStore(
      path: "\(directory)/node-0/ledger/ledger.sqlite", readOnly: true)
    return try store.transactions(kind: .commitment, round: round).contains {
      guard $0.outcome.isValid, case .commitment(let c) = try? Transaction(canonical: $0.bytes)
      else { return false }
      return c.cluster == cluster
    }
  }

  /// How many endorsements of rounds from `round` on node-0's ledger records (valid or
  /// refused) from node `i`.
  func endorsements(by i: Int, from round: UInt64) -> Int {
    guard
      let store = try? LedgerStore(
        path: "\(directory)/node-0/ledger/ledger.sqlite", readOnly: true),
      let all = try? store.transactions(kind: .endorsement)
    else { return 0 }
    return all.filter {
      guard case .endorsement(let e) = try? Transaction(canonical: $0.bytes) else { return false }
      return e.endorser == genesis.nodes[i].key && e.statement.round >= round
    }.count
  }

  /// Waits for a round after the first to hold its first update and no close (node-0's
  /// ledger); returns it.
  func roundInFlight() async throws -> UInt64 {
    var found: UInt64?
    try await waitUntil("a round in flight", seconds: 120, every: .milliseconds(50)) {
      found =
        self.view(node: 0)?.rounds.last {
          $0.round >= 2 && $0.commitments >= 1 && !$0.closed && $0.aborted == nil
        }?.round
      return found != nil
    }
    return found!
  }

  /// Waits for a round after `after` to open (node-0's ledger); returns it.
  func roundOpened(after: UInt64) async throws -> UInt64 {
    var found: UInt64?
    try await waitUntil("a round after \(after)", seconds: 120, every: .milliseconds(20)) {
      found =
        self.view(node: 0)?.rounds.last {
          $0.round > max(after, 1) && !$0.closed && $0.aborted == nil
        }?.round
      return found != nil
    }
    return found!
  }

  /// The etcd member that leads now.
  func etcdLeader() async throws -> Int {
    let tls = "\(directory)/etcd-tls"
    func read(_ name: String) throws -> [UInt8] {
      guard let data = FileManager.default.contents(atPath: "\(tls)/\(name)") else {
        throw ValidationError("\(tls)/\(name) cannot be read")
      }
      return Array(data)
    }
    let credentials = EtcdTLS(
      certificate: try read("node-0.pem"), privateKey: try read("node-0.key"),
      trustRoots: try read("ca.pem"))
    for (i, m) in state.etcd.enumerated() {
      let client = try EtcdClient(
        endpoints: [EtcdEndpoint(host: "127.0.0.1", port: m.client)], tls: credentials)
      let running = Task { try? await client.run() }
      defer {
        client.close()
        running.cancel()
      }
      if let status = try? await client.status(), status.leader == status.member { return i }
    }
    throw ValidationError("no etcd member says it leads")
  }

  /// Whether node-0 committed `rounds` rounds and every node answers at one height and head.
  func finished(rounds: Int) async -> Bool {
    guard let view = view(node: 0), view.rounds.count(where: { $0.model != nil }) >= rounds,
      let network = try? DevnetNetwork(directory: directory, state: state)
    else { return false }
    var heads: Set<String> = []
    for i in state.nodes.indices {
      guard case .success(let s) = await network.status(of: i) else { return false }
      heads.insert("\(s.height.map(String.init) ?? "-") \(s.head.hex)")
    }
    return heads.count == 1
  }

  /// Whether every node holds every blob node-0's ledger names (valid updates' payloads,
  /// committed models).
  func replicated() -> Bool {
    guard
      let store = try? LedgerStore(
        path: "\(directory)/node-0/ledger/ledger.sqlite", readOnly: true),
      let updates = try? store.transactions(kind: .commitment),
      let commits = try? store.transactions(kind: .modelCommit)
    else { return false }
    var named: [Hash256] = []
    for t in updates + commits where t.outcome.isValid {
      switch try? Transaction(canonical: t.bytes) {
      case .commitment(let c)?: named.append(c.payload)
      case .modelCommit(let m)?: named.append(m.modelBlob)
      default: break
      }
    }
    return state.nodes.indices.allSatisfy { i in
      guard
        let blobs = try? BlobStore(
          directory: "\(data(node: i))/ledger/blobs", create: false)
      else { return false }
      return named.allSatisfy(blobs.contains)
    }
  }

  /// Waits until `condition` holds, checking every `every`, at most `seconds`.
  func waitUntil(
    _ what: String, seconds: Double, every: Duration = .milliseconds(250),
    _ condition: () async throws -> Bool
  ) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if try await condition() { return }
      try await Task.sleep(for: every)
    }
    throw ValidationError("\(what): not within \(Int(seconds)) s")
  }

  /// Whether the part's log (every run of it) holds `text`.
  func logged(_ part: Part, _ text: String) -> Bool {
    guard let path = member(part).log, let log = try? String(contentsOfFile: path, encoding: .utf8)
    else { return false }
    return log.contains(text)
  }

  func note(_ text: String) {
    print(String(format: "  %6.1f s  ", Date().timeIntervalSince(started)) + text)
  }
}

extension LedgerView {
  var newestRound: UInt64 { rounds.last?.round ?? 0 }
  func committed(_ round: UInt64) -> Bool {
    rounds.contains { $0.round == round && $0.model != nil }
  }
  func closed(_ round: UInt64) -> Bool {
    rounds.contains { $0.round == round && ($0.closed || $0.aborted != nil) }
  }
}
