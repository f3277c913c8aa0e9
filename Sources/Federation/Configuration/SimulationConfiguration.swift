import Foundation
import Records

/// Everything a simulation needs to know: a JSON document of typed sections (docs/simulate.md).
///
/// Each section decodes and checks its own keys and encodes back to the same schema, so a
/// run's `config.json` repeats it with `--config`; the rules that span sections (Krum's f
/// against the clusters, privacy tee against the ledger and the cohort, k of n) are checked
/// here, after every section has decoded.
public struct SimulationConfiguration: Codable, Sendable, Equatable {
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
  public var partition = Partitioner.dirichlet(alpha: 0.5)
  public var local = LocalTraining()
  public var strategy = StrategySettings()
  public var attack = AttackSettings()
  public var participation = ParticipationSettings()
  public var output = OutputSettings()
  public var ledger = LedgerSettings()
  public var privacy = PrivacySettings()
  public var evaluation = EvaluationSettings()
  public var devices = DeviceSettings()

  public init() {}

  /// The k of n a model needs: the configured threshold or a majority of the nodes.
  public var effectiveEndorsementThreshold: Int {
    ledger.endorsementThreshold ?? ledger.nodes / 2 + 1
  }

  /// How many clusters attack.
  public var attackerCount: Int {
    attack.kind == nil ? 0 : min(clusters, Int((attack.fraction * Double(clusters)).rounded()))
  }

  /// Clusters asked to train each round.
  public var sampledPerRound: Int {
    max(1, Int((participation.fraction * Double(clusters)).rounded()))
  }

  /// The fewest updates a round aggregates: the configured one, else 3, or every cluster asked
  /// when fewer are asked.
  public var effectiveMinimumCohort: Int {
    strategy.minimumCohort ?? min(RoundRules.defaultMinimumCohort, sampledPerRound)
  }

  public func makeStrategy(sampleCap: UInt64? = nil) -> StandardStrategy {
    StandardStrategy(
      rule: strategy.rule, weighting: strategy.weighting, normBound: strategy.normBound,
      server: strategy.server, sampleCap: sampleCap ?? strategy.sampleCap,
      minimumCohort: effectiveMinimumCohort)
  }

  // MARK: The document

