import ArgumentParser
import Etcd
import Foundation
import Ledger
import LedgerNode
import Logging
import Ordering
import Records
import ServiceLifecycle

/// `fedledger node`: one ledger node as a long-running process.
struct NodeCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "node",
    abstract:
      "Run a ledger node: its ledger ordered through etcd, served over gRPC with mutual TLS.",
    discussion: """
      The node keeps its ledger (SQLite) and blob store under DATA/ledger, follows the \
      network's log in etcd, signs and stores every block, and serves its gRPC API on \
      --listen to genesis's nodes and members and to enrolled clusters (docs/network.md). \
      It stops gracefully on SIGTERM or SIGINT; started again, it resumes from what it stored.
      """)

  @Option(help: "The network's genesis.json.") var genesis: String
  @Option(help: "This node's identity directory (ledger.key, tls.pem, tls.key).") var identity:
    String
  @Option(help: "Directory for this node's ledger and blobs.") var data: String
  @Option(help: "Address to serve on, HOST:PORT (port 0: any free port).") var listen: String
  @Option(help: "etcd members' client addresses, comma-separated (HOST:PORT or http://HOST:PORT).")
  var etcd: String
  @Option(help: "The CA certificate etcd's members are checked against (PEM; with TLS to etcd).")
  var etcdCa: String?
  @Option(help: "This node's client certificate for etcd (PEM).") var etcdCert: String?
  @Option(help: "This node's client key for etcd (PEM).") var etcdKey: String?
  @Option(help: "How long transactions wait before a cut, in milliseconds.")
  var batchMilliseconds: Int = 20

  func run() async throws {
    LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
    var logger = Logger(label: "fedledger.node")
    logger.logLevel = .info
    do {
      try await serve(logger: logger)
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  private func serve(logger: Logger) async throws {
    let genesis = try Genesis.read(path: self.genesis)
    let files = IdentityFiles(directory: identity)
    let key = try files.ledgerKey()
    guard let me = genesis.nodes.first(where: { $0.key == key.publicKey }) else {
      throw IdentityFileError(
        path: files.ledgerKeyPath, problem: "holds a key that is not a node's in \(self.genesis)")
    }
    if let problem = LogFollower.problem(with: genesis) {
      throw ValidationError("\(self.genesis): \(problem)")
    }
    let (host, port) = try Self.address(listen, flag: "--listen")
    let endpoints = try etcd.split(separator: ",").map { try EtcdEndpoint(parsing: String($0)) }
    guard !endpoints.isEmpty else { throw ValidationError("--etcd names no etcd member") }
    let replica = try LedgerReplica(
      directory: data + "/ledger", genesis: genesis, name: me.name, key: key)
    var tls: EtcdTLS?
    switch (etcdCa, etcdCert, etcdKey) {
    case (nil, nil, nil): tls = nil
    case (let ca?, let cert?, let key?):
      func read(_ path: String, _ flag: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
          throw ValidationError("\(flag) \(path) cannot be read")
        }
        return Array(data)
      }
      tls = EtcdTLS(
        certificate: try read(cert, "--etcd-cert"), privateKey: try read(key, "--etcd-key"),
        trustRoots: try read(ca, "--etcd-ca"))
    default:
      throw ValidationError("TLS to etcd needs all of --etcd-ca, --etcd-cert and --etcd-key")
    }
    let client = try EtcdClient(endpoints: endpoints, tls: tls)
    let node = LedgerNode(
      replica: replica, etcd: client, batchTimeout: .milliseconds(max(1, batchMilliseconds)))
    let service = LedgerNodeService(
      node: node, etcd: client, identity: try files.transport(), host: host, port: port,
      logger: logger)
    let group = ServiceGroup(
      services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    Task {
      if let bound = await service.port {
        logger.info(
          "\(me.name) of network \(genesis.network) (\(genesis.hash.short)) serving on \(host):\(bound), ordering through etcd \(etcd)"
        )
      }
    }
    try await group.run()
  }

  static func address(_ text: String, flag: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (0...65535).contains(port)
    else { throw ValidationError("\(flag) \(text) is not HOST:PORT") }
    return (String(text[..<colon]), port)
  }
}
