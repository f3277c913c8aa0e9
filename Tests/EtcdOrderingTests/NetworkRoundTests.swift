import Attestation
import ClusterNode
import Enclave
import Etcd
import Federation
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Gateway
import Host
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

  /// A network of node services (each with its round driver) and the clusters of a
  /// simulation, on free loopback ports; each node and cluster can be stopped and started
  /// again on the same directory and port.
  final class Network {
    let c: SimulationConfiguration
    let simulation: Simulation
    let genesis: Genesis
    let members: [SigningKey]
    let nodeKeys: [SigningKey]
    let clusterKeys: [SigningKey]
    let ports: [Int]
    let directory: String
    let etcd: [EtcdEndpoint]
    var nodes: [LedgerNode?]
    var drivers: [RoundDriver?]
    var nodeStops: [(() -> Void)?]
    var clusters: [ClusterDaemon?]
    var clusterStops: [(() -> Void)?]
    /// A forging node's port, which `startCluster` names -1.
    var forgedPort = 0
    /// Privacy tee: each node's simulated platform and the enclave code's measurement (the
    /// enclaves run in this process, through the same messages).
    let platforms: [SimulatedPlatform]
    let measurement: [UInt8]?

    init(
      _ c: SimulationConfiguration, _ simulation: Simulation, directory: String,
      etcd: [EtcdEndpoint]
    ) throws {
      self.c = c
      self.simulation = simulation
      self.directory = directory
      self.etcd = etcd
      members = (0..<c.clusters).map { _ in SigningKey() }
      nodeKeys = (0..<c.ledger.nodes).map { _ in SigningKey() }
      clusterKeys = (0..<c.clusters).map { _ in SigningKey() }
      let tee = c.privacy.mode == .tee
      platforms = tee ? nodeKeys.map { _ in SimulatedPlatform() } : []
      measurement = tee ? try Enclave.measure(executable: "/proc/self/exe") : nil
      genesis = try Genesis.consortium(
        network: "round-test", configuration: c, members: members, nodes: nodeKeys,
        enclavePlatforms: platforms.map(\.publicKey), measurement: measurement,
        initialModel: Hash256(hex: simulation.model.hash), rules: simulation.rules,
        evaluation: simulation.evaluationRules)
      ports = try (0..<nodeKeys.count).map { _ in try LoopbackPort.free() }
      nodes = Array(repeating: nil, count: nodeKeys.count)
      drivers = Array(repeating: nil, count: nodeKeys.count)
      nodeStops = Array(repeating: nil, count: nodeKeys.count)
      clusters = Array(repeating: nil, count: c.clusters)
      clusterStops = Array(repeating: nil, count: c.clusters)
    }

    /// Starts node `i` (again, on its directory and port, if it ran before).
    /// Per node (tests of attacks): what its server answers instead of the node itself, the
    /// order it asks its peers in, and whether its enclave makes a group key of its own.
    var serve: [Int: @Sendable (LedgerNode) -> any NodeBackend] = [:]
    var peerOrder: [Int: [Int]] = [:]
    var ownKey: Set<Int> = []
    /// How long each node after a round's coordinator waits before it steps in.
    var failover: Duration = .seconds(1)
    /// Nodes that never start (down from the beginning).
    var absent: Set<Int> = []

    func startNode(_ i: Int, roundTimeout: Duration = .seconds(60)) throws {
      let key = nodeKeys[i]
      let client = try EtcdClient(endpoints: etcd)
      let replica = try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
      var enclave: EnclaveClient?
      let sealed = "\(directory)/node-\(i).sealed"
      if let measurement {
        let e = EnclaveClient(
          node: "node-\(i)",
          transport: InProcessEnclave(
            service: EnclaveService(measurement: measurement, platform: platforms[i])))
        _ = try e.start(
          sealed: FileManager.default.contents(atPath: sealed).map { Array($0) },
          policy: genesis.enclavePolicy())
        if ownKey.contains(i) { _ = try e.createGroupKey() }
        enclave = e
      }
      let node = LedgerNode(replica: replica, etcd: client, enclave: enclave, closeKey: key)
      let identity = try TransportCertificate.make(
        name: "node-\(i)", ledgerKey: key, network: genesis.hash)
      let server = GRPCServer(
        transport: .http2NIOPosix(
          address: .ipv4(host: "127.0.0.1", port: ports[i]),
          transportSecurity: PeerTLS.server(
            identity, peers: node.peers, logger: quiet("node-\(i)"))),
        services: [nodeService(backend: serve[i].map { $0(node) } ?? node, peers: node.peers)])
      let others = Set(nodeKeys.filter { $0.publicKey != key.publicKey }.map(\.publicKey))
      let peers = try (peerOrder[i] ?? ports.indices.filter { $0 != i }).map {
        try NodeClient(
          host: "127.0.0.1", port: ports[$0], identity: identity, network: genesis.hash,
          expected: others)
      }
      let aggregator: any RoundAggregator =
        if let enclave {
          EnclaveAggregator(enclave: enclave)
        } else {
          ClearAggregator(
            strategy: c.makeStrategy(sampleCap: genesis.rules.sampleCap), key: key,
            network: genesis.hash, nodes: Set(nodeKeys.map(\.publicKey)),
            quorum: genesis.blockQuorum, clusterName: { "cluster-\($0)" })
        }
      let driver = try RoundDriver(
        node: node, key: key, configuration: c, aggregator: aggregator,
        initialModel: ModelFile.encode(simulation.model), peers: peers,
        endorserKey: platforms.isEmpty ? nil : PublicKey(bytes: platforms[i].publicKey),
        sealedState: platforms.isEmpty ? nil : sealed,
        roundTimeout: roundTimeout, failover: failover, logger: quiet("node-\(i)"))
      let tasks = [
        Task { _ = try? await client.run() },
        Task { _ = try? await node.orderer.run() },
        Task { _ = try? await server.serveGracefully() },
        Task { _ = try? await driver.run() },
      ]
      nodes[i] = node
      drivers[i] = driver
      nodeStops[i] = {
        node.stop()
        server.beginGracefulShutdown()
        client.close()
        for t in tasks { t.cancel() }
      }
    }

    func stopNode(_ i: Int) {
      nodeStops[i]?()
      nodeStops[i] = nil
      nodes[i] = nil
      drivers[i] = nil
    }

    /// The members enrol their clusters through node 0.
    func enrolClusters() async throws {
      for (i, key) in clusterKeys.enumerated() {
        try await nodes[0]!.orderer.submit(
          .enrolment(
            ClusterEnrolment(
              network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
              member: "member-\(i)", memberKey: members[i])))
      }
    }

    /// Starts cluster `i`'s daemon (again, on its directory, if it ran before), following
    /// `order` (node indexes; nil: an address where nothing listens; -1: `forgedPort`).
    func startCluster(_ i: Int, order: [Int?]) throws {
      let key = clusterKeys[i]
      let identity = try TransportCertificate.make(
        name: "cluster-\(i)", ledgerKey: key, network: genesis.hash)
      let clients = try order.map { n in
        try NodeClient(
          host: "127.0.0.1",
          port: try n.map { $0 < 0 ? forgedPort : ports[$0] } ?? LoopbackPort.free(),
          identity: identity, network: genesis.hash, expected: Set(genesis.nodes.map(\.key)),
          timeout: .seconds(30))
      }
      let daemon = try ClusterDaemon(
        agent: ClusterAgent(id: i, name: "cluster-\(i)", genesis: genesis, key: key),
        cluster: simulation.clusters[i], configuration: c, genesis: genesis,
        initialModel: simulation.model,
        evaluators: simulation.clusters.filter { $0.heldOut != nil }.map(\.id), nodes: clients,
        directory: "\(directory)/cluster-\(i)", patience: .seconds(1),
        logger: quiet("cluster-\(i)"))
      let task = Task { _ = try? await daemon.run() }
      clusters[i] = daemon
      clusterStops[i] = { task.cancel() }
    }

    func stopCluster(_ i: Int) {
      clusterStops[i]?()
      clusterStops[i] = nil
    }

    func stopAll() {
      for i in clusters.indices { stopCluster(i) }
      for i in nodes.indices { stopNode(i) }
    }

    var running: [LedgerNode] { nodes.compactMap { $0 } }
  }

  func startNetwork(
    _ c: SimulationConfiguration, _ simulation: Simulation,
    prepare: (Network) -> Void = { _ in }
  ) async throws -> Network {
    let network = try Network(
      c, simulation, directory: directory, etcd: try XCTUnwrap(etcd).endpoints)
    prepare(network)
    stops.append { network.stopAll() }
    // What a node process reads back from genesis is the configuration itself.
    XCTAssertEqual(
      Set(try SimulationConfiguration(recorded: network.genesis.round).recordedSettings),
      Set(try c.recordedSettings))
    for i in network.nodeKeys.indices where !network.absent.contains(i) {
      try network.startNode(i)
    }
    try await network.enrolClusters()
    for node in network.running {
      try await eventually("\(node.name) enrolled the clusters") {
        await node.orderer.withReplica { $0.state.clusters.count } == c.clusters
      }
    }
    return network
  }

  /// Waits until every node stored `round`'s commit and holds its model file.
  func waitForCommit(_ round: UInt64, _ network: Network, seconds: Double = 120) async throws
    -> [ModelCommit]
  {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      var commits: [ModelCommit] = []
      for node in network.running {
        if let commit = await node.orderer.withReplica({ $0.state.rounds[round]?.commit }),
          node.blobs.contains(commit.modelBlob)
        {
          commits.append(commit)
        }
      }
      if commits.count == network.running.count { return commits }
      try await Task.sleep(for: .milliseconds(100))
    }
    var logs: [String] = []
    for d in network.drivers.compactMap({ $0 }) {
      logs.append(await d.log.joined(separator: "\n"))
    }
    XCTFail(
      "round \(round) did not commit on every node in \(seconds) s:\n"
        + logs.joined(separator: "\n--\n"))
    throw CancellationError()
  }

  func testNodeAndClusterServicesRunTheRoundsToSimulatesModel() async throws {
    let c = Self.configuration()
    // The reference: `simulate` with the same configuration and seed (privacy none).
    let expected = try await simulatedModel(c)

    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    // Cluster 0's first node is not there: it fails over to the next.
    try network.startCluster(0, order: [nil, 1, 2])
    try network.startCluster(1, order: [1, 2, 0])
    try network.startCluster(2, order: [2, 0, 1])

    let commits = try await waitForCommit(2, network)
    XCTAssertEqual(Set(commits).count, 1, "every node stored the same commit")
    XCTAssertEqual(commits[0].model.hex, expected, "the model simulate makes")
    var heads = Set<Hash256>()
    for node in network.running { heads.insert(await node.orderer.head) }
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

extension NetworkRoundTests {
  /// Attack (a coordinator that is down, or will not propose): the next round's coordinator
  /// proposes a round's commit, and the other nodes step in after a short grace, not the
  /// failover wait, so the model commits promptly all the same.
  func testACommitDoesNotWaitForTheFailoverOfADownCoordinator() async throws {
    let c = Self.configuration()
    let simulation = try Self.simulation(c)
    // Node 1 coordinates round 2, so it is the one to propose round 1's commit: it is down.
    let network = try await startNetwork(c, simulation) {
      $0.failover = .seconds(4)
      $0.absent = [1]
    }
    for i in 0..<c.clusters { try network.startCluster(i, order: [0, 2]) }
    _ = try await waitForCommit(1, network)
    let round = await network.nodes[0]!.orderer.withReplica { $0.state.rounds[1] }
    let r = try XCTUnwrap(round)
    let closed = try XCTUnwrap(r.closedAt)
    let committed = try XCTUnwrap(r.committedAt)
    XCTAssertLessThan(
      committed.timeIntervalSince(closed), 3,
      "the commit came \(committed.timeIntervalSince(closed)) s after the close")
    // The run ends (round 2 opens after node 2's failover wait) before the services stop.
    _ = try await waitForCommit(2, network)
  }

  /// The model `simulate` makes with `c` (privacy none).
  func simulatedModel(_ c: SimulationConfiguration) async throws -> String? {
    let reference = try Self.simulation(c)
    reference.backend = try SimulatedNetwork(
      directory: directory + "/simulate", configuration: c, clusters: c.clusters,
      initialModel: reference.model, rules: reference.rules)
    return try await reference.run().last?.modelHash
  }

  /// Waits until `condition` holds, at most `seconds`.
  func eventually(
    _ what: String, seconds: Double = 30, _ condition: () async throws -> Bool
  ) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if try await condition() { return }
      try await Task.sleep(for: .milliseconds(100))
    }
    XCTFail("not within \(seconds) s: \(what)")
    throw CancellationError()
  }

  /// A cluster stopped after it submitted and started again in the same round sends the same
  /// update again, which the ledger already holds (it never commits a round twice); a node
  /// stopped mid-run and started again catches up and takes part; the model is simulate's.
  func testANodeAndAClusterRestartMidRun() async throws {
    var c = Self.configuration()
    c.rounds = 3
    let expected = try await simulatedModel(c)
    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    try network.startCluster(0, order: [0, 1, 2])
    try network.startCluster(1, order: [1, 2, 0])
    // Round 1 stays open until cluster-2 starts.
    let node0 = try XCTUnwrap(network.nodes[0])
    try await eventually("cluster-1's round 1 update is ordered") {
      await node0.orderer.withReplica {
        $0.state.rounds[1]?.entries.contains { $0.cluster == "cluster-1" } ?? false
      }
    }
    // Restarted after its update is on the ledger, cluster-1 catches up and sends nothing.
    network.stopCluster(1)
    try network.startCluster(1, order: [2, 0, 1])
    let restarted = try XCTUnwrap(network.clusters[1])
    let top = await node0.orderer.height
    try await eventually("the restarted cluster caught up") {
      await (restarted.height ?? 0) >= (top ?? 0)
    }
    try await Task.sleep(for: .seconds(1))
    let again = await restarted.log.filter { $0.contains("round 1") }
    XCTAssertEqual(again, [], "nothing trained or sent for round 1 again")

    // Cluster-2 stopped after it kept its update and before it sent it (made here, as its
    // process would have): started again, it sends the kept bytes and does not train.
    let agent = ClusterAgent(
      id: 2, name: "cluster-2", genesis: network.genesis, key: network.clusterKeys[2])
    try agent.acceptBase(try XCTUnwrap(network.genesis.initialModel), receipt: nil)
    let update = try simulation.clusters[2].train(
      plan: RoundPlan(
        round: 1, baseModelHash: simulation.model.hash, participants: [0, 1, 2],
        training: c.local, deadline: c.participation.deadline,
        sampleCap: network.genesis.rules.sampleCap),
      base: simulation.model, seed: c.seed &+ 1 &* 1_000_003 &+ 2 &* 7919)
    let kept = try agent.submission(for: update)
    try FileManager.default.createDirectory(
      atPath: "\(directory)/cluster-2", withIntermediateDirectories: true)
    try Data(kept.payload).write(
      to: URL(fileURLWithPath: "\(directory)/cluster-2/round-000001.payload"))
    try Data(kept.commitment.canonicalBytes).write(
      to: URL(fileURLWithPath: "\(directory)/cluster-2/round-000001.tx"))

    network.stopNode(2)
    try network.startCluster(2, order: [2, 0, 1])  // its first node is down: it fails over
    let resumed = try XCTUnwrap(network.clusters[2])
    try await eventually("cluster-2 sends its kept update") {
      await resumed.log.contains { $0.contains("update: sending again the one made before") }
    }
    let trained = await resumed.log.contains { $0.contains("round 1: trained") }
    XCTAssertFalse(trained)
    _ = try await waitForCommit(1, network)
    try await Task.sleep(for: .seconds(1))  // the stopped node's port and files are released
    try network.startNode(2)
    let commits = try await waitForCommit(3, network)
    XCTAssertEqual(commits.count, 3)
    XCTAssertEqual(Set(commits).count, 1)
    XCTAssertEqual(commits[0].model.hex, expected, "the model simulate makes")
    let entries = await node0.orderer.withReplica { $0.state.rounds[1]?.entries ?? [] }
    XCTAssertEqual(entries.filter { $0.cluster == "cluster-1" }.count, 1)
    // The restarted node may still be applying the last blocks when the commit is seen.
    try await eventually("every running node at one head") {
      var heads = Set<Hash256>()
      for node in network.running { heads.insert(await node.orderer.head) }
      return heads.count == 1
    }
  }
}

