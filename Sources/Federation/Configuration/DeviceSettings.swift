/// The `devices` section: the tier below each cluster's gateway (hierarchical FL, HierFAVG).
/// Off by default (`perCluster` 0): each cluster is one trainer over its pooled data, exactly
/// as without the section.
public struct DeviceSettings: Codable, Sendable, Equatable {
  /// Devices per cluster (0: no device tier); with `spread`, the median of a log-normal draw.
  public var perCluster = 0
  /// Standard deviation of the log of each cluster's device count (0: every cluster the same).
  public var spread = 0.0
  /// How a cluster's training data is split over its devices.
  public var partition = Partitioner.iid
  /// Share of a cluster's devices asked each edge iteration, seeded.
  public var fraction = 1.0
  /// Device-to-edge aggregations per round before the gateway sends its update (HierFAVG's
  /// kappa1 / kappa2).
  public var edgeIterations = 1
  /// How the gateway combines its devices' updates.
  public var edgeRule = EdgeRule.mean
  /// Device updates with a larger L2 norm are scaled down to it at the edge (nil: no bound).
  public var edgeNormBound: Double?
  /// Probability that an asked device does not answer, seeded.
  public var dropout = 0.0
  /// Simulated seconds after which a device's update is too late for its edge iteration.
  public var deadline: Double?
  /// Standard deviation of the log of each device's speed around its cluster's (0: a cluster's
  /// devices all as fast as it): with `deadline`, the edge tier's stragglers.
  public var speedSpread = 0.5
  /// Devices poisoning inside every cluster: the attack and the share of each cluster's
  /// devices that run it (the cluster tier's attackers are set in `attack`).
  public var attack = AttackSettings()

  public init() {}

  /// Whether clusters train through devices.
  public var enabled: Bool { perCluster > 0 }

  static let keys = [
    "perCluster", "spread", "partition", "fraction", "edgeIterations", "edgeRule", "edgeBeta",
    "edgeNormBound", "dropout", "deadline", "speedSpread", "attack",
  ]

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: Self.keys)
    self.init()
    if let v = try r.int("perCluster", min: 0) {
      guard v <= 1 << 16 else {
        throw r.error("perCluster", "is \(v); a cluster has at most 65,536 devices")
      }
      perCluster = v
    }
    if let v = try r.double("spread", atLeast: 0) { spread = v }
    partition = try r.section("partition", Partitioner.self) ?? partition
    if let v = try r.double("fraction", above: 0, atMost: 1) { fraction = v }
    if let v = try r.int("edgeIterations", min: 1) { edgeIterations = v }
    let beta = try r.double("edgeBeta", atLeast: 0, below: 0.5)
    switch try r.choice("edgeRule", EdgeRule.names) {
    case "median": edgeRule = .median
    case "trimmed-mean": edgeRule = .trimmedMean(beta: beta ?? 0.1)
    default: edgeRule = .mean
    }
    edgeNormBound = try r.double("edgeNormBound", above: 0, nullable: true)
    if let v = try r.double("dropout", atLeast: 0, below: 1) { dropout = v }
    deadline = try r.double("deadline", above: 0, nullable: true)
    if let v = try r.double("speedSpread", atLeast: 0) { speedSpread = v }
    attack = try r.section("attack", AttackSettings.self) ?? attack
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(perCluster, forKey: .init("perCluster"))
    try c.encode(spread, forKey: .init("spread"))
    try c.encode(partition, forKey: .init("partition"))
    try c.encode(fraction, forKey: .init("fraction"))
    try c.encode(edgeIterations, forKey: .init("edgeIterations"))
    switch edgeRule {
    case .mean: try c.encode("mean", forKey: .init("edgeRule"))
    case .median: try c.encode("median", forKey: .init("edgeRule"))
    case .trimmedMean(let beta):
      try c.encode("trimmed-mean", forKey: .init("edgeRule"))
      try c.encode(beta, forKey: .init("edgeBeta"))
    }
    try c.encodeIfPresent(edgeNormBound, forKey: .init("edgeNormBound"))
    try c.encode(dropout, forKey: .init("dropout"))
    try c.encodeIfPresent(deadline, forKey: .init("deadline"))
    try c.encode(speedSpread, forKey: .init("speedSpread"))
    try c.encode(attack, forKey: .init("attack"))
  }
}
