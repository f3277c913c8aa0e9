import Records

/// The `evaluation` section: federated evaluation, where clusters judge each committed model
/// on data they keep apart.
public struct EvaluationSettings: Codable, Sendable, Equatable {
  /// Share of each cluster's data kept apart for evaluation, seeded (0: no federated
  /// evaluation).
  public var heldOut = 0.1
  /// Evaluate every this many rounds (and after the last). Every other round by default:
  /// every round costs about 7.6% of the default run's round time, every other one about 4%.
  public var every = 2
  /// Share of clusters asked to evaluate, seeded per round.
  public var fraction = 1.0
  /// How reports combine: the sample-weighted mean, or the median.
  public var combine = ReportCombination.mean
  /// Write each cluster's report to the metrics (per-cluster figures reveal a plant's label mix
  /// and how well the model serves it: private by default).
  public var publish = false
  /// Seconds the clusters have to report after a model commits (with a ledger): the evaluation
  /// closes early only when every enrolled cluster reported, else when this is up.
  public var window = 60

  public init() {}

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(
      decoder, known: ["heldOut", "every", "fraction", "combine", "publish", "window"])
    self.init()
    if let v = try r.double("heldOut", atLeast: 0, below: 1) { heldOut = v }
    if let v = try r.int("every", min: 1) { every = v }
    if let v = try r.double("fraction", above: 0, atMost: 1) { fraction = v }
    if let v = try r.choice("combine", ReportCombination.allCases.map(\.rawValue)) {
      combine = ReportCombination(rawValue: v)!
    }
    if let v = try r.bool("publish") { publish = v }
    if let v = try r.int("window", min: 0) { window = v }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(heldOut, forKey: .init("heldOut"))
    try c.encode(every, forKey: .init("every"))
    try c.encode(fraction, forKey: .init("fraction"))
    try c.encode(combine.rawValue, forKey: .init("combine"))
    try c.encode(publish, forKey: .init("publish"))
    try c.encode(window, forKey: .init("window"))
  }

  /// The evaluation half of the strategy these settings describe.
  public var strategy: StandardEvaluation {
    StandardEvaluation(every: every, fraction: fraction, rule: combine)
  }
}