/// A test's logger: errors only (the steps each node and cluster takes are in their `log`).
func quiet(_ label: String) -> Logger {
  var logger = Logger(label: label)
  logger.logLevel = .error
  return logger
}

extension NetworkRoundTests {
  /// Federated evaluation across processes: the clusters judge each committed model on their
  /// held-out data and seal their reports; the nodes close the evaluation once every cluster
  /// reported, combine, and commit the metric, which the model's receipt then proves. The
  /// model and the metric are those `simulate` records.
  func testClustersJudgeEachModelAndTheNodesRecordTheMetric() async throws {
    var c = Self.configuration()
    c.evaluation.heldOut = 0.2
    c.evaluation.every = 1
    let reference = try Self.simulation(c)
    let simulated = try SimulatedNetwork(
      directory: directory + "/simulate", configuration: c, clusters: c.clusters,
      initialModel: reference.model, rules: reference.rules,
      evaluation: reference.evaluationRules)
    reference.backend = simulated
    let records = try await reference.run()
    let expected = try XCTUnwrap(records.last?.federated)
    XCTAssertTrue(expected.recorded)

    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    XCTAssertNotNil(network.genesis.evaluation)
    for i in 0..<c.clusters { try network.startCluster(i, order: [i, (i + 1) % 3]) }
    let commits = try await waitForCommit(2, network)
    XCTAssertEqual(commits[0].model.hex, records.last?.modelHash)
    let node = try XCTUnwrap(network.nodes[1])
    try await eventually("round 2's metric is committed") {
      await node.orderer.withReplica { $0.state.rounds[2]?.metric != nil }
    }
    let receipt = try await node.orderer.withReplica { try $0.receipt(round: 2) }
    let metric = try XCTUnwrap(try receipt.verifiedMetric(genesis: network.genesis))
    XCTAssertEqual(metric.accuracy, expected.accuracy)
    XCTAssertEqual(metric.loss, expected.loss)
    XCTAssertEqual(Int(metric.clusters), c.clusters)
    // Round 1's evaluation closed before round 2 opened (every cluster reported).
    let first = await node.orderer.withReplica { $0.state.rounds[1]?.evaluation?.reports.count }
    XCTAssertEqual(first, c.clusters)
  }
}

