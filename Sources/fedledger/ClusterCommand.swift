import ArgumentParser
import ClusterNode
import Federation
import Foundation
import Gateway
import Learning
import Ledger
import Logging
import NodeAPI
import Records
import ServiceLifecycle

/// `fedledger cluster`: one cluster's gateway as a long-running process.
struct ClusterCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cluster",
    abstract:
      "Run a cluster's gateway: follow rounds, train on the cluster's data, submit updates.",
    discussion: """
      The cluster follows the ledger through the first of --nodes (failing over to the next \
      when one fails it). When a round-open asks it to train, it fetches the base model and its \
      receipt, checks both against genesis, trains on its data and submits its signed update. \
      Its data is its partition of genesis's dataset: cluster-N trains on partition N, as in \
      `simulate` with the same configuration. What it sends for a round is kept under --state \
      first, so after a restart it sends the same update again, never a second one. It stops \
      gracefully on SIGTERM or SIGINT.
      """)

  @Option(help: "The network's genesis.json.") var genesis: String
  @Option(help: "This cluster's identity directory (ledger.key, tls.pem, tls.key).")
  var identity: String
  @Option(help: "The cluster's ledger name (default: the identity directory's name).")
  var name: String?
  @Option(help: "Directory for what this cluster sends (kept across restarts).") var state: String
  @Option(help: "Nodes to follow and submit to, comma-separated HOST:PORT, in order of preference.")
  var nodes: String

  func run() async throws {
    try await Terminal.daemon("fedledger.cluster") { try await serve(logger: $0) }
  }

  private func serve(logger: Logger) async throws {
    let genesis = try Genesis.read(path: self.genesis)
    try Self.refuseSecureAggregation(genesis, path: self.genesis)
    let files = IdentityFiles(directory: identity)
    let key = try files.ledgerKey()
    let name = self.name ?? URL(fileURLWithPath: identity).standardizedFileURL.lastPathComponent
    guard name.hasPrefix("cluster-"), let id = Int(name.dropFirst("cluster-".count)), id >= 0
    else {
      throw ValidationError("--name \(name) is not cluster-N: N names the cluster's partition")
    }
    let c = try SimulationConfiguration(recorded: genesis.round, source: self.genesis)
    guard id < c.clusters else {
      throw ValidationError("\(name): genesis's configuration has \(c.clusters) clusters")
    }
    let train = try DatasetLoader.load(c.dataset, split: .train)
    // The simulation's partition and model: this cluster keeps only its own part.
    let test = c.evaluation.heldOut > 0 ? nil : try DatasetLoader.load(c.dataset, split: .test)
    let simulation = try Simulation(configuration: c, train: train, test: test)
    let cluster = simulation.clusters[id]
    let devices = UInt32(clamping: max(1, cluster.edge?.devices.count ?? 1))
    let identity = try files.transport()
    let expected = Set(genesis.nodes.map(\.key))
    let clients = try nodes.split(separator: ",").map { address in
      let (host, port) = try NodeCommand.address(String(address), flag: "--nodes")
      return try NodeClient(
        host: host, port: port, identity: identity, network: genesis.hash, expected: expected,
        logger: logger, timeout: .seconds(60))
    }
    let daemon = try ClusterDaemon(
      agent: ClusterAgent(
        id: id, name: name, genesis: genesis, key: key, enrolledDevices: devices),
      cluster: cluster, configuration: c, genesis: genesis, initialModel: simulation.model,
      evaluators: simulation.clusters.filter { $0.heldOut != nil }.map(\.id), nodes: clients,
      directory: state, logger: logger)
    logger.info(
      "\(name) of network \(genesis.network) (\(genesis.hash.short)): \(cluster.data.count) training samples, following \(nodes)"
    )
    let group = ServiceGroup(
      services: [ClusterService(daemon: daemon)], gracefulShutdownSignals: [.sigterm, .sigint],
      logger: logger)
    try await group.run()
  }
}

/// The cluster process's one long-running part.
struct ClusterService: Service {
  let daemon: ClusterDaemon
  func run() async throws {
    do {
      try await cancelWhenGracefulShutdown { try await daemon.run() }
    } catch is CancellationError {}
  }
}
