import ArgumentParser
import Foundation
import Ledger
import Logging
import NodeAPI
import Records

/// `fedledger member`: what a consortium member does on a running network.
struct MemberCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "member", abstract: "Act as a consortium member on a running network.",
    subcommands: [MemberEnrol.self])
}

/// `fedledger member enrol`: vouch for a cluster and have a node order its enrolment.
struct MemberEnrol: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "enrol",
    abstract: "Enrol a cluster: sign its enrolment with this member's key and submit it to a node.",
    discussion: """
      Either --enrolment FILE (a signed enrolment, as network init writes for each cluster) or \
      --cluster DIR --name NAME (the cluster's identity directory; this member signs an \
      enrolment of its key now). The node is any genesis node at --node; the command waits \
      until the enrolment is on the ledger, at most --timeout seconds.
      """)

  @Option(help: "The network's genesis.json.") var genesis: String
  @Option(help: "This member's identity directory (ledger.key, tls.pem, tls.key).") var identity:
    String
  @Option(help: "A node to submit through, HOST:PORT.") var node: String
  @Option(help: "A signed enrolment to submit (canonical bytes).") var enrolment: String?
  @Option(help: "The cluster's identity directory (its ledger.key).") var cluster: String?
  @Option(help: "The cluster's name.") var name: String?
  @Option(help: "The cluster's devices.") var devices: UInt32 = 1
  @Option(help: "Seconds to wait for the enrolment on the ledger (default 30).") var timeout:
    Double = 30

  func run() async throws {
    do {
      try await enrol()
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  private func enrol() async throws {
    let genesis = try Genesis.read(path: self.genesis)
    let files = IdentityFiles(directory: identity)
    let key = try files.ledgerKey()
    guard let me = genesis.members.first(where: { $0.key == key.publicKey }) else {
      throw IdentityFileError(
        path: files.ledgerKeyPath, problem: "holds a key that is not a member's in \(self.genesis)")
    }
    let bytes: [UInt8]
    let clusterName: String
    switch (enrolment, cluster, name) {
    case (let path?, nil, nil):
      guard let data = FileManager.default.contents(atPath: path),
        case .enrolment(let e) = try? Transaction(canonical: Array(data))
      else { throw ValidationError("--enrolment \(path) is not a cluster enrolment") }
      bytes = Array(data)
      clusterName = e.cluster
    case (nil, let directory?, let name?):
      let clusterKey = try IdentityFiles(directory: directory).ledgerKey()
      bytes =
        Transaction.enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: name, key: clusterKey.publicKey, member: me.name,
            devices: devices, memberKey: key)
        ).canonicalBytes
      clusterName = name
    default:
      throw ValidationError("give either --enrolment FILE, or --cluster DIR and --name NAME")
    }
    let (host, port) = try NodeCommand.address(node, flag: "--node")
    var logger = Logger(label: "fedledger.member")
    logger.logLevel = .error
    let client = try NodeClient(
      host: host, port: port, identity: try files.transport(), network: genesis.hash,
      expected: Set(genesis.nodes.map(\.key)), logger: logger)
    let connections = Task { try? await client.run() }
    defer {
      client.close()
      connections.cancel()
    }
    let appended = try await client.submit(bytes)
    // Wait for the block that holds it: the node's stream of blocks, from the first.
    let found = Verdict()
    let seconds = timeout
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        try await client.blocks(after: nil) { block in
          guard let i = block.transactions.firstIndex(of: bytes) else { return true }
          found.set(block.height, valid: block.valid[i])
          return false
        }
      }
      group.addTask { try await Task.sleep(for: .seconds(seconds)) }
      try await group.next()
      group.cancelAll()
    }
    guard let (height, valid) = found.value else {
      throw ValidationError(
        "\(clusterName)'s enrolment was submitted to \(node) but is not on the ledger after \(Int(timeout)) s"
      )
    }
    guard valid else {
      throw ValidationError(
        "\(clusterName)'s enrolment is on the ledger at height \(height) as invalid")
    }
    print(
      appended
        ? "\(clusterName) enrolled by \(me.name) on network \(genesis.network) (block \(height))"
        : "\(clusterName)'s enrolment was on the ledger already (block \(height))")
  }
}

/// The block and verdict a stream found, shared with the task that waits for it.
private final class Verdict: @unchecked Sendable {
  private let lock = NSLock()
  private var found: (UInt64, Bool)?
  func set(_ height: UInt64, valid: Bool) { lock.withLock { found = (height, valid) } }
  var value: (UInt64, Bool)? { lock.withLock { found } }
}