/// A node gone bad: it serves its own ledger, but in each block it swaps the round-open for
/// one it signed itself, asking only cluster-0.
struct ForgingNode: NodeBackend {
  let inner: LedgerNode
  let key: SigningKey
  /// What it forges.
  enum Lie: Sendable {
    /// A round-open in each block, signed by itself.
    case blocks
    /// Each model file served is another's, under the asked hash's name; each receipt is of
    /// round 1.
    case models
    /// Its stream of blocks ends at once.
    case noBlocks
    /// It says it holds a million blocks, and sends its own.
    case height
    /// It takes every submission and drops it.
    case drops
    /// Its enclave's evidence comes back with a byte of the signature flipped.
    case evidence
  }
  var lie = Lie.blocks
  var models: Bool { lie == .models }
  func status() async -> NodeStatus {
    var s = await inner.status()
    if lie == .height { s.height = 1_000_000 }
    return s
  }
  func submit(transaction: [UInt8], blob: [UInt8]?, from peer: Peer) async throws -> Bool {
    if lie == .drops { return true }
    return try await inner.submit(transaction: transaction, blob: blob, from: peer)
  }
  func block(at height: UInt64) async throws -> WireBlock? {
    guard var block = try await inner.block(at: height) else { return nil }
    if lie != .blocks { return block }
    for (i, bytes) in block.transactions.enumerated() {
      if case .roundOpen(let o) = try Transaction(canonical: bytes) {
        block.transactions[i] =
          Transaction.roundOpen(
            RoundOpen(
              network: inner.network, round: o.round, baseModel: o.baseModel,
              participants: ["cluster-0"], rules: o.rules, configuration: o.configuration,
              node: key)
          ).canonicalBytes
      }
    }
    return block
  }
  func blob(_ hash: Hash256) async throws -> [UInt8]? {
    guard models, let bytes = try await inner.blob(hash) else { return try await inner.blob(hash) }
    return Array(bytes.reversed())
  }
  func receipt(round: UInt64) async throws -> [UInt8]? {
    try await inner.receipt(round: models ? 1 : round)
  }
  func height() async -> UInt64? { await inner.height() }
  func waitForBlock(after height: UInt64?, timeout: Duration) async {
    await inner.waitForBlock(after: height, timeout: timeout)
  }
  var isStopping: Bool { lie == .noBlocks || inner.isStopping }
  func enclaveEvidence(nonce: [UInt8]) async throws -> [UInt8]? {
    guard var bytes = try await inner.enclaveEvidence(nonce: nonce) else { return nil }
    if lie == .evidence { bytes[bytes.count - 1] ^= 1 }
    return bytes
  }
  func enclaveChallenge() async throws -> [UInt8]? { try await inner.enclaveChallenge() }
  func enclaveAdmit(evidence: [UInt8], challenge: [UInt8]) async throws -> [UInt8]? {
    try await inner.enclaveAdmit(evidence: evidence, challenge: challenge)
  }
}

