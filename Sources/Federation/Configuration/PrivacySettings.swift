/// The `privacy` section: who may read an update.
public struct PrivacySettings: Codable, Sendable, Equatable {
  /// `tee`: only attested enclaves, which aggregate it; `none`: the aggregating nodes read
  /// updates in the clear; `secagg`: clusters mask their updates (SecAgg+), so the nodes learn
  /// only the sum of the round's updates.
  public var mode = Mode.tee
  /// Under `secagg`: `harary`, SecAgg+'s sparse graph (the full graph where the cohort is too
  /// small for its bounds), or `full`, every cluster the neighbour of every other (SecAgg,
  /// Bonawitz et al. 2017).
  public var graph = Graph.harary

  public enum Graph: String, Sendable, CaseIterable {
    case harary
    case full
  }

  public init(mode: Mode = .tee) { self.mode = mode }

  public enum Mode: String, Sendable, CaseIterable {
    case tee
    case none
    /// SecAgg+: clusters mask their updates; the nodes learn only the sum.
    case secagg

    /// What the mode can aggregate, and whether hosts read updates.
    public var type: any PrivacyMode.Type {
      switch self {
      case .tee: EnclavePrivacy.self
      case .none: NoPrivacy.self
      case .secagg: SecureAggregation.self
      }
    }
  }

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: ["mode", "graph"])
    self.init()
    if let v = try r.choice("mode", Mode.allCases.map(\.rawValue)) {
      mode = Mode(rawValue: v)!
    }
    if let v = try r.choice("graph", Graph.allCases.map(\.rawValue)) {
      graph = Graph(rawValue: v)!
    }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(mode.rawValue, forKey: .init("mode"))
    if mode == .secagg { try c.encode(graph.rawValue, forKey: .init("graph")) }
  }
}
