import Canonical

/// Genesis's choice of secure aggregation (privacy mode secagg): the graph, and the corrupt
/// and dropout rates and the adversary its degree and threshold must hold against. The cohort
/// size comes from each round-open's participants, so each round derives its own k and t.
public struct SecAggRules: CanonicalCodable, Equatable, Sendable {
  public enum Graph: UInt8, Sendable, CaseIterable {
    /// SecAgg+'s random k-regular Harary graph (the full graph where no sparse one is safe).
    case harary = 0
    /// Every client the neighbour of every other (SecAgg, Bonawitz et al. 2017).
    case full = 1

    public var name: String { self == .harary ? "harary" : "full" }
  }

  /// Whom the parameters hold against.
  public enum Adversary: UInt8, Sendable, CaseIterable {
    case curiousServer = 1
    case semiMaliciousServer = 2

    public var name: String { self == .curiousServer ? "curious-server" : "semi-malicious-server" }
  }

  public var graph: Graph
  /// The fraction of clusters that may be corrupt (γ).
  public var corruptRate: Double
  /// The fraction of clusters that may drop out in a round (δ).
  public var dropoutRate: Double
  public var adversary: Adversary

  public init(
    graph: Graph = .harary, corruptRate: Double = 0.05, dropoutRate: Double = 0.1,
    adversary: Adversary = .curiousServer
  ) {
    self.graph = graph
    self.corruptRate = corruptRate
    self.dropoutRate = dropoutRate
    self.adversary = adversary
  }

  /// Nil when usable; else what is wrong, naming the field.
  public var problem: String? {
    guard corruptRate.isFinite, (0..<0.5).contains(corruptRate) else {
      return "secureAggregation.corruptRate is \(corruptRate); it must be at least 0 and below 0.5"
    }
    guard dropoutRate.isFinite, (0..<0.5).contains(dropoutRate) else {
      return "secureAggregation.dropoutRate is \(dropoutRate); it must be at least 0 and below 0.5"
    }
    let load = corruptRate + (adversary == .semiMaliciousServer ? 2 : 1) * dropoutRate
    guard load <= 0.9 else {
      return
        "secureAggregation: the corrupt rate plus \(adversary == .semiMaliciousServer ? "twice " : "")the dropout rate is \(load); at most 0.9"
    }
    return nil
  }

  /// What the statement records of them.
  public var statementParameters: [Setting] {
    [
      Setting("secure-aggregation.graph", graph.name),
      Setting("secure-aggregation.corrupt-rate", "\(corruptRate)"),
      Setting("secure-aggregation.dropout-rate", "\(dropoutRate)"),
      Setting("secure-aggregation.adversary", adversary.name),
    ]
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(graph.rawValue)
    w.f64(corruptRate)
    w.f64(dropoutRate)
    w.u8(adversary.rawValue)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let g = try r.u8("secure aggregation graph")
    guard let graph = Graph(rawValue: g) else {
      throw .unknownKind(field: "secure aggregation graph", tag: Int(g))
    }
    self.graph = graph
    corruptRate = try r.finite("secure aggregation corrupt rate")
    dropoutRate = try r.finite("secure aggregation dropout rate")
    let a = try r.u8("secure aggregation adversary")
    guard let adversary = Adversary(rawValue: a) else {
      throw .unknownKind(field: "secure aggregation adversary", tag: Int(a))
    }
    self.adversary = adversary
  }
}
