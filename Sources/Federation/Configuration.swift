import Foundation
import Records

/// Everything a simulation needs to know; see docs/simulate.md for the file schema.
public struct SimulationConfiguration: Sendable, Equatable {
  public var dataset = "fashion-mnist"
  public var model = "lenet5"
  public var seed: UInt64 = 1
  public var rounds = 30
  public var clusters = 10
  /// Clusters trained at the same time (each on one core).
  public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
  /// Evaluate the global model on the test set every this many rounds (and after the last).
  public var evaluateEvery = 1
  /// Use only the first N test samples (nil: all).
  public var testLimit: Int?
  public var partitioner = Partitioner.dirichlet(alpha: 0.5)
  public var local = LocalTraining()
  public var rule = AggregationRule.mean
  public var weighting = Weighting.samples
  public var normBound: Float?
  /// The fewest updates a round aggregates (nil: 3, or every cluster asked when fewer are).
  public var minimumCohort: Int?
  /// The most samples one update may claim (nil: the largest cluster's training set).
  public var sampleCap: UInt64?
  public var server = ServerOptimizer.plain
  public var attack: Attack?
  /// Fraction of clusters that run the attack.
  public var attackFraction = 0.0
  /// Fraction of clusters asked to train each round.
  public var sampleFraction = 1.0
  /// Probability that an asked cluster does not answer.
  public var dropout = 0.0
  /// Simulated seconds after which updates are too late (nil: no deadline).
  public var deadline: Double?
  /// Median samples per simulated second of a cluster's devices.
  public var nominalSpeed = 1000.0
  /// Standard deviation of the log of cluster speeds (0: all equal).
  public var speedSpread = 0.5
  public var outputDirectory = "runs/simulate"
  /// Record every round on a ledger kept by simulated nodes (docs/ledger.md).
  public var ledgerEnabled = true
  /// Simulated ledger nodes, each with its own copy of the ledger.
  public var ledgerNodes = 4
  /// Distinct endorsements a model needs (nil: a majority of the nodes).
  public var endorsementThreshold: Int?
  /// Who may read an update: `tee` (only attested enclaves, which aggregate it) or `none`
  /// (the aggregating process reads updates in the clear).
  public var privacy = Privacy.tee
  /// Simulated nodes whose hosts tamper with what their enclave aggregates (tests of the
  /// endorsement quorum); their divergent endorsements are recorded as evidence.
  public var byzantineNodes = 0

  public init() {}

  public enum Privacy: String, Sendable, CaseIterable {
    case tee
    case none

    /// What the mode can aggregate, and whether hosts read updates.
    public var mode: any PrivacyMode.Type {
      switch self {
      case .tee: EnclavePrivacy.self
      case .none: NoPrivacy.self
      }
    }
  }

  /// The k of n a model needs: the configured threshold or a majority of the nodes.
  public var effectiveEndorsementThreshold: Int { endorsementThreshold ?? ledgerNodes / 2 + 1 }

  /// How many clusters attack.
  public var attackerCount: Int {
    attack == nil ? 0 : min(clusters, Int((attackFraction * Double(clusters)).rounded()))
  }

  /// Clusters asked to train each round.
  public var sampledPerRound: Int { max(1, Int((sampleFraction * Double(clusters)).rounded())) }

  /// The fewest updates a round aggregates: the configured one, else 3, or every cluster asked
  /// when fewer are asked.
  public var effectiveMinimumCohort: Int {
    minimumCohort ?? min(RoundRules.defaultMinimumCohort, sampledPerRound)
  }

  public func makeStrategy(sampleCap: UInt64? = nil) -> StandardStrategy {
    StandardStrategy(
      rule: rule, weighting: weighting, normBound: normBound, server: server,
      sampleCap: sampleCap ?? self.sampleCap, minimumCohort: effectiveMinimumCohort)
  }
}

