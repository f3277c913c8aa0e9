import ArgumentParser
import Enclave
import Federation
import Foundation
import Host
import Learning
import Ledger
import Records
import RecordsJSON
import Simulator

/// `fedledger network`: sets up a network that runs as separate processes.
struct NetworkCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "network",
    abstract: "Set up a FedLedger network that runs as separate node and cluster processes.",
    subcommands: [NetworkInit.self])
}

/// `fedledger network init`: genesis, every identity's keys and TLS certificate, and each
/// cluster's signed enrolment, from the same configuration `simulate` reads.
struct NetworkInit: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "init",
    abstract: "Write genesis, keys, TLS certificates and enrolments for a new network.",
    discussion: """
      Writes under OUTPUT: genesis.json; configuration.json (the resolved configuration); \
      initial-model.flm; node-N/, member-N/ and cluster-N/, each with ledger.key, tls.pem and \
      tls.key; and cluster-N/enrolment.tx, the cluster's enrolment signed by member-N. The \
      genesis is the one `simulate` founds for the same configuration (docs/network.md).
      """)

  @Option(help: "Ledger nodes.") var nodes: Int = 4
  @Option(help: "Clusters.") var clusters: Int = 10
  @Option(help: "JSON configuration file (docs/simulate.md).") var config: String?
  @Option(help: "Network name in genesis.") var network = "fedledger"
  @Option(
    help:
      "Host names and addresses the nodes' TLS certificates name (default localhost,127.0.0.1)."
  )
  var hosts = "localhost,127.0.0.1"
  @Option(name: .shortAndLong, help: "Output directory.") var output = "network"
  @Option(
    help:
      "Privacy mode: none (each node reads the updates) or tee (simulated enclaves, NO HARDWARE PROTECTION); default: the configuration's privacy.mode, else none."
  )
  var privacy: String?

  func run() async throws {
    do {
      try initialise()
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  private func initialise() throws {
    guard nodes >= 1, clusters >= 1 else {
      throw ValidationError("--nodes and --clusters must be at least 1")
    }
    var file: Data?
    if let config {
      guard let data = FileManager.default.contents(atPath: config) else {
        throw ConfigurationError(source: config, key: "(file)", problem: "cannot be read")
      }
      file = data
    }
    // Privacy none unless the flag or the file says otherwise (simulate's default is tee).
    let fileSetsPrivacy =
      file.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
      .flatMap { $0["privacy"] as? [String: Any] }?["mode"] != nil
    var overrides: [String: Any] = ["clusters": clusters, "ledger.nodes": nodes]
    if let privacy {
      overrides["privacy.mode"] = privacy
    } else if !fileSetsPrivacy {
      overrides["privacy.mode"] = "none"
    }
    var c = try SimulationConfiguration.resolve(
      file: file, source: config ?? "configuration", overrides: overrides,
      sources: [
        "clusters": "flag --clusters", "ledger.nodes": "flag --nodes",
        "privacy.mode": "flag --privacy",
      ])
    guard c.privacy.mode == .none || c.privacy.mode == .tee else {
      throw ConfigurationError(
        source: config ?? "configuration", key: "privacy.mode",
        problem: "is \(c.privacy.mode); a network of processes runs privacy mode none or tee")
    }
    // Privacy tee: each node's enclave program runs on a simulated platform whose key genesis
    // lists, measured as the program next to this one.
    var platforms: [SimulatedPlatform] = []
    var measurement: [UInt8]?
    if c.privacy.mode == .tee {
      guard let program = EnclaveProgram.locate() else {
        throw ValidationError(
          "privacy tee needs the enclave program \(EnclaveProgram.name) next to this one (swift build builds both)"
        )
      }
      measurement = try Enclave.measure(executable: program)
      guard !FileManager.default.fileExists(atPath: output + "/genesis.json") else {
        throw ValidationError(
          "\(output)/genesis.json exists: a network is founded once; choose another --output")
      }
      try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
      for i in 0..<nodes {
        try FileManager.default.createDirectory(
          atPath: "\(output)/node-\(i)", withIntermediateDirectories: true)
        // A new platform each: a key planted there before would be known to whoever planted it.
        let path = "\(output)/node-\(i)/platform.key"
        guard !FileManager.default.fileExists(atPath: path) else {
          throw ValidationError("\(path) exists: network init makes every node's platform anew")
        }
        platforms.append(try SimulatedPlatform.loadOrCreate(path: path))
      }
    }
    c.output.directory = output
    let train = try DatasetLoader.load(c.dataset, split: .train)
    // Without held-out data nothing federated judges the models: the dataset's test set must.
    let test = c.evaluation.heldOut > 0 ? nil : try DatasetLoader.load(c.dataset, split: .test)
    let simulation = try Simulation(configuration: c, train: train, test: test)
    let fm = FileManager.default
    if fm.fileExists(atPath: output + "/genesis.json") {
      throw ValidationError(
        "\(output)/genesis.json exists: a network is founded once; choose another --output")
    }
    try fm.createDirectory(atPath: output, withIntermediateDirectories: true)
    let members = (0..<max(nodes, clusters)).map { _ in SigningKey() }
    let nodeKeys = (0..<nodes).map { _ in SigningKey() }
    let genesis = try Genesis.consortium(
      network: network, configuration: c, members: members, nodes: nodeKeys,
      enclavePlatforms: platforms.map(\.publicKey), measurement: measurement,
      initialModel: Hash256(hex: simulation.model.hash), rules: simulation.rules,
      evaluation: simulation.evaluationRules)
    try Data(genesis.json()).write(
      to: URL(fileURLWithPath: output + "/genesis.json"), options: .atomic)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try encoder.encode(c).write(
      to: URL(fileURLWithPath: output + "/configuration.json"), options: .atomic)
    try Data(ModelFile.encode(simulation.model)).write(
      to: URL(fileURLWithPath: output + "/initial-model.flm"), options: .atomic)
    let hostList = hosts.split(separator: ",").map(String.init)
    for (i, key) in nodeKeys.enumerated() {
      _ = try IdentityFiles.create(
        name: "node-\(i)", key: key, network: genesis.hash, in: "\(output)/node-\(i)",
        hosts: hostList)
    }
    for (i, key) in members.enumerated() {
      _ = try IdentityFiles.create(
        name: "member-\(i)", key: key, network: genesis.hash, in: "\(output)/member-\(i)",
        hosts: ["localhost"])
    }
    let devices = simulation.clusters.map { UInt32(clamping: max(1, $0.edge?.devices.count ?? 1)) }
    for i in 0..<clusters {
      let key = SigningKey()
      _ = try IdentityFiles.create(
        name: "cluster-\(i)", key: key, network: genesis.hash, in: "\(output)/cluster-\(i)",
        hosts: ["localhost"])
      let enrolment = Transaction.enrolment(
        ClusterEnrolment(
          network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
          member: "member-\(i)", devices: devices[i], memberKey: members[i]))
      try Data(enrolment.canonicalBytes).write(
        to: URL(fileURLWithPath: "\(output)/cluster-\(i)/enrolment.tx"), options: .atomic)
    }
    print(
      "network \(network): genesis \(genesis.hash.short) for \(nodes) nodes (a block needs \(genesis.blockQuorum) signatures, a model \(genesis.endorsementThreshold) endorsements) and \(clusters) clusters, in \(output)/"
    )
  }
}