extension NetworkRoundTests {
  /// Attacks on the round from a node and a cluster: a node serving blocks with a round-open
  /// it signed but the nodes never ordered is refused by the cluster, which fails over and
  /// trains on the real round; a commitment without its payload is refused (it would close a
  /// round no node can aggregate); a node does not run a server optimiser whose state it
  /// would lose.
  func testAClusterRefusesForgedBlocksAndANodeRefusesACommitmentWithoutItsPayload()
    async throws
  {
    let c = Self.configuration()
    let expected = try await simulatedModel(c)
    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    let node0 = try XCTUnwrap(network.nodes[0])
    let forger = LoopbackServer(
      backend: ForgingNode(inner: node0, key: network.nodeKeys[0]), node: node0,
      key: network.nodeKeys[0], network: network.genesis.hash)
    try await forger.start()
    stops.append { forger.stop() }
    network.forgedPort = forger.port
    try network.startCluster(0, order: [-1, 1])  // -1: the forger
    try network.startCluster(1, order: [1, 2])
    try network.startCluster(2, order: [2, 0])
    let commits = try await waitForCommit(2, network)
    XCTAssertEqual(commits[0].model.hex, expected, "cluster-0 trained on the real rounds")
    let refused = try await XCTUnwrap(network.clusters[0]).log.contains {
      $0.contains("sent a block that does not check")
    }
    XCTAssertTrue(refused)

    // A cluster's commitment without its payload.
    let key = network.clusterKeys[1]
    let client = try NodeClient(
      host: "127.0.0.1", port: network.ports[1],
      identity: try TransportCertificate.make(
        name: "cluster-1", ledgerKey: key, network: network.genesis.hash),
      network: network.genesis.hash, expected: Set(network.genesis.nodes.map(\.key)))
    let connection = Task { try? await client.run() }
    stops.append {
      client.close()
      connection.cancel()
    }
    let payload = Array("no one will see this".utf8)
    let bare = Transaction.commitment(
      UpdateCommitment(
        network: network.genesis.hash, round: 3, cluster: "cluster-1",
        payload: Hash256.of(payload), payloadSize: UInt64(payload.count), clusterKey: key))
    do {
      try await client.submit(bare.canonicalBytes)
      XCTFail("a commitment without its payload was taken")
    } catch let error as RPCError {
      XCTAssertEqual(error.code, .failedPrecondition)
      XCTAssertTrue(error.message.contains("without its payload"), error.message)
    }

    // A server optimiser's state is not kept across a node's restarts: refused at start.
    var momentum = c
    momentum.strategy.server = .momentum(learningRate: 1, momentum: 0.5)
    XCTAssertThrowsError(
      try RoundDriver(
        node: node0, key: network.nodeKeys[0], configuration: momentum,
        aggregator: ClearAggregator(
          strategy: momentum.makeStrategy(), key: network.nodeKeys[0],
          network: network.genesis.hash, nodes: [], quorum: 1, clusterName: { "\($0)" }),
        initialModel: ModelFile.encode(simulation.model), peers: [], logger: quiet("x"))
    ) { XCTAssertTrue("\($0)".contains("keeps state across rounds"), "\($0)") }
  }
}