/// A configuration value that is missing, of the wrong type or out of range. Names the file (or
/// flag) and key, and what is allowed.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
  public var source: String
  public var key: String
  public var problem: String

  public init(source: String, key: String, problem: String) {
    self.source = source
    self.key = key
    self.problem = problem
  }

  public var description: String { "\(source): '\(key)' \(problem)" }
}

extension SimulationConfiguration {
  /// Every key the configuration accepts, dotted for nested sections.
  public static let keys: [String] = [
    "dataset", "model", "seed", "rounds", "clusters", "threads", "evaluateEvery", "testLimit",
    "partition.kind", "partition.alpha", "partition.classesPerCluster",
    "local.epochs", "local.batchSize", "local.learningRate", "local.momentum",
    "local.weightDecay", "local.proximalMu",
    "strategy.rule", "strategy.weighting", "strategy.beta", "strategy.f", "strategy.select",
    "strategy.normBound", "strategy.minimumCohort", "strategy.sampleCap", "strategy.server",
    "strategy.serverLearningRate",
    "strategy.serverMomentum", "strategy.beta1", "strategy.beta2", "strategy.tau",
    "attack.kind", "attack.fraction", "attack.factor", "attack.sigma",
    "participation.fraction", "participation.dropout", "participation.deadline",
    "participation.nominalSpeed", "participation.speedSpread",
    "output.directory", "ledger.enabled", "ledger.nodes", "ledger.endorsementThreshold",
    "ledger.byzantineNodes", "privacy.mode",
  ]

