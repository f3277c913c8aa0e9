import ArgumentParser
import Canonical
import Federation
import Foundation
import Host
import Learning
import Records
import Simulator

struct Simulate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Federated learning across simulated IoT clusters in one process.",
    discussion: """
      Splits the dataset over clusters, then runs rounds: sampled clusters train locally and \
      send updates, the strategy aggregates them (rejecting or clipping what it must, with the \
      reason) into the next global model, which is evaluated on the test set. Writes \
      OUTPUT/metrics.jsonl (one JSON object per round), OUTPUT/partition.json, \
      OUTPUT/config.json (the effective configuration, usable with --config) and \
      OUTPUT/model.flm. Every round is recorded on a ledger kept by simulated nodes \
      (OUTPUT/ledger/node-N, founded by OUTPUT/genesis.json); each round's model and its receipt \
      go to OUTPUT/models, the last also to OUTPUT/model.receipt.json (docs/ledger.md). \
      Settings come from defaults, then --config FILE (JSON, schema in docs/simulate.md), then \
      flags.
      """)

  @Option(help: "JSON configuration file (docs/simulate.md); flags override it.") var config:
    String?
  @Option(help: "Dataset (as for train; default fashion-mnist).") var dataset: String?
  @Option(help: "Model: mlp, lenet5, cifar-cnn (default lenet5).") var model: String?
  @Option(help: "Seed for partitioning, sampling, attacks and training (default 1).") var seed: Int?
  @Option(help: "Rounds (default 30).") var rounds: Int?
  @Option(help: "Number of clusters (default 10).") var clusters: Int?
  @Option(help: "Clusters trained at once (default: all cores).") var threads: Int?
  @Option(help: "Evaluate every N rounds and after the last (default 1).") var evaluateEvery: Int?
  @Option(help: "Evaluate on only the first N test samples.") var testLimit: Int?
  @Option(help: "Partitioner: iid, dirichlet, shards (default dirichlet).") var partition: String?
  @Option(help: "Dirichlet concentration (default 0.5).") var alpha: Double?
  @Option(help: "Classes per cluster for shards (default 2).") var classesPerCluster: Int?
  @Option(help: "Local epochs per round (default 1).") var localEpochs: Int?
  @Option(help: "Local batch size (default 32).") var batchSize: Int?
  @Option(name: .customLong("lr"), help: "Local learning rate (default 0.01).") var learningRate:
    Double?
  @Option(help: "Local SGD momentum (default 0.9; a fresh optimiser each round).") var momentum:
    Double?
  @Option(help: "Local weight decay (default 0).") var weightDecay: Double?
  @Option(help: "FedProx proximal weight mu (default 0; 0.01 with --strategy fedprox).") var mu:
    Double?
  @Option(
    help: "Strategy: fedavg, fedprox, median, trimmed-mean, krum, multi-krum (default fedavg).")
  var strategy: String?
  @Option(help: "Weights in averages: samples or equal (default samples).") var weighting: String?
  @Option(help: "Trimmed-mean fraction cut at each end (default 0.1).") var beta: Double?
  @Option(name: .customLong("krum-f"), help: "Attackers Krum tolerates (default 1).") var krumF:
    Int?
  @Option(help: "Updates Multi-Krum keeps (default: updates in the round - f).") var krumSelect:
    Int?
  @Option(help: "Clip every update to this L2 norm (default none).") var normBound: Double?
  @Option(
    help:
      "Fewest updates a round aggregates, or it aborts (default 3, or every cluster asked when fewer are)."
  )
  var minimumCohort: Int?
  @Option(
    help:
      "Most samples one update may claim; a larger claim is rejected (default: the largest cluster's data)."
  )
  var sampleCap: Int?
  @Option(help: "Server optimiser: plain, fedavgm, fedadam (default plain).") var server: String?
  @Option(help: "Server learning rate (fedavgm 1, fedadam 0.01).") var serverLr: Double?
  @Option(help: "Server momentum for fedavgm (default 0.9).") var serverMomentum: Double?
  @Option(
    help: "Attack: none, sign-flip, scaling, noise, label-flip, free-rider, inflate-samples.")
  var attack: String?
  @Option(help: "Fraction of clusters that attack (default 0.3 when attacking).")
  var attackFraction: Double?
  @Option(help: "Attack factor: sign-flip sends -k x update (4), scaling k x update (10).")
  var attackFactor: Double?
  @Option(help: "Noise attack standard deviation (default 1).") var attackSigma: Double?
  @Option(help: "Fraction of clusters sampled each round (default 1).") var sampleFraction: Double?
  @Option(help: "Probability a sampled cluster drops out (default 0).") var dropout: Double?
  @Option(help: "Straggler deadline in simulated seconds (default none).") var deadline: Double?
  @Option(help: "Spread (log-normal sigma) of cluster speeds (default 0.5).") var speedSpread:
    Double?
  @Option(name: .shortAndLong, help: "Output directory (default runs/simulate).") var output:
    String?
  @Option(help: "Simulated ledger nodes, each keeping its own ledger copy (default 4).")
  var nodes: Int?
  @Option(help: "Endorsements a model needs, k of the nodes (default: a majority).")
  var endorsementThreshold: Int?
  @Flag(help: "Record nothing on a ledger (no genesis, blocks or receipts).") var noLedger = false
  @Option(
    help:
      "Who can read updates: tee (default: only attested enclaves, which aggregate them), secagg (clusters mask their updates with SecAgg+; the nodes learn only the sum; needs the mean and a norm bound) or none (aggregated in the clear)."
  )
  var privacy: String?
  @Option(
    help:
      "Under --privacy secagg: harary (SecAgg+'s sparse graph, default; the full graph for cohorts too small for its bounds) or full (every cluster the neighbour of every other, as SecAgg)."
  )
  var secaggGraph: String?
  @Option(
    help:
      "Nodes whose hosts forge an endorsement of another model with their simulated platform key, to show that divergent endorsements cannot commit a model (default 0)."
  )
  var byzantineNodes: Int?
  @Option(
    help:
      "Share of each cluster's data it keeps apart to judge global models on (federated evaluation; default 0.1, 0 for none)."
  )
  var heldOut: Double?
  @Option(help: "Federated evaluation every N rounds, and after the last (default 2).")
  var federatedEvery: Int?
  @Option(
    help: "How clusters' evaluation reports combine: mean (sample-weighted, default) or median.")
  var federatedCombine: String?
  @Option(
    help:
      "The enclave program (default: fedledger-enclave next to this executable; if absent, the enclave code runs in this process)."
  )
  var enclaveProgram: String?
  @Option(
    help:
      "Devices per cluster: two-tier FL, each device training on its own share of its cluster's data and the gateway combining them (default 0: no device tier)."
  )
  var devices: Int?
  @Option(help: "How a cluster's data is split over its devices: iid (default), dirichlet, shards.")
  var devicePartition: String?
  @Option(help: "Dirichlet alpha of the split over devices (default 0.5).") var deviceAlpha: Double?
  @Option(help: "Device-to-edge aggregations per round before the gateway sends (default 1).")
  var edgeIterations: Int?
  @Option(
    help: "How a gateway combines its devices' updates: mean (default), median, trimmed-mean.")
  var edgeRule: String?
  @Option(help: "Probability that an asked device does not answer (default 0).")
  var deviceDropout: Double?
  @Option(
    help:
      "Simulated seconds after which a device's update is too late for its edge iteration (default none)."
  )
  var deviceDeadline: Double?
  @Option(help: "Attack run by a share of every cluster's devices (as --attack).")
  var deviceAttack: String?
  @Option(help: "Share of each cluster's devices that attack (default 0.3 with --device-attack).")
  var deviceAttackFraction: Double?
  @Flag(help: "Print no per-cluster histograms.") var quiet = false

  /// The flags as dotted configuration keys.
  private var flagValues: [(key: String, flag: String, value: Any?)] {
    [
      ("dataset", "--dataset", dataset), ("model", "--model", model), ("seed", "--seed", seed),
      ("rounds", "--rounds", rounds), ("clusters", "--clusters", clusters),
      ("threads", "--threads", threads), ("evaluateEvery", "--evaluate-every", evaluateEvery),
      ("testLimit", "--test-limit", testLimit), ("partition.kind", "--partition", partition),
      ("partition.alpha", "--alpha", alpha),
      ("partition.classesPerCluster", "--classes-per-cluster", classesPerCluster),
      ("local.epochs", "--local-epochs", localEpochs),
      ("local.batchSize", "--batch-size", batchSize),
      ("local.learningRate", "--lr", learningRate), ("local.momentum", "--momentum", momentum),
      ("local.weightDecay", "--weight-decay", weightDecay), ("local.proximalMu", "--mu", mu),
      ("strategy.rule", "--strategy", strategy), ("strategy.weighting", "--weighting", weighting),
      ("strategy.beta", "--beta", beta), ("strategy.f", "--krum-f", krumF),
      ("strategy.select", "--krum-select", krumSelect),
      ("strategy.normBound", "--norm-bound", normBound),
      ("strategy.minimumCohort", "--minimum-cohort", minimumCohort),
      ("strategy.sampleCap", "--sample-cap", sampleCap), ("strategy.server", "--server", server),
      ("strategy.serverLearningRate", "--server-lr", serverLr),
      ("strategy.serverMomentum", "--server-momentum", serverMomentum),
      ("attack.kind", "--attack", attack), ("attack.fraction", "--attack-fraction", attackFraction),
      ("attack.factor", "--attack-factor", attackFactor),
      ("attack.sigma", "--attack-sigma", attackSigma),
      ("participation.fraction", "--sample-fraction", sampleFraction),
      ("participation.dropout", "--dropout", dropout),
      ("participation.deadline", "--deadline", deadline),
      ("participation.speedSpread", "--speed-spread", speedSpread),
      ("output.directory", "--output", output), ("ledger.nodes", "--nodes", nodes),
      ("ledger.endorsementThreshold", "--endorsement-threshold", endorsementThreshold),
      ("ledger.enabled", "--no-ledger", noLedger ? false : nil),
      ("privacy.mode", "--privacy", privacy), ("privacy.graph", "--secagg-graph", secaggGraph),
      ("ledger.byzantineNodes", "--byzantine-nodes", byzantineNodes),
      ("evaluation.heldOut", "--held-out", heldOut),
      ("evaluation.every", "--federated-every", federatedEvery),
      ("evaluation.combine", "--federated-combine", federatedCombine),
      ("devices.perCluster", "--devices", devices),
      ("devices.partition.kind", "--device-partition", devicePartition),
      ("devices.partition.alpha", "--device-alpha", deviceAlpha),
      ("devices.edgeIterations", "--edge-iterations", edgeIterations),
      ("devices.edgeRule", "--edge-rule", edgeRule),
      ("devices.dropout", "--device-dropout", deviceDropout),
      ("devices.deadline", "--device-deadline", deviceDeadline),
      ("devices.attack.kind", "--device-attack", deviceAttack),
      ("devices.attack.fraction", "--device-attack-fraction", deviceAttackFraction),
    ]
  }

  func run() async throws {
    do {
      try await simulate()
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  func resolveConfiguration() throws -> SimulationConfiguration {
    var file: Data?
    if let config {
      guard let data = FileManager.default.contents(atPath: config) else {
        throw ConfigurationError(source: config, key: "(file)", problem: "cannot be read")
      }
      file = data
    }
    var values: [String: Any] = [:]
    var sources: [String: String] = [:]
    for (key, flag, value) in flagValues {
      guard let value else { continue }
      values[key] = value
      sources[key] = "flag \(flag)"
    }
    return try SimulationConfiguration.resolve(
      file: file, source: config ?? "configuration", overrides: values, sources: sources)
  }

  private func simulate() async throws {
    let c = try resolveConfiguration()
    let train = try DatasetLoader.load(c.dataset, split: .train)
    // A consortium usually has no central test set: then only the clusters judge the model.
    var test =
      DatasetLoader.hasTestSplit(c.dataset) ? try DatasetLoader.load(c.dataset, split: .test) : nil
    if let limit = c.testLimit, let t = test, limit < t.count { test = t.subset(Array(0..<limit)) }
    let simulation = try Simulation(configuration: c, train: train, test: test)
    let directory = URL(fileURLWithPath: c.output.directory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let configEncoder = JSONEncoder()
    configEncoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try configEncoder.encode(c).write(
      to: directory.appendingPathComponent("config.json"), options: .atomic)
    try writeJSON(
      simulation.histograms, to: directory.appendingPathComponent("partition.json"))
    let devicesURL = directory.appendingPathComponent("devices.json")
    try? FileManager.default.removeItem(at: devicesURL)
    if c.devices.enabled { try writeJSON(simulation.deviceHistograms, to: devicesURL) }

    print(
      "simulate: \(simulation.model.architecture.name) on \(train.name), \(c.clusters) clusters "
        + "(\(c.partition)), \(c.rounds) rounds, strategy \(simulation.strategy.description)")
    print(
      "  local: \(c.local.epochs) epoch(s), batch \(c.local.batchSize), sgd lr \(c.local.learningRate) "
        + "momentum \(c.local.momentum)\(c.local.proximalMu > 0 ? ", fedprox mu \(c.local.proximalMu)" : "")"
        + "; sampled \(Int(c.participation.fraction * 100))%/round, dropout \(c.participation.dropout)"
        + (c.participation.deadline.map { ", deadline \($0) s" } ?? ""))
    let rules = simulation.rules
    print(
      "  rules: \(rules.ruleName), weighting \(rules.weighting.rawValue), minimum cohort \(rules.minimumCohort), sample cap \(rules.sampleCap) per update"
    )
    if rules.minimumCohort < RoundRules.defaultMinimumCohort {
      print(
        "  warning: a minimum cohort of \(rules.minimumCohort) lets an aggregate come close to one cluster's update"
      )
    }
    if let attack = c.attack.kind {
      print(
        "  attack: \(attack) by clusters \(simulation.attackers.map(String.init).joined(separator: ", "))"
      )
    }
    if !quiet { printHistograms(simulation, classes: train.classCount) }
    if c.devices.enabled { printDevices(simulation, c.devices) }

    // Ledger files of an earlier run here belong to another network: never leave them beside
    // this run's model.
    let stale =
      ["model.receipt.json"] + (c.ledger.enabled ? [] : ["genesis.json", "ledger", "models"])
    for name in stale {
      try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
    }
    var recorder: SimulatedNetwork?
    if c.ledger.enabled {
      let r = try SimulatedNetwork(
        directory: directory.path, configuration: c, clusters: c.clusters,
        initialModel: simulation.model, rules: simulation.rules,
        evaluation: simulation.evaluationRules,
        devices: simulation.clusters.map { $0.edge?.devices.count ?? 1 },
        enclaves: enclaveProgram.map { .program($0) } ?? .automatic)
      simulation.backend = r
      recorder = r
      print(
        "  ledger: \(c.ledger.nodes) nodes (embedded ordering), a model commits with \(r.genesis.endorsementThreshold) of \(r.genesis.endorsers.count) endorsements; "
          + "genesis \(r.network.short) in \(directory.path)/genesis.json")
      if let m = r.measurement {
        let placement =
          r.enclavePlacement == .process
          ? "one fedledger-enclave process per node"
          : "enclave code in this process (fedledger-enclave not found next to fedledger)"
        print(
          "  privacy tee: SIMULATED ENCLAVES, NO HARDWARE PROTECTION (\(placement)); measurement \(Hex.encode(m).prefix(16))...; "
            + "group key shared after mutual attestation and checked by each of the \(c.clusters) clusters"
        )
        if c.ledger.byzantineNodes > 0 {
          print(
            "  byzantine: the hosts of \((c.ledger.nodes - c.ledger.byzantineNodes..<c.ledger.nodes).map { "node-\($0)" }.joined(separator: ", ")) forge endorsements of another model with their simulated platform keys"
          )
        }
      } else if c.privacy.mode == .secagg {
        print(
          "  privacy secagg: clusters mask their updates (SecAgg+, every step on the ledger); the nodes unmask only the sum; node keys endorse"
        )
      } else {
        print("  privacy none: updates are aggregated in the clear; node keys endorse")
      }
    }
    defer { recorder?.shutdown() }

    let metricsURL = directory.appendingPathComponent("metrics.jsonl")
    _ = FileManager.default.createFile(atPath: metricsURL.path, contents: nil)
    let metrics = try FileHandle(forWritingTo: metricsURL)
    defer { try? metrics.close() }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    // A diverged model has infinite or NaN losses; JSON has no such numbers.
    encoder.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    let started = Date()
    var records: [RoundRecord] = []
    // The best model by federated validation, kept to be written next to the last one.
    var best: (round: Int, accuracy: Double, model: Model)?
    for round in 1...c.rounds {
      let record = try await simulation.runRound(round) { event in
        if case .clusterFinished(let r, _, let done, let total) = event {
          Terminal.status("round \(r)/\(c.rounds)  trained \(done)/\(total) clusters")
        }
      }
      Terminal.clearStatus()
      records.append(record)
      if let f = record.federated, f.clusters > 0, best == nil || f.accuracy > best!.accuracy {
        best = (round, f.accuracy, simulation.model)
      }
      try metrics.write(contentsOf: encoder.encode(record) + Data("\n".utf8))
      print(describe(record, of: c.rounds))
      for decision in record.decisions where decision.verdict != .accepted {
        print(
          "    cluster \(decision.cluster) \(decision.verdict.rawValue): \(decision.reason ?? "")")
      }
      for gone in record.missing {
        print("    cluster \(gone.cluster) \(gone.cause.rawValue): \(gone.detail)")
      }
      if let reason = record.aborted { print("    round aborted, the model stays: \(reason)") }
      for refused in record.federated?.refused ?? [] {
        print("    cluster \(refused.cluster) report refused: \(refused.reason)")
      }
    }
    let modelURL = directory.appendingPathComponent("model.flm")
    let hash = try ModelFile.write(simulation.model, to: modelURL.path)
    print(summary(records, simulation: simulation, seconds: Date().timeIntervalSince(started)))
    let bestURL = directory.appendingPathComponent("best-model.flm")
    try? FileManager.default.removeItem(at: bestURL)
    if let best {
      let bestHash = try ModelFile.write(best.model, to: bestURL.path)
      print(
        String(
          format: "  best by federated validation: round %d, %.2f%% (%@, sha256:%@)%@",
          best.round, best.accuracy * 100, bestURL.path, String(bestHash.prefix(16)),
          c.ledger.enabled
            ? String(format: "; its receipt: models/round-%03d.receipt.json", best.round) : ""))
    }
    if let recorder, !recorder.enclaves.isEmpty {

      let enclaves = records.reduce(0) { $0 + $1.enclaveSeconds }
      let ledger = records.reduce(0) { $0 + $1.ledgerSeconds }
      let wall = records.reduce(0) {
        $0 + $1.trainSeconds + $1.aggregateSeconds + $1.ledgerSeconds + $1.evaluateSeconds
      }
      let overhead = enclaves + recorder.sealingSeconds
      print(
        String(
          format:
            "  enclaves         %.2f s in enclaves (open, validate, aggregate, sign; %d nodes) + %.2f s sealing by clusters = %.1f%% of %.1f s of rounds; with the whole ledger (%.2f s, endorsements included) %.1f%%",
          enclaves, recorder.enclaves.count, recorder.sealingSeconds, 100 * overhead / wall, wall,
          ledger, 100 * (overhead + ledger - recorder.sealingSeconds) / wall))
    }
    print("saved \(modelURL.path), metrics \(metricsURL.path)\nmodel hash sha256:\(hash)")
    if let recorder, let last = recorder.receipts.max(by: { $0.key < $1.key })?.value {
      let receiptURL = directory.appendingPathComponent("model.receipt.json")
      try? FileManager.default.removeItem(at: receiptURL)
      try FileManager.default.copyItem(atPath: last, toPath: receiptURL.path)
      let heads = Set(recorder.orderer.heads.map(\.head))
      print(
        "ledger head \(recorder.head.hex) at height \(recorder.height): \(recorder.blocks) blocks, "
          + "\(recorder.transactions) transactions; all \(recorder.orderer.replicas.count) nodes "
          + (heads.count == 1 ? "agree" : "DISAGREE"))
      print(
        "receipt \(receiptURL.path) (one per round in \(directory.path)/models)\n"
          + "check it: fedledger verify --genesis \(directory.path)/genesis.json "
          + "--receipt \(receiptURL.path) --model \(modelURL.path)")
    }
  }

  private func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
    try encoder.encode(value).write(to: url, options: .atomic)
  }

  private func printHistograms(_ simulation: Simulation, classes: Int) {
    let shown = min(simulation.histograms.count, 20)
    print("  cluster  samples  label histogram (classes 0-\(classes - 1))")
    for id in 0..<shown {
      let counts = simulation.histograms[id]
      let total = counts.reduce(0, +)
      let bars = counts.map { count -> String in
        let levels = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let maximum = max(counts.max() ?? 1, 1)
        return levels[count == 0 ? 0 : max(1, count * 8 / maximum)]
      }.joined()
      let role = simulation.clusters[id].attack.map { "  attacker: \($0)" } ?? ""
      print(
        "  " + pad("\(id)", 7) + "  " + pad("\(total)", 7) + "  |\(bars)|  "
          + counts.map(String.init).joined(separator: " ") + role)
    }
    if simulation.histograms.count > shown {
      print("  ... \(simulation.histograms.count - shown) more clusters in partition.json")
    }
  }

  private func printDevices(_ simulation: Simulation, _ d: DeviceSettings) {
    let counts = simulation.deviceHistograms.map(\.count)
    let sizes = simulation.deviceHistograms.flatMap { $0.map { $0.reduce(0, +) } }.sorted()
    guard let smallest = sizes.first, let largest = sizes.last else { return }
    print(
      "  devices: \(sizes.count) in all, \(counts.min() ?? 0)-\(counts.max() ?? 0) per cluster (\(d.partition) within each); "
        + "\(smallest)-\(largest) samples per device (median \(sizes[sizes.count / 2])); "
        + "edge: \(d.edgeIterations) iteration(s) a round, rule \(d.edgeRule)"
        + (d.edgeNormBound.map { ", norm bound \($0)" } ?? "")
        + ", \(Int(d.fraction * 100))% of devices asked"
        + (d.dropout > 0 ? ", dropout \(d.dropout)" : "")
        + (d.deadline.map { ", deadline \($0) s (device speeds spread \(d.speedSpread))" } ?? "")
        + (d.attack.kind.map {
          "; attack: \($0) by \(Int(d.attack.fraction * 100))% of each cluster's devices"
        } ?? "")
        + "; label counts per device in devices.json")
  }

  private func describe(_ r: RoundRecord, of rounds: Int) -> String {
    var parts = ["round \(r.round)/\(rounds)"]
    if let accuracy = r.accuracy, let loss = r.loss {
      parts.append(String(format: "acc %.2f%%  loss %.4f", accuracy * 100, loss))
    }
    if let f = r.federated {
      parts.append(
        f.clusters > 0
          ? String(
            format: "fed acc %.2f%% (%d clusters, %d samples%@)", f.accuracy * 100, f.clusters,
            f.samples, f.recorded ? ", on the ledger" : "")
          : "fed acc - (\(f.unmeasured ?? "no valid report"))")
    }
    if let trainLoss = r.trainLoss { parts.append(String(format: "train loss %.4f", trainLoss)) }
    parts.append("accepted \(r.accepted)  rejected \(r.rejected)  clipped \(r.clipped)")
    if r.aborted != nil { parts.append("ABORTED") }
    let dropped = r.missing.filter { $0.cause == .dropped }.count
    let late = r.missing.count - dropped
    if dropped + late > 0 { parts.append("dropped \(dropped)  late \(late)") }
    if let e = r.edge {
      parts.append(
        "devices \(e.devices)"
          + (e.dropped + e.late + e.clipped + e.refused > 0
            ? " (dropped \(e.dropped), late \(e.late), clipped \(e.clipped), refused \(e.refused))"
            : ""))
    }
    parts.append(String(format: "train %.1fs  aggregate %.3fs", r.trainSeconds, r.aggregateSeconds))
    if r.enclaveSeconds > 0 { parts.append(String(format: "(enclaves %.3fs)", r.enclaveSeconds)) }
    if r.ledgerSeconds > 0 { parts.append(String(format: "ledger %.3fs", r.ledgerSeconds)) }
    return parts.joined(separator: "  ")
  }

  /// One row per round (at most 20, evenly spaced, always the first and last).
  private func roundTable(_ records: [RoundRecord]) -> [String] {
    let step = max(1, (records.count + 19) / 20)
    let shown = records.indices.filter { $0 % step == 0 || $0 == records.count - 1 }
    var rows = [
      "  round  accuracy  fed acc    loss  accepted  rejected  clipped  missing  train s  aggregate s"
    ]
    for i in shown {
      let r = records[i]
      rows.append(
        "  " + pad("\(r.round)", 5)
          + pad(r.accuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-", 10)
          + pad(
            r.federated.flatMap {
              $0.clusters > 0 ? String(format: "%.2f%%", $0.accuracy * 100) : nil
            }
              ?? "-", 9)
          + pad(r.loss.map { String(format: "%.4f", $0) } ?? "-", 8) + pad("\(r.accepted)", 10)
          + pad("\(r.rejected)", 10) + pad("\(r.clipped)", 9) + pad("\(r.missing.count)", 9)
          + pad(String(format: "%.1f", r.trainSeconds), 9)
          + pad(String(format: "%.3f", r.aggregateSeconds), 13))
    }
    return rows + [""]
  }

  private func summary(_ records: [RoundRecord], simulation: Simulation, seconds: Double) -> String
  {
    let attackers = Set(simulation.attackers)
    var lines = ["", "summary"] + roundTable(records)
    let evaluated = records.filter { $0.accuracy != nil }
    if let last = evaluated.last, let best = evaluated.max(by: { $0.accuracy! < $1.accuracy! }) {
      lines.append(
        String(
          format: "  final accuracy   %.2f%% (round %d); best %.2f%% (round %d)",
          last.accuracy! * 100, last.round, best.accuracy! * 100, best.round))
    }
    let judged = records.filter { ($0.federated?.clusters ?? 0) > 0 }
    if let last = judged.last?.federated,
      let best = judged.max(by: { $0.federated!.accuracy < $1.federated!.accuracy })?.federated
    {
      lines.append(
        String(
          format:
            "  federated        %.2f%% (round %d, %@ over %d clusters and %d held-out samples); best %.2f%% (round %d)",
          last.accuracy * 100, last.round, last.combination, last.clusters, last.samples,
          best.accuracy * 100, best.round))
      let federatedSeconds = records.reduce(0) { $0 + $1.federatedSeconds }
      let wall = records.reduce(0) {
        $0 + $1.trainSeconds + $1.aggregateSeconds + $1.ledgerSeconds + $1.evaluateSeconds
      }
      lines.append(
        String(
          format: "  fed. evaluation  %.2f s by the clusters%@ (%.1f%% of %.1f s of rounds)",
          federatedSeconds,
          last.recorded
            ? " and the ledger (reports \(simulation.configuration.privacy.mode == .tee ? "sealed to the enclaves" : "in the clear"), combined by the nodes' aggregators, metric committed with k endorsements)"
            : "", 100 * federatedSeconds / max(wall, 1e-9), wall))
    }
    var honestSeen = 0
    var honestRejected = 0
    var attackerSeen = 0
    var attackerRejected = 0
    var clipped = 0
    for record in records {
      for d in record.decisions {
        if d.verdict == .clipped { clipped += 1 }
        if attackers.contains(d.cluster) {
          attackerSeen += 1
          if d.verdict == .rejected { attackerRejected += 1 }
        } else {
          honestSeen += 1
          if d.verdict == .rejected { honestRejected += 1 }
        }
      }
    }
    lines.append("  honest updates   \(honestSeen), rejected \(honestRejected)")
    if !attackers.isEmpty {
      lines.append("  attacker updates \(attackerSeen), rejected \(attackerRejected)")
    }
    lines.append("  clipped updates  \(clipped)")
    let missing = records.reduce(0) { $0 + $1.missing.count }
    lines.append("  missing updates  \(missing) (dropouts and stragglers)")
    let train = records.reduce(0) { $0 + $1.trainSeconds }
    let aggregate = records.reduce(0) { $0 + $1.aggregateSeconds }
    let evaluate = records.reduce(0) { $0 + $1.evaluateSeconds }
    let ledger = records.reduce(0) { $0 + $1.ledgerSeconds }
    lines.append(
      String(
        format:
          "  time             %.1f s (training %.1f s, aggregation %.2f s, ledger %.2f s, evaluation %.1f s)",
        seconds, train, aggregate, ledger, evaluate))
    if records.contains(where: { $0.edge != nil }) {
      let edge = records.reduce(0) { $0 + ($1.edge?.seconds ?? 0) }
      let enclaves = records.reduce(0) { $0 + $1.enclaveSeconds }
      lines.append(
        String(
          format:
            "  device tier      device training %.1f s, edge aggregation %.2f s (summed over gateways), enclaves %.2f s, ledger %.2f s",
          train, edge, enclaves, ledger))
    }
    return lines.joined(separator: "\n")
  }
}