/// A gRPC server for a test's own node backend, with `key`'s certificate, on a free port.
final class LoopbackServer: @unchecked Sendable {
  let server: GRPCServer<HTTP2ServerTransport.Posix>
  var task: Task<Void, Never>?
  var port = 0

  init(backend: any NodeBackend, node: LedgerNode, key: SigningKey, network: Hash256) {
    let identity = try! TransportCertificate.make(name: "forger", ledgerKey: key, network: network)
    server = GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: "127.0.0.1", port: 0),
        transportSecurity: PeerTLS.server(identity, peers: node.peers, logger: quiet("forger"))),
      services: [nodeService(backend: backend, peers: node.peers)])
  }

  func start() async throws {
    let server = self.server
    task = Task { try? await server.serveGracefully() }
    port = try await server.listeningAddress?.ipv4?.port ?? 0
  }

  func stop() {
    server.beginGracefulShutdown()
    task?.cancel()
  }
}

extension NetworkRoundTests {
  /// A node serving model files that are not what their hash names, and receipts of another
  /// round, is refused (the log says why) and the cluster gets the model from the next node;
  /// an envelope replayed into a later round, or a second update for a round, is refused by
  /// the node with the ledger's reason.
  func testForgedModelsAndReplayedEnvelopesAreRefused() async throws {
    let c = Self.configuration()
    let expected = try await simulatedModel(c)
    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    let node0 = try XCTUnwrap(network.nodes[0])
    let forger = LoopbackServer(
      backend: ForgingNode(inner: node0, key: network.nodeKeys[0], lie: .models), node: node0,
      key: network.nodeKeys[0], network: network.genesis.hash)
    try await forger.start()
    stops.append { forger.stop() }
    network.forgedPort = forger.port
    try network.startCluster(0, order: [-1, 1])
    try network.startCluster(1, order: [1, 2])
    try network.startCluster(2, order: [2, 0])
    let commits = try await waitForCommit(2, network)
    XCTAssertEqual(commits[0].model.hex, expected)
    let log = try await XCTUnwrap(network.clusters[0]).log
    XCTAssertTrue(
      log.contains { $0.contains("round 1's model from 127.0.0.1:\(forger.port) refused") },
      log.joined(separator: "\n"))

    // Cluster 1's round 1 envelope, replayed now (round 1 is over).
    let stem = "\(directory)/cluster-1/round-000001"
    let tx = try Array(Data(contentsOf: URL(fileURLWithPath: stem + ".tx")))
    let payload = try Array(Data(contentsOf: URL(fileURLWithPath: stem + ".payload")))
    let client = try NodeClient(
      host: "127.0.0.1", port: network.ports[2],
      identity: try TransportCertificate.make(
        name: "cluster-1", ledgerKey: network.clusterKeys[1], network: network.genesis.hash),
      network: network.genesis.hash, expected: Set(network.genesis.nodes.map(\.key)))
    let connection = Task { try? await client.run() }
    stops.append {
      client.close()
      connection.cancel()
    }
    let replayed = try await client.submit(tx, blob: payload)
    XCTAssertFalse(replayed, "the ledger holds these bytes already: nothing is appended")
    // The same update re-signed for round 2 (a second update for a round the cluster answered).
    let second = Transaction.commitment(
      UpdateCommitment(
        network: network.genesis.hash, round: 2, cluster: "cluster-1",
        payload: Hash256.of(payload), payloadSize: UInt64(payload.count),
        clusterKey: network.clusterKeys[1]))
    do {
      try await client.submit(second.canonicalBytes, blob: payload)
      XCTFail("a commitment for a round that is over was taken")
    } catch let error as RPCError {
      XCTAssertEqual(error.code, .failedPrecondition)
      XCTAssertTrue(error.message.contains("round 2"), error.message)
    }
  }
}