  /// Flattens a JSON configuration file into dotted keys, rejecting unknown keys.
  public static func flatten(json data: Data, source: String) throws -> [String: Any] {
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: data)
    } catch {
      throw ConfigurationError(
        source: source, key: "(file)", problem: "is not valid JSON: \(error.localizedDescription)")
    }
    guard let root = object as? [String: Any] else {
      throw ConfigurationError(source: source, key: "(file)", problem: "must be a JSON object")
    }
    var flat: [String: Any] = [:]
    func walk(_ dict: [String: Any], prefix: String) throws {
      for (key, value) in dict {
        let path = prefix.isEmpty ? key : prefix + "." + key
        if let nested = value as? [String: Any] {
          try walk(nested, prefix: path)
        } else if keys.contains(path) {
          flat[path] = value
        } else {
          let section = keys.filter { $0.hasPrefix(prefix.isEmpty ? "" : prefix + ".") }
          throw ConfigurationError(
            source: source, key: path,
            problem: "is not a known key; known\(prefix.isEmpty ? "" : " in '\(prefix)'"): "
              + section.joined(separator: ", "))
        }
      }
    }
    try walk(root, prefix: "")
    return flat
  }

  /// Applies dotted `values` (from a file or flags) on top of this configuration.
  /// `sources` names where each key came from, for error messages.
  public mutating func apply(_ values: [String: Any], sources: [String: String]) throws {
    let reader = Reader(values: values, sources: sources)
    if let v = try reader.string("dataset") { dataset = v }
    if let v = try reader.string("model") { model = v }
    if let v = try reader.int("seed", min: 0) { seed = UInt64(v) }
    if let v = try reader.int("rounds", min: 1) { rounds = v }
    if let v = try reader.int("clusters", min: 1) { clusters = v }
    if let v = try reader.int("threads", min: 1) { threads = v }
    if let v = try reader.int("evaluateEvery", min: 1) { evaluateEvery = v }
    if reader.has("testLimit") { testLimit = try reader.int("testLimit", min: 1, nullable: true) }

    let kind = try reader.choice("partition.kind", ["iid", "dirichlet", "shards"])
    let alpha = try reader.double("partition.alpha", above: 0)
    let shards = try reader.int("partition.classesPerCluster", min: 1)
    switch kind ?? partitionKind {
    case "iid": partitioner = .iid
    case "dirichlet": partitioner = .dirichlet(alpha: alpha ?? currentAlpha ?? 0.5)
    default: partitioner = .shards(classesPerCluster: shards ?? currentShards ?? 2)
    }

    if let v = try reader.int("local.epochs", min: 1) { local.epochs = v }
    if let v = try reader.int("local.batchSize", min: 1) { local.batchSize = v }
    if let v = try reader.double("local.learningRate", above: 0) { local.learningRate = Float(v) }
    if let v = try reader.double("local.momentum", atLeast: 0, below: 1) {
      local.momentum = Float(v)
    }
    if let v = try reader.double("local.weightDecay", atLeast: 0) { local.weightDecay = Float(v) }
    if let v = try reader.double("local.proximalMu", atLeast: 0) { local.proximalMu = Float(v) }

    let ruleName = try reader.choice(
      "strategy.rule", ["fedavg", "fedprox", "median", "trimmed-mean", "krum", "multi-krum"])
    let beta = try reader.double("strategy.beta", atLeast: 0, below: 0.5)
    let f = try reader.int("strategy.f", min: 0)
    let select = try reader.int("strategy.select", min: 1, nullable: true)
    switch ruleName {
    case nil:
      if case .trimmedMean = rule, let beta { rule = .trimmedMean(beta: beta) }
      if case .krum(let oldF, let oldSelect) = rule {
        rule = .krum(f: f ?? oldF, select: reader.has("strategy.select") ? select : oldSelect)
      }
    case "fedavg": rule = .mean
    case "fedprox":
      rule = .mean
      if local.proximalMu == 0 && !reader.has("local.proximalMu") { local.proximalMu = 0.01 }
    case "median": rule = .median
    case "trimmed-mean": rule = .trimmedMean(beta: beta ?? 0.1)
    case "krum": rule = .krum(f: f ?? 1, select: 1)
    default: rule = .krum(f: f ?? 1, select: select)
    }
    if case .krum(let effectiveF, _) = rule, effectiveF * 2 + 2 >= clusters {
      throw reader.error(
        "strategy.f",
        "is \(effectiveF): Krum needs more than 2f + 2 clusters (have \(clusters))")
    }
    if let v = try reader.choice("strategy.weighting", Weighting.allCases.map(\.rawValue)) {
      weighting = Weighting(rawValue: v)!
    }
    if reader.has("strategy.normBound") {
      normBound = try reader.double("strategy.normBound", above: 0, nullable: true).map(Float.init)
    }
    if reader.has("strategy.minimumCohort") {
      minimumCohort = try reader.int("strategy.minimumCohort", min: 1, nullable: true)
    }
    if reader.has("strategy.sampleCap") {
      sampleCap = try reader.int("strategy.sampleCap", min: 1, nullable: true).map {
        UInt64($0)
      }
    }
    let serverName = try reader.choice("strategy.server", ["plain", "fedavgm", "fedadam"])
    let serverRate = try reader.double("strategy.serverLearningRate", above: 0).map(Float.init)
    let serverMomentum = try reader.double("strategy.serverMomentum", atLeast: 0, below: 1)
      .map(Float.init)
    let beta1 = try reader.double("strategy.beta1", atLeast: 0, below: 1).map(Float.init)
    let beta2 = try reader.double("strategy.beta2", atLeast: 0, below: 1).map(Float.init)
    let tau = try reader.double("strategy.tau", above: 0).map(Float.init)
    switch serverName {
    case "plain": server = .plain
    case "fedavgm":
      server = .momentum(learningRate: serverRate ?? 1, momentum: serverMomentum ?? 0.9)
    case "fedadam":
      server = .adam(
        learningRate: serverRate ?? 0.01, beta1: beta1 ?? 0.9, beta2: beta2 ?? 0.99,
        tau: tau ?? 1e-3)
    default: break
    }

    let attackKind = try reader.choice("attack.kind", ["none"] + Attack.names)
    let factor = try reader.double("attack.factor", above: 0).map(Float.init)
    let sigma = try reader.double("attack.sigma", above: 0).map(Float.init)
    switch attackKind {
    case "none": attack = nil
    case "sign-flip": attack = .signFlip(factor: factor ?? 4)
    case "scaling": attack = .scaling(factor: factor ?? 10)
    case "noise": attack = .gaussianNoise(sigma: sigma ?? 1)
    case "label-flip": attack = .labelFlip
    case "free-rider": attack = .freeRider
    case "inflate-samples": attack = .inflateSamples
    default: break
    }
    if let v = try reader.double("attack.fraction", atLeast: 0, atMost: 1) { attackFraction = v }
    if attack != nil && attackFraction == 0 && !reader.has("attack.fraction") {
      attackFraction = 0.3
    }

    if let v = try reader.double("participation.fraction", above: 0, atMost: 1) {
      sampleFraction = v
    }
    if let v = try reader.double("participation.dropout", atLeast: 0, below: 1) { dropout = v }
    if reader.has("participation.deadline") {
      deadline = try reader.double("participation.deadline", above: 0, nullable: true)
    }
    if let v = try reader.double("participation.nominalSpeed", above: 0) { nominalSpeed = v }
    if let v = try reader.double("participation.speedSpread", atLeast: 0) { speedSpread = v }
    if let v = try reader.string("output.directory") { outputDirectory = v }
    if let v = try reader.bool("ledger.enabled") { ledgerEnabled = v }
    if let v = try reader.int("ledger.nodes", min: 1) { ledgerNodes = v }
    if reader.has("ledger.endorsementThreshold") {
      endorsementThreshold = try reader.int("ledger.endorsementThreshold", min: 1, nullable: true)
    }
    if let v = try reader.choice("privacy.mode", Privacy.allCases.map(\.rawValue)) {
      privacy = Privacy(rawValue: v)!
    }
    if let v = try reader.int("ledger.byzantineNodes", min: 0) { byzantineNodes = v }
    if privacy == .tee && !ledgerEnabled {
      // Without a ledger nothing can record enclave endorsements: the default falls back to
      // none; asking for tee explicitly is an error.
      guard !reader.has("privacy.mode") else {
        throw reader.error(
          "privacy.mode",
          "is tee, which needs the ledger (enclaves endorse on it): drop --no-ledger")
      }
      privacy = .none
    }
    if let problem = privacy.mode.unsupported(server: server) {
      throw reader.error("strategy.server", "is \(server); \(problem)")
    }

    if byzantineNodes > 0 && (privacy != .tee || byzantineNodes >= ledgerNodes) {
      throw reader.error(
        "ledger.byzantineNodes",
        "is \(byzantineNodes); Byzantine nodes need privacy tee and fewer than the \(ledgerNodes) nodes"
      )
    }
    let cohort = effectiveMinimumCohort
    if cohort > sampledPerRound {
      throw reader.error(
        "strategy.minimumCohort",
        "is \(cohort), but only \(sampledPerRound) cluster(s) are asked to train each round: every round would abort"
      )
    }
    if privacy == .tee && ledgerEnabled && cohort < RoundRules.defaultMinimumCohort {
      throw reader.error(
        "strategy.minimumCohort",
        "is \(cohort); privacy tee needs at least 3, so that no one member's cluster and a victim's make a cohort\(cohort == sampledPerRound ? " (\(sampledPerRound) cluster(s) are asked to train each round)" : "")"
      )
    }
    if case .krum(_, let select?) = rule, select < cohort {
      throw reader.error(
        reader.has("strategy.select") ? "strategy.select" : "strategy.rule",
        "keeps \(select) update(s) a round, fewer than the minimum cohort of \(cohort): the model would publish a single cluster's update. Use multi-krum, or a minimum cohort of \(select)"
      )
    }
    let k = effectiveEndorsementThreshold
    if k > ledgerNodes || k <= ledgerNodes / 2 {
      throw reader.error(
        reader.has("ledger.endorsementThreshold") ? "ledger.endorsementThreshold" : "ledger.nodes",
        "gives k = \(k) of n = \(ledgerNodes): k must be more than half of the nodes (at least \(ledgerNodes / 2 + 1)) and at most n, so two different models can never both be endorsed"
      )
    }
  }

  private var partitionKind: String {
    switch partitioner {
    case .iid: "iid"
    case .dirichlet: "dirichlet"
    case .shards: "shards"
    }
  }
  private var currentAlpha: Double? {
    if case .dirichlet(let alpha) = partitioner { alpha } else { nil }
  }
  private var currentShards: Int? {
    if case .shards(let k) = partitioner { k } else { nil }
  }
}

