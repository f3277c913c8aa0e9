import ClusterNode
import Etcd
import Federation
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Gateway
import Learning
import Ledger
import LedgerNode
import LocalProcesses
import Logging
import NodeAPI
import Privacy
import Records
import Simulator
import TransportIdentity
import XCTest

/// The rounds run by node and cluster services that talk only over gRPC with mutual TLS and
/// order through etcd: no coordinator but the ledger, and the same model as `simulate`.
final class NetworkRoundTests: EtcdTestCase {
  static func configuration() -> SimulationConfiguration {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 3
    c.rounds = 2
    c.threads = 1
    c.partition = .iid
    c.privacy.mode = .none
    c.ledger.nodes = 3
    c.evaluation.heldOut = 0
    return c
  }

  static func simulation(_ c: SimulationConfiguration) throws -> Simulation {
    try Simulation(
      configuration: c, train: SyntheticData.quadrants(count: 600, seed: 1),
      test: SyntheticData.quadrants(count: 200, seed: 2))
  }

  /// A network of `nodes.count` node services (each with its round driver) and the clusters
  /// of `simulation`, on free loopback ports.
  struct Network {
    var genesis: Genesis
    var nodes: [LedgerNode]
    var drivers: [RoundDriver]
    var ports: [Int]
    var clusterKeys: [SigningKey]
  }