extension NetworkRoundTests {
  /// Attacks by the node a cluster follows first, each on its own cluster: a node whose stream
  /// of blocks ends at once, one that says it holds blocks it never sends, and one that takes
  /// every update and drops it. Each cluster turns to the next node (the last one sends its
  /// update again there) and every round commits with every cluster's update: the model is
  /// simulate's. A second, different commitment of a cluster for a round already on its way
  /// through a node is refused by that node.
  func testAClusterLeavesANodeThatStopsWithholdsOrDrops() async throws {
    let c = Self.configuration()
    let expected = try await simulatedModel(c)
    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    let node0 = try XCTUnwrap(network.nodes[0])
    var ports: [Int] = []
    for lie in [ForgingNode.Lie.noBlocks, .height, .drops] {
      let forger = LoopbackServer(
        backend: ForgingNode(inner: node0, key: network.nodeKeys[0], lie: lie), node: node0,
        key: network.nodeKeys[0], network: network.genesis.hash)
      try await forger.start()
      stops.append { forger.stop() }
      ports.append(forger.port)
    }
    for i in 0..<3 {
      network.forgedPort = ports[i]
      try network.startCluster(i, order: [-1, (i + 1) % 3])
    }
    let commits = try await waitForCommit(2, network, seconds: 60)
    XCTAssertEqual(commits[0].model.hex, expected)
    let entries = await node0.orderer.withReplica { $0.state.rounds[2]?.entries.count }
    XCTAssertEqual(entries, 3, "every cluster's update reached the ledger")

  }
}

