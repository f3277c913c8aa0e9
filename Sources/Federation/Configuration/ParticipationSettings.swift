/// The `participation` section: who is asked each round, who answers, and in what time.
public struct ParticipationSettings: Codable, Sendable, Equatable {
  /// Fraction of clusters asked to train each round.
  public var fraction = 1.0
  /// Probability that an asked cluster does not answer.
  public var dropout = 0.0
  /// Simulated seconds after which updates are too late (nil: no deadline).
  public var deadline: Double?
  /// Median samples per simulated second of a cluster's devices.
  public var nominalSpeed = 1000.0
  /// Standard deviation of the log of cluster speeds (0: all equal).
  public var speedSpread = 0.5

  public init() {}

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(
      decoder, known: ["fraction", "dropout", "deadline", "nominalSpeed", "speedSpread"])
    self.init()
    if let v = try r.double("fraction", above: 0, atMost: 1) { fraction = v }
    if let v = try r.double("dropout", atLeast: 0, below: 1) { dropout = v }
    deadline = try r.double("deadline", above: 0, nullable: true)
    if let v = try r.double("nominalSpeed", above: 0) { nominalSpeed = v }
    if let v = try r.double("speedSpread", atLeast: 0) { speedSpread = v }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(fraction, forKey: .init("fraction"))
    try c.encode(dropout, forKey: .init("dropout"))
    try c.encodeIfPresent(deadline, forKey: .init("deadline"))
    try c.encode(nominalSpeed, forKey: .init("nominalSpeed"))
    try c.encode(speedSpread, forKey: .init("speedSpread"))
  }
}