  static let keys = [
    "dataset", "model", "seed", "rounds", "clusters", "threads", "evaluateEvery", "testLimit",
    "partition", "local", "strategy", "attack", "participation", "output", "ledger", "privacy",
    "evaluation", "devices",
  ]

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: Self.keys)
    self.init()
    if let v = try r.string("dataset") { dataset = v }
    if let v = try r.string("model") { model = v }
    if let v = try r.int("seed", min: 0) { seed = UInt64(v) }
    if let v = try r.int("rounds", min: 1) { rounds = v }
    if let v = try r.int("clusters", min: 1) { clusters = v }
    if let v = try r.int("threads", min: 1) { threads = v }
    if let v = try r.int("evaluateEvery", min: 1) { evaluateEvery = v }
    if r.has("testLimit") { testLimit = try r.int("testLimit", min: 1, nullable: true) }
    partition = try r.section("partition", Partitioner.self) ?? partition
    local = try r.section("local", LocalTraining.self) ?? local
    strategy = try r.section("strategy", StrategySettings.self) ?? strategy
    attack = try r.section("attack", AttackSettings.self) ?? attack
    participation = try r.section("participation", ParticipationSettings.self) ?? participation
    output = try r.section("output", OutputSettings.self) ?? output
    ledger = try r.section("ledger", LedgerSettings.self) ?? ledger
    privacy = try r.section("privacy", PrivacySettings.self) ?? privacy
    evaluation = try r.section("evaluation", EvaluationSettings.self) ?? evaluation
    devices = try r.section("devices", DeviceSettings.self) ?? devices
    try settle(r)
  }

  /// The norm bound privacy secagg clips updates to when the configuration sets none.
  public static let secureAggregationNormBound: Float = 10

  /// The rules that span sections, and defaults that depend on another section. Each error
  /// names the key the value came from (`r` reads the top level, so keys are full paths).
  private mutating func settle(_ r: SettingsReader) throws {
    // FedProx is the mean with a proximal term: 0.01 unless the file or a flag sets it.
    if strategy.proximal && !r.given("local.proximalMu") { local.proximalMu = 0.01 }
    if case .krum(let f, _) = strategy.rule, f * 2 + 2 >= clusters {
      throw r.error(
        "strategy.f", "is \(f): Krum needs more than 2f + 2 clusters (have \(clusters))")
    }
    if privacy.mode == .tee && !ledger.enabled {
      // Without a ledger nothing can record enclave endorsements: the default falls back to
      // none; asking for tee explicitly is an error.
      guard !r.given("privacy.mode") else {
        throw r.error(
          "privacy.mode",
          "is tee, which needs the ledger (enclaves endorse on it): drop --no-ledger")
      }
      privacy.mode = .none
    }
    if let problem = privacy.mode.type.unsupported(server: strategy.server) {
      throw r.error("strategy.server", "is \(strategy.server); \(problem)")
    }
    if privacy.mode == .secagg {
      // A bound each cluster clips itself to: a default far above a round's update norms
      // here (so it changes nothing), unless the configuration sets one.
      if strategy.normBound == nil && !r.given("strategy.normBound") {
        strategy.normBound = Self.secureAggregationNormBound
      }
      guard ledger.enabled else {
        throw r.error(
          "privacy.mode", "is secagg, which records each step on the ledger: drop --no-ledger")
      }
      if let problem = privacy.mode.type.unsupported(
        rule: strategy.rule, normBound: strategy.normBound)
      {
        throw r.error(strategy.normBound == nil ? "strategy.normBound" : "strategy.rule", problem)
      }
    }
    let byzantine = ledger.byzantineNodes
    if byzantine > 0 && (privacy.mode != .tee || byzantine >= ledger.nodes) {
      throw r.error(
        "ledger.byzantineNodes",
        "is \(byzantine); Byzantine nodes need privacy tee and fewer than the \(ledger.nodes) nodes"
      )
    }
    let cohort = effectiveMinimumCohort
    if cohort > sampledPerRound {
      throw r.error(
        "strategy.minimumCohort",
        "is \(cohort), but only \(sampledPerRound) cluster(s) are asked to train each round: every round would abort"
      )
    }
    if privacy.mode != .none && ledger.enabled && cohort < RoundRules.defaultMinimumCohort {
      throw r.error(
        "strategy.minimumCohort",
        "is \(cohort); privacy \(privacy.mode.rawValue) needs at least 3, so that no one member's cluster and a victim's make a cohort\(cohort == sampledPerRound ? " (\(sampledPerRound) cluster(s) are asked to train each round)" : "")"
      )
    }
    if case .krum(_, let select?) = strategy.rule, select < cohort {
      throw r.error(
        r.given("strategy.select") ? "strategy.select" : "strategy.rule",
        "keeps \(select) update(s) a round, fewer than the minimum cohort of \(cohort): the model would publish a single cluster's update. Use multi-krum, or a minimum cohort of \(select)"
      )
    }
    let k = effectiveEndorsementThreshold
    if k > ledger.nodes || k <= ledger.nodes / 2 {
      throw r.error(
        r.given("ledger.endorsementThreshold") ? "ledger.endorsementThreshold" : "ledger.nodes",
        "gives k = \(k) of n = \(ledger.nodes): k must be more than half of the nodes (at least \(ledger.nodes / 2 + 1)) and at most n, so two different models can never both be endorsed"
      )
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(dataset, forKey: .init("dataset"))
    try c.encode(model, forKey: .init("model"))
    try c.encode(seed, forKey: .init("seed"))
    try c.encode(rounds, forKey: .init("rounds"))
    try c.encode(clusters, forKey: .init("clusters"))
    try c.encode(threads, forKey: .init("threads"))
    try c.encode(evaluateEvery, forKey: .init("evaluateEvery"))
    try c.encodeIfPresent(testLimit, forKey: .init("testLimit"))
    try c.encode(partition, forKey: .init("partition"))
    try c.encode(local, forKey: .init("local"))
    try c.encode(strategy, forKey: .init("strategy"))
    try c.encode(attack, forKey: .init("attack"))
    try c.encode(participation, forKey: .init("participation"))
    try c.encode(output, forKey: .init("output"))
    try c.encode(ledger, forKey: .init("ledger"))
    try c.encode(privacy, forKey: .init("privacy"))
    try c.encode(evaluation, forKey: .init("evaluation"))
    // Written only when on, so a configuration without devices reads and writes as before.
    if devices.enabled { try c.encode(devices, forKey: .init("devices")) }
  }
}
