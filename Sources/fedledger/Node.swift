import ArgumentParser
import Canonical
import Enclave
import Etcd
import Federation
import Foundation
import Host
import Ledger
import LedgerNode
import Logging
import NodeAPI
import Ordering
import Privacy
import Records
import ServiceLifecycle
import TransportIdentity

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
  @Option(
    help: "The other nodes' addresses, comma-separated HOST:PORT (blobs are pulled from them).")
  var peers: String = ""
  @Option(help: "Genesis's initial model file (default: initial-model.flm beside genesis).")
  var initialModel: String?
  @Option(help: "Seconds a round takes updates before it closes on those that arrived.")
  var roundTimeout: Int = 300
  @Option(help: "Seconds each node after a round's coordinator waits before it steps in.")
  var failover: Int = 5
  @Flag(help: "Order and serve only: take no part in the rounds.") var noRounds = false
  @Option(
    help: ArgumentHelp(
      "A lying host, for fault trials: other-rule, withhold-blobs (docs/reliability.md).",
      visibility: .hidden))
  var byzantine: [HostFault] = []
  @Option(help: "The enclave program (privacy tee; default: fedledger-enclave next to this one).")
  var enclaveProgram: String?

  func run() async throws {
    try await Terminal.daemon("fedledger.node") { try await serve(logger: $0) }
  }

  private func serve(logger: Logger) async throws {
    let genesis = try Genesis.read(path: self.genesis)
    try Self.refuseSecureAggregation(genesis, path: self.genesis)
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
    let enclave = try startEnclave(name: me.name, genesis: genesis, logger: logger)
    let identity = try files.transport()
    // Peer nodes: the node pulls blobs from them, and each payload it takes goes to them
    // before it is ordered. Their connections run with the rounds.
    let others = Set(genesis.nodes.filter { $0.key != key.publicKey }.map(\.key))
    let clients: [NodeClient] =
      noRounds
      ? []
      : try peers.split(separator: ",").map { address in
        let (host, port) = try Self.address(String(address), flag: "--peers")
        return try NodeClient(
          host: host, port: port, identity: identity, network: genesis.hash, expected: others,
          logger: logger)
      }
    let node = LedgerNode(
      replica: replica, etcd: client, enclave: enclave?.client, closeKey: noRounds ? nil : key,
      holders: clients, batchTimeout: .milliseconds(max(1, batchMilliseconds)))
    let driver =
      noRounds
      ? nil
      : try roundDriver(
        node: node, key: key, peers: clients, enclave: enclave?.platformKey, logger)
    if !byzantine.isEmpty {
      logger.warning(
        "\(me.name): BYZANTINE HOST for a fault trial: \(byzantine.map(\.rawValue).joined(separator: ", "))"
      )
    }
    let service = LedgerNodeService(
      node: node, etcd: client, identity: identity, host: host, port: port, driver: driver,
      serving: byzantine.contains(.withholdBlobs) ? WithholdingBackend(node: node) : nil,
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

  /// The node's part in the rounds, as genesis configures them.
  /// Privacy tee: this node's enclave program on its simulated platform (the identity
  /// directory's `platform.key`, which genesis lists), its sealed state kept under --data.
  private func startEnclave(name: String, genesis: Genesis, logger: Logger) throws -> (
    client: EnclaveClient, platformKey: PublicKey
  )? {
    guard genesis.endorsers.contains(where: { $0.kind != .genesisKey }) else { return nil }
    guard let program = enclaveProgram ?? EnclaveProgram.locate() else {
      throw ValidationError(
        "\(self.genesis) is a network with enclaves: \(EnclaveProgram.name) is not next to this program (or give --enclave-program)"
      )
    }
    let platformPath = identity + "/platform.key"
    guard FileManager.default.fileExists(atPath: platformPath) else {
      throw ValidationError("\(platformPath) is missing: network init writes each node's platform")
    }
    let platform = try SimulatedPlatform.loadOrCreate(path: platformPath)
    guard let platformKey = PublicKey(bytes: platform.publicKey),
      genesis.endorsers.contains(where: { $0.key == platformKey })
    else {
      throw ValidationError("\(platformPath) is not a platform genesis lists for an endorser")
    }
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    let client = EnclaveClient(
      node: name,
      transport: try ProcessEnclave(
        program: program, platform: platformPath, log: data + "/enclave.log"))
    let sealed = FileManager.default.contents(atPath: data + "/enclave.sealed").map { Array($0) }
    let info = try client.start(sealed: sealed, policy: genesis.enclavePolicy())
    logger.warning(
      "\(name): SIMULATED ENCLAVE, NO HARDWARE PROTECTION (\(program), measurement \(Hex.encode(info.measurement).prefix(12)))\(sealed == nil ? "" : ", from its sealed state")"
    )
    return (client, platformKey)
  }

  private func roundDriver(
    node: LedgerNode, key: SigningKey, peers clients: [NodeClient], enclave: PublicKey?,
    _ logger: Logger
  ) throws -> RoundDriver {
    let genesis = node.genesis
    let configuration = try SimulationConfiguration(recorded: genesis.round, source: self.genesis)
    let modelPath =
      initialModel
      ?? URL(fileURLWithPath: self.genesis).deletingLastPathComponent()
      .appendingPathComponent("initial-model.flm").path
    guard let model = FileManager.default.contents(atPath: modelPath) else {
      throw ValidationError("--initial-model \(modelPath) cannot be read")
    }
    guard roundTimeout >= 1, failover >= 0 else {
      throw ValidationError("--round-timeout must be at least 1 and --failover at least 0")
    }
    if node.enclave != nil, byzantine.contains(.otherRule) {
      throw ValidationError(
        "--byzantine other-rule: an enclave takes the round's rules from the ledger, not from its host; the fault needs privacy none"
      )
    }
    let aggregator: any RoundAggregator =
      if let client = node.enclave {
        EnclaveAggregator(enclave: client)
      } else {
        ClearAggregator(
          strategy: byzantine.contains(.otherRule)
            ? HostFault.otherRule(configuration, sampleCap: genesis.rules.sampleCap)
            : configuration.makeStrategy(sampleCap: genesis.rules.sampleCap), key: key,
          network: genesis.hash, nodes: Set(genesis.nodes.map(\.key)),
          quorum: genesis.blockQuorum, clusterName: { "cluster-\($0)" })
      }
    return try RoundDriver(
      node: node, key: key, configuration: configuration, aggregator: aggregator,
      initialModel: Array(model), peers: clients, endorserKey: enclave,
      sealedState: enclave == nil ? nil : data + "/enclave.sealed",
      roundTimeout: .seconds(roundTimeout), failover: .seconds(failover), logger: logger)
  }

  static func address(_ text: String, flag: String) throws -> (String, Int) {
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
      (0...65535).contains(port)
    else { throw ValidationError("\(flag) \(text) is not HOST:PORT") }
    return (String(text[..<colon]), port)
  }
}