/// Reads typed, range-checked values out of dotted keys.
private struct Reader {
  let values: [String: Any]
  let sources: [String: String]

  func has(_ key: String) -> Bool { values[key] != nil }

  func error(_ key: String, _ problem: String) -> ConfigurationError {
    ConfigurationError(source: sources[key] ?? "configuration", key: key, problem: problem)
  }

  private func isNull(_ value: Any) -> Bool { value is NSNull }

  func string(_ key: String) throws -> String? {
    guard let value = values[key] else { return nil }
    guard let s = value as? String, !s.isEmpty else {
      throw error(key, "must be a non-empty string, got \(value)")
    }
    return s
  }

  func bool(_ key: String) throws -> Bool? {
    guard let value = values[key] else { return nil }
    if let b = value as? Bool, let n = value as? NSNumber, String(cString: n.objCType) == "c" {
      return b
    }
    if let b = value as? Bool, !(value is NSNumber) { return b }
    if let s = value as? String, s == "true" || s == "false" { return s == "true" }
    throw error(key, "must be true or false, got \(value)")
  }

  func choice(_ key: String, _ allowed: [String]) throws -> String? {
    guard let s = try string(key) else { return nil }
    guard allowed.contains(s) else {
      throw error(key, "must be one of \(allowed.joined(separator: ", ")), got '\(s)'")
    }
    return s
  }