  func startNetwork(_ c: SimulationConfiguration, _ simulation: Simulation) async throws
    -> Network
  {
    let members = (0..<c.clusters).map { _ in SigningKey() }
    let nodeKeys = (0..<c.ledger.nodes).map { _ in SigningKey() }
    let genesis = try Genesis.consortium(
      network: "round-test", configuration: c, members: members, nodes: nodeKeys,
      initialModel: Hash256(hex: simulation.model.hash), rules: simulation.rules,
      evaluation: simulation.evaluationRules)
    // What a node process reads back from genesis is the configuration itself.
    XCTAssertEqual(
      Set(try SimulationConfiguration(recorded: genesis.round).recordedSettings),
      Set(try c.recordedSettings))
    let ports = try (0..<nodeKeys.count).map { _ in try LoopbackPort.free() }
    var nodes: [LedgerNode] = []
    var drivers: [RoundDriver] = []
    for (i, key) in nodeKeys.enumerated() {
      let client = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
      let replica = try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
      let node = LedgerNode(replica: replica, etcd: client)
      let identity = try TransportCertificate.make(
        name: "node-\(i)", ledgerKey: key, network: genesis.hash)
      let server = GRPCServer(
        transport: .http2NIOPosix(
          address: .ipv4(host: "127.0.0.1", port: ports[i]),
          transportSecurity: PeerTLS.server(
            identity, peers: node.peers, logger: Logger(label: "node-\(i)"))),
        services: [nodeService(backend: node, peers: node.peers)])
      let others = Set(nodeKeys.filter { $0.publicKey != key.publicKey }.map(\.publicKey))
      let peers = try ports.indices.filter { $0 != i }.map {
        try NodeClient(
          host: "127.0.0.1", port: ports[$0], identity: identity, network: genesis.hash,
          expected: others)
      }
      let driver = try RoundDriver(
        node: node, key: key, configuration: c,
        aggregator: ClearAggregator(
          strategy: c.makeStrategy(sampleCap: genesis.rules.sampleCap), key: key,
          network: genesis.hash, nodes: Set(nodeKeys.map(\.publicKey)),
          quorum: genesis.blockQuorum, clusterName: { "cluster-\($0)" }),
        initialModel: ModelFile.encode(simulation.model), peers: peers,
        roundTimeout: .seconds(60), failover: .seconds(1), logger: Logger(label: "node-\(i)"))
      let tasks = [
        Task { _ = try? await client.run() },
        Task { _ = try? await node.orderer.run() },
        Task { _ = try? await server.serve() },
        Task { _ = try? await driver.run() },
      ]
      stops.append {
        server.beginGracefulShutdown()
        client.close()
        for t in tasks { t.cancel() }
      }
      nodes.append(node)
      drivers.append(driver)
    }
    // The members enrol their clusters.
    let clusterKeys = (0..<c.clusters).map { _ in SigningKey() }
    for (i, key) in clusterKeys.enumerated() {
      try await nodes[0].orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
            member: "member-\(i)", memberKey: members[i])))
    }
    return Network(
      genesis: genesis, nodes: nodes, drivers: drivers, ports: ports, clusterKeys: clusterKeys)
  }

  /// Starts cluster `i`'s daemon, following `order` (node indexes; nil: a dead address).
  @discardableResult
  func startCluster(
    _ i: Int, _ network: Network, _ c: SimulationConfiguration, _ simulation: Simulation,
    order: [Int?]
  ) throws -> ClusterDaemon {
    let key = network.clusterKeys[i]
    let identity = try TransportCertificate.make(
      name: "cluster-\(i)", ledgerKey: key, network: network.genesis.hash)
    let clients = try order.map { n in
      try NodeClient(
        host: "127.0.0.1", port: try n.map { network.ports[$0] } ?? LoopbackPort.free(),
        identity: identity, network: network.genesis.hash,
        expected: Set(network.genesis.nodes.map(\.key)), timeout: .seconds(30))
    }
    let daemon = try ClusterDaemon(
      agent: ClusterAgent(id: i, name: "cluster-\(i)", genesis: network.genesis, key: key),
      cluster: simulation.clusters[i], configuration: c, genesis: network.genesis,
      initialModel: simulation.model, nodes: clients, directory: "\(directory)/cluster-\(i)",
      logger: Logger(label: "cluster-\(i)"))
    let task = Task { _ = try? await daemon.run() }
    stops.append { task.cancel() }
    return daemon
  }

  /// Waits until every node stored `round`'s commit and holds its model file.
  func waitForCommit(_ round: UInt64, _ network: Network, seconds: Double = 120) async throws
    -> [ModelCommit]
  {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      var commits: [ModelCommit] = []
      for node in network.nodes {
        if let commit = await node.orderer.withReplica({ $0.state.rounds[round]?.commit }),
          node.blobs.contains(commit.modelBlob)
        {
          commits.append(commit)
        }
      }
      if commits.count == network.nodes.count { return commits }
      try await Task.sleep(for: .milliseconds(100))
    }
    var logs: [String] = []
    for d in network.drivers { logs.append(await d.log.joined(separator: "\n")) }
    XCTFail(
      "round \(round) did not commit on every node in \(seconds) s:\n"
        + logs.joined(separator: "\n--\n"))
    throw CancellationError()
  }

  func testNodeAndClusterServicesRunTheRoundsToSimulatesModel() async throws {
    let c = Self.configuration()
    // The reference: `simulate` with the same configuration and seed (privacy none).
    let reference = try Self.simulation(c)
    reference.backend = try SimulatedNetwork(
      directory: directory + "/simulate", configuration: c, clusters: c.clusters,
      initialModel: reference.model, rules: reference.rules)
    let expected = try await reference.run().last?.modelHash

    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    // Cluster 0's first node is not there: it fails over to the next.
    try startCluster(0, network, c, simulation, order: [nil, 1, 2])
    try startCluster(1, network, c, simulation, order: [1, 2, 0])
    try startCluster(2, network, c, simulation, order: [2, 0, 1])

    let commits = try await waitForCommit(2, network)
    XCTAssertEqual(Set(commits).count, 1, "every node stored the same commit")
    XCTAssertEqual(commits[0].model.hex, expected, "the model simulate makes")
    var heads = Set<Hash256>()
    for node in network.nodes { heads.insert(await node.orderer.head) }
    XCTAssertEqual(heads.count, 1)

    // Each cluster kept every committed model with a receipt that verifies from genesis.
    for i in 0..<c.clusters {
      let stem = "\(directory)/cluster-\(i)/models/round-000002"
      let deadline = Date().addingTimeInterval(30)
      while !FileManager.default.fileExists(atPath: stem + ".receipt.json"), Date() < deadline {
        try await Task.sleep(for: .milliseconds(100))
      }
      let receipt = try Receipt.parse(
        Array(try Data(contentsOf: URL(fileURLWithPath: stem + ".receipt.json"))))
      let model = try ModelFile.read(from: stem + ".flm")
      XCTAssertEqual(model.hash, expected)
      XCTAssertNoThrow(
        try receipt.verify(genesis: network.genesis, modelHash: Hash256(hex: model.hash)))
    }
  }
}
