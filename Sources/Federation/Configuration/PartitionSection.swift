/// The `partition` section: how the training data is split over clusters.
extension Partitioner: Codable {
  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: ["kind", "alpha", "classesPerCluster"])
    let kind = try r.choice("kind", ["iid", "dirichlet", "shards"])
    let alpha = try r.double("alpha", above: 0)
    let shards = try r.int("classesPerCluster", min: 1)
    switch kind ?? "dirichlet" {
    case "iid": self = .iid
    case "dirichlet": self = .dirichlet(alpha: alpha ?? 0.5)
    default: self = .shards(classesPerCluster: shards ?? 2)
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    switch self {
    case .iid: try c.encode("iid", forKey: .init("kind"))
    case .dirichlet(let alpha):
      try c.encode("dirichlet", forKey: .init("kind"))
      try c.encode(alpha, forKey: .init("alpha"))
    case .shards(let k):
      try c.encode("shards", forKey: .init("kind"))
      try c.encode(k, forKey: .init("classesPerCluster"))
    }
  }
}