  func number(_ key: String, nullable: Bool) throws -> Double? {
    guard let value = values[key] else { return nil }
    if isNull(value) {
      if nullable { return nil }
      throw error(key, "must be a number, got null")
    }
    if let n = value as? NSNumber {
      guard String(cString: n.objCType) != "c" else {
        throw error(key, "must be a number, got a boolean")
      }
      return n.doubleValue
    }
    if let s = value as? String, let d = Double(s) { return d }
    throw error(key, "must be a number, got \(value)")
  }

  func int(_ key: String, min: Int, nullable: Bool = false) throws -> Int? {
    guard let d = try number(key, nullable: nullable) else { return nil }
    guard d == d.rounded(), d >= Double(min), d <= 1e9 else {
      throw error(key, "must be a whole number from \(min) to 1000000000, got \(d)")
    }
    return Int(d)
  }

  func double(
    _ key: String, above: Double? = nil, atLeast: Double? = nil, below: Double? = nil,
    atMost: Double? = nil, nullable: Bool = false
  ) throws -> Double? {
    guard let d = try number(key, nullable: nullable) else { return nil }
    var rules: [String] = []
    if let above { rules.append("> \(above)") }
    if let atLeast { rules.append(">= \(atLeast)") }
    if let below { rules.append("< \(below)") }
    if let atMost { rules.append("<= \(atMost)") }
    let ok =
      d.isFinite && (above.map { d > $0 } ?? true) && (atLeast.map { d >= $0 } ?? true)
      && (below.map { d < $0 } ?? true) && (atMost.map { d <= $0 } ?? true)
    guard ok else {
      throw error(key, "must be a number \(rules.joined(separator: " and ")), got \(d)")
    }
    return d
  }
}

