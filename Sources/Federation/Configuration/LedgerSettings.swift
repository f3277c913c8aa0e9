/// The `ledger` section: the ledger the simulated network keeps (read by `Simulator`).
public struct LedgerSettings: Codable, Sendable, Equatable {
  /// Record every round on a ledger kept by simulated nodes (docs/ledger.md).
  public var enabled = true
  /// Simulated ledger nodes, each with its own copy of the ledger.
  public var nodes = 4
  /// Distinct endorsements a model needs (nil: a majority of the nodes).
  public var endorsementThreshold: Int?
  /// Simulated nodes whose hosts forge endorsements (tests of the endorsement quorum); their
  /// divergent endorsements are recorded as evidence.
  public var byzantineNodes = 0

  public init() {}

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(
      decoder, known: ["enabled", "nodes", "endorsementThreshold", "byzantineNodes"])
    self.init()
    if let v = try r.bool("enabled") { enabled = v }
    if let v = try r.int("nodes", min: 1) { nodes = v }
    endorsementThreshold = try r.int("endorsementThreshold", min: 1, nullable: true)
    if let v = try r.int("byzantineNodes", min: 0) { byzantineNodes = v }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(enabled, forKey: .init("enabled"))
    try c.encode(nodes, forKey: .init("nodes"))
    try c.encodeIfPresent(endorsementThreshold, forKey: .init("endorsementThreshold"))
    if byzantineNodes > 0 { try c.encode(byzantineNodes, forKey: .init("byzantineNodes")) }
  }
}