extension NetworkRoundTests {
  /// Attack (a cluster): many different commitments for one round at once, each with its own
  /// payload, through one node before any is stored. The node puts one on the log and keeps
  /// one payload; the others are refused, costing no disk and no log entry.
  func testANodeTakesOneCommitmentPerClusterAndRoundInFlight() async throws {
    let c = Self.configuration()
    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    let node1 = try XCTUnwrap(network.nodes[1])
    try await eventually("round 1 is open") {
      await node1.orderer.withReplica { $0.state.currentRound } == 1
    }
    let key = network.clusterKeys[0]
    let client = try NodeClient(
      host: "127.0.0.1", port: network.ports[1],
      identity: try TransportCertificate.make(
        name: "cluster-0", ledgerKey: key, network: network.genesis.hash),
      network: network.genesis.hash, expected: Set(network.genesis.nodes.map(\.key)))
    let connection = Task { try? await client.run() }
    stops.append {
      client.close()
      connection.cancel()
    }
    let genesis = network.genesis
    let payloads = (0..<20).map { Array("payload \($0)".utf8) }
    let commitments = payloads.map { payload in
      Transaction.commitment(
        UpdateCommitment(
          network: genesis.hash, round: 1, cluster: "cluster-0",
          payload: Hash256.of(payload), payloadSize: UInt64(payload.count), clusterKey: key)
      ).canonicalBytes
    }
    func submitAll(_ indexes: [Int]) async throws -> Int {
      try await withThrowingTaskGroup(of: Bool.self) { group in
        for i in indexes {
          group.addTask {
            do {
              return try await client.submit(commitments[i], blob: payloads[i])
            } catch let error as RPCError where error.code == .failedPrecondition {
              return false
            }
          }
        }
        return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
      }
    }
    let taken = try await submitAll(Array(payloads.indices))
    XCTAssertEqual(taken, 1)
    let kept = payloads.indices.filter { node1.blobs.contains(Hash256.of(payloads[$0])) }
    XCTAssertEqual(kept.count, 1, "one payload on disk")
    // Attack (the taken commitment sent again and again, to fill etcd): told it is held, and
    // written to the log once.
    let again = try await submitAll(Array(repeating: kept[0], count: 20))
    XCTAssertEqual(again, 0)
    let etcd = try EtcdClient(endpoints: network.etcd)
    let reading = Task { try? await etcd.run() }
    defer {
      etcd.close()
      reading.cancel()
    }
    let copies = try await etcd.range(
      prefix: node1.orderer.layout.transactions(like: commitments[kept[0]])
    ).entries
    XCTAssertEqual(copies.count, 1, "one copy of the commitment in etcd")
    try await eventually("the commitment is on the ledger") {
      await node1.orderer.withReplica {
        $0.state.rounds[1]?.entries.filter { $0.cluster == "cluster-0" }.count
      } == 1
    }
  }
}