extension SimulationConfiguration {
  /// The whole configuration in the file schema (nested, typed), so a run can be repeated with
  /// `--config` on this output. Keys that do not apply to the chosen options are left out.
  public var settings: [String: Any] {
    var partition: [String: Any] = [:]
    switch partitioner {
    case .iid: partition["kind"] = "iid"
    case .dirichlet(let alpha): partition = ["kind": "dirichlet", "alpha": alpha]
    case .shards(let k): partition = ["kind": "shards", "classesPerCluster": k]
    }
    var strategy: [String: Any] = ["weighting": weighting.rawValue]
    switch rule {
    case .mean: strategy["rule"] = local.proximalMu > 0 ? "fedprox" : "fedavg"
    case .median: strategy["rule"] = "median"
    case .trimmedMean(let beta): strategy.merge(["rule": "trimmed-mean", "beta": beta]) { $1 }
    case .krum(let f, let select):
      strategy.merge(["rule": select == 1 ? "krum" : "multi-krum", "f": f]) { $1 }
      if let select, select != 1 { strategy["select"] = select }
    }
    if let normBound { strategy["normBound"] = decimal(normBound) }
    if let minimumCohort { strategy["minimumCohort"] = minimumCohort }
    if let sampleCap { strategy["sampleCap"] = sampleCap }
    switch server {
    case .plain: strategy["server"] = "plain"
    case .momentum(let lr, let m):
      strategy.merge([
        "server": "fedavgm", "serverLearningRate": decimal(lr), "serverMomentum": decimal(m),
      ]) { $1 }
    case .adam(let lr, let b1, let b2, let tau):
      strategy.merge([
        "server": "fedadam", "serverLearningRate": decimal(lr), "beta1": decimal(b1),
        "beta2": decimal(b2), "tau": decimal(tau),
      ]) { $1 }
    }
    var attackSection: [String: Any] = ["kind": "none"]
    switch attack {
    case nil: break
    case .signFlip(let k): attackSection = ["kind": "sign-flip", "factor": decimal(k)]
    case .scaling(let k): attackSection = ["kind": "scaling", "factor": decimal(k)]
    case .gaussianNoise(let sigma): attackSection = ["kind": "noise", "sigma": decimal(sigma)]
    case .labelFlip: attackSection = ["kind": "label-flip"]
    case .freeRider: attackSection = ["kind": "free-rider"]
    case .inflateSamples: attackSection = ["kind": "inflate-samples"]
    }
    if attack != nil { attackSection["fraction"] = attackFraction }
    var participation: [String: Any] = [
      "fraction": sampleFraction, "dropout": dropout, "nominalSpeed": nominalSpeed,
      "speedSpread": speedSpread,
    ]
    if let deadline { participation["deadline"] = deadline }
    var root: [String: Any] = [
      "dataset": dataset, "model": model, "seed": seed, "rounds": rounds, "clusters": clusters,
      "threads": threads, "evaluateEvery": evaluateEvery, "partition": partition,
      "local": [
        "epochs": local.epochs, "batchSize": local.batchSize,
        "learningRate": decimal(local.learningRate), "momentum": decimal(local.momentum),
        "weightDecay": decimal(local.weightDecay), "proximalMu": decimal(local.proximalMu),
      ],
      "strategy": strategy, "attack": attackSection, "participation": participation,
      "output": ["directory": outputDirectory],
      "ledger": ledgerSettings,
      "privacy": ["mode": privacy.rawValue],
    ]
    if let testLimit { root["testLimit"] = testLimit }
    return root
  }
}

extension SimulationConfiguration {
  fileprivate var ledgerSettings: [String: Any] {
    var ledger: [String: Any] = ["enabled": ledgerEnabled, "nodes": ledgerNodes]
    if let endorsementThreshold { ledger["endorsementThreshold"] = endorsementThreshold }
    if byzantineNodes > 0 { ledger["byzantineNodes"] = byzantineNodes }
    return ledger
  }
}

/// A Float as the Double with the same shortest decimal form (0.01, not 0.009999999776).
private func decimal(_ value: Float) -> Double { Double("\(value)") ?? Double(value) }
