/// The `attack` section: what the malicious clusters do, and how many there are.
public struct AttackSettings: Codable, Sendable, Equatable {
  /// What they do (nil: nobody attacks).
  public var kind: Attack?
  /// The share of clusters that attack (chosen by the seed): 0.3 when attacking, unless set.
  public var fraction = 0.0

  public init(kind: Attack? = nil, fraction: Double? = nil) {
    self.kind = kind
    self.fraction = fraction ?? (kind == nil ? 0 : 0.3)
  }

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: ["kind", "fraction", "factor", "sigma"])
    let factor = try r.float("factor", above: 0)
    let sigma = try r.float("sigma", above: 0)
    let kind: Attack? =
      switch try r.choice("kind", ["none"] + Attack.names) {
      case "sign-flip": .signFlip(factor: factor ?? 4)
      case "scaling": .scaling(factor: factor ?? 10)
      case "noise": .gaussianNoise(sigma: sigma ?? 1)
      case "label-flip": .labelFlip
      case "free-rider": .freeRider
      case "inflate-samples": .inflateSamples
      default: nil
      }
    self.init(kind: kind, fraction: try r.double("fraction", atLeast: 0, atMost: 1))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    func put<T: Encodable>(_ value: T, _ key: String) throws {
      try c.encode(value, forKey: .init(key))
    }
    switch kind {
    case nil: try put("none", "kind")
    case .signFlip(let k):
      try put("sign-flip", "kind")
      try put(decimal(k), "factor")
    case .scaling(let k):
      try put("scaling", "kind")
      try put(decimal(k), "factor")
    case .gaussianNoise(let sigma):
      try put("noise", "kind")
      try put(decimal(sigma), "sigma")
    case .labelFlip: try put("label-flip", "kind")
    case .freeRider: try put("free-rider", "kind")
    case .inflateSamples: try put("inflate-samples", "kind")
    }
    if kind != nil { try put(fraction, "fraction") }
  }
}