extension NetworkRoundTests {
  /// Privacy tee across processes: the first node's enclave makes the group key, the others
  /// join after mutual attestation over gRPC, the first node records it with k enclaves'
  /// evidence; each cluster checks an enclave's evidence for its own nonce before it seals;
  /// the enclaves aggregate and endorse. The model is `simulate --privacy tee`'s.
  func testEnclavesInTheNodesShareTheGroupKeyAndAggregateSealedUpdates() async throws {
    var c = Self.configuration()
    c.privacy.mode = .tee
    let reference = try Self.simulation(c)
    let simulated = try SimulatedNetwork(
      directory: directory + "/simulate", configuration: c, clusters: c.clusters,
      initialModel: reference.model, rules: reference.rules, enclaves: .inProcess)
    reference.backend = simulated
    let expected = try await reference.run().last?.modelHash
    simulated.shutdown()

    let simulation = try Self.simulation(c)
    let network = try await startNetwork(c, simulation)
    for i in 0..<c.clusters { try network.startCluster(i, order: [i, (i + 1) % 3]) }
    let commits = try await waitForCommit(2, network)
    XCTAssertEqual(commits[0].model.hex, expected, "the model simulate makes in enclaves")
    let node = try XCTUnwrap(network.nodes[2])
    let recorded = await node.orderer.withReplica { $0.state.groupKey }
    XCTAssertNotNil(recorded)
    for i in 0..<c.clusters {
      let checked = try await XCTUnwrap(network.clusters[i]).log.contains {
        $0.contains("attests the ledger's group key")
      }
      XCTAssertTrue(checked, "cluster-\(i) checked an enclave before sealing")
    }
    // Every endorsement rests on enclave evidence: the receipt verifies from genesis alone.
    let receipt = try await node.orderer.withReplica { try $0.receipt(round: 2) }
    let lines = try receipt.verify(genesis: network.genesis, modelHash: commits[0].model)
    XCTAssertTrue(lines.joined().contains("simulated-enclave"), lines.joined(separator: "\n"))
  }
}

extension NetworkRoundTests {
  /// A tee network of three nodes in which `prepare` sets up an attack; waits for the ledger's
  /// group key and returns the network and each node's enclave's key.
  func teeNetwork(prepare: (Network) -> Void) async throws -> (Network, [[UInt8]?]) {
    var c = Self.configuration()
    c.privacy.mode = .tee
    c.rounds = 1
    let network = try await startNetwork(c, try Self.simulation(c), prepare: prepare)
    let node0 = try XCTUnwrap(network.nodes[0])
    try await eventually("the ledger records a group key", seconds: 30) {
      await node0.orderer.withReplica { $0.state.groupKey } != nil
    }
    let ledgerNonce = EnclaveEvidence.ledgerNonce(network: network.genesis.hash.bytes)
    let keys = try network.nodes.map { try $0?.enclave?.evidence(nonce: ledgerNonce).groupKey }
    return (network, keys)
  }

  /// Attack (a node): node-1's enclave made a group key of its own before the network started,
  /// and node-2 asks node-1 first. Node-2 takes only node 0's enclave's key, which the ledger
  /// records.
  func testJoiningEnclavesTakeOnlyNodeZerosGroupKey() async throws {
    let (network, keys) = try await teeNetwork { network in
      network.ownKey = [1]
      network.peerOrder[2] = [1, 0]
    }
    let recorded = await network.nodes[0]!.orderer.withReplica { $0.state.groupKey }
    XCTAssertNotNil(keys[0] ?? nil)
    XCTAssertEqual(recorded, keys[0] ?? nil, "node 0's enclave's key")
    XCTAssertEqual(keys[2] ?? nil, keys[0] ?? nil, "node-2 did not take node-1's key")
    XCTAssertNotEqual(keys[1] ?? nil, keys[0] ?? nil)
  }

  /// Attack (a node): node-2 answers evidence requests with a forged signature. Node 0 leaves
  /// that answer out and records the key with the evidence that checks (its own and node-1's).
  func testTheGroupKeyRecordSurvivesAPeersForgedEvidence() async throws {
    let (network, keys) = try await teeNetwork { network in
      network.serve[2] = { node in ForgingNode(inner: node, key: SigningKey(), lie: .evidence) }
    }
    let recorded = await network.nodes[0]!.orderer.withReplica { $0.state.groupKey }
    XCTAssertEqual(recorded, keys[0] ?? nil)
    XCTAssertEqual(keys[1] ?? nil, keys[0] ?? nil)
  }
}
