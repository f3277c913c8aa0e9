import Records

/// The `strategy` section: the rule that combines updates, their weights and bounds, the
/// minimum cohort and sample cap, and the server optimiser.
public struct StrategySettings: Codable, Sendable, Equatable {
  public var rule = AggregationRule.mean
  public var weighting = Weighting.samples
  /// Updates with a larger L2 norm are scaled down to this norm.
  public var normBound: Float?
  /// The fewest updates a round aggregates (nil: 3, or every cluster asked when fewer are).
  public var minimumCohort: Int?
  /// The most samples one update may claim (nil: the largest cluster's training set).
  public var sampleCap: UInt64?
  public var server = ServerOptimizer.plain
  /// Chosen as `fedprox`: the mean, with a proximal term in local training (`local.proximalMu`
  /// 0.01 unless set).
  public var proximal = false

  public init() {}

  static let rules = ["fedavg", "fedprox", "median", "trimmed-mean", "krum", "multi-krum"]
  static let keys = [
    "rule", "weighting", "beta", "f", "select", "normBound", "minimumCohort", "sampleCap",
    "server", "serverLearningRate", "serverMomentum", "beta1", "beta2", "tau",
  ]

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: Self.keys)
    self.init()
    let beta = try r.double("beta", atLeast: 0, below: 0.5)
    let f = try r.int("f", min: 0)
    let select = try r.int("select", min: 1, nullable: true)
    switch try r.choice("rule", Self.rules) {
    case nil, "fedavg": rule = .mean
    case "fedprox":
      rule = .mean
      proximal = true
    case "median": rule = .median
    case "trimmed-mean": rule = .trimmedMean(beta: beta ?? 0.1)
    case "krum": rule = .krum(f: f ?? 1, select: 1)
    default: rule = .krum(f: f ?? 1, select: select)
    }
    if let v = try r.choice("weighting", Weighting.allCases.map(\.rawValue)) {
      weighting = Weighting(rawValue: v)!
    }
    normBound = try r.float("normBound", above: 0, nullable: true)
    minimumCohort = try r.int("minimumCohort", min: 1, nullable: true)
    sampleCap = try r.int("sampleCap", min: 1, nullable: true).map { UInt64($0) }
    let rate = try r.float("serverLearningRate", above: 0)
    let momentum = try r.float("serverMomentum", atLeast: 0, below: 1)
    let beta1 = try r.float("beta1", atLeast: 0, below: 1)
    let beta2 = try r.float("beta2", atLeast: 0, below: 1)
    let tau = try r.float("tau", above: 0)
    switch try r.choice("server", ["plain", "fedavgm", "fedadam"]) {
    case nil, "plain": server = .plain
    case "fedavgm": server = .momentum(learningRate: rate ?? 1, momentum: momentum ?? 0.9)
    default:
      server = .adam(
        learningRate: rate ?? 0.01, beta1: beta1 ?? 0.9, beta2: beta2 ?? 0.99, tau: tau ?? 1e-3)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    func put<T: Encodable>(_ value: T, _ key: String) throws {
      try c.encode(value, forKey: .init(key))
    }
    try put(weighting.rawValue, "weighting")
    switch rule {
    case .mean: try put(proximal ? "fedprox" : "fedavg", "rule")
    case .median: try put("median", "rule")
    case .trimmedMean(let beta):
      try put("trimmed-mean", "rule")
      try put(beta, "beta")
    case .krum(let f, let select):
      try put(select == 1 ? "krum" : "multi-krum", "rule")
      try put(f, "f")
      if let select, select != 1 { try put(select, "select") }
    }
    if let normBound { try put(decimal(normBound), "normBound") }
    if let minimumCohort { try put(minimumCohort, "minimumCohort") }
    if let sampleCap { try put(sampleCap, "sampleCap") }
    switch server {
    case .plain: try put("plain", "server")
    case .momentum(let rate, let momentum):
      try put("fedavgm", "server")
      try put(decimal(rate), "serverLearningRate")
      try put(decimal(momentum), "serverMomentum")
    case .adam(let rate, let beta1, let beta2, let tau):
      try put("fedadam", "server")
      try put(decimal(rate), "serverLearningRate")
      try put(decimal(beta1), "beta1")
      try put(decimal(beta2), "beta2")
      try put(decimal(tau), "tau")
    }
  }
}
