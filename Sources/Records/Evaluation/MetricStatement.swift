import Canonical

/// What an endorser states the reports of an evaluation-close combine to. Endorsers sign its
/// canonical bytes; k matching endorsements put the metric on the ledger beside its model.
///
/// Per-cluster figures appear only when the rules publish them; refusal reasons name none.
public struct MetricStatement: CanonicalCodable, Equatable, Sendable {
  /// A counted cluster's own figures (rules that publish only).
  public struct Published: Equatable, Sendable {
    public var cluster: String
    public var accuracy: Double
    public var loss: Double
    public var samples: UInt64
    public init(cluster: String, accuracy: Double, loss: Double, samples: UInt64) {
      self.cluster = cluster
      self.accuracy = accuracy
      self.loss = loss
      self.samples = samples
    }
  }

  /// A report left out of the metric, by its cluster (one report per cluster and evaluation),
  /// and why: its cluster's doing, never a figure it claimed.
  public struct Refused: Equatable, Sendable {
    public var cluster: String
    /// At most `AggregationStatement.Rejected.maximumReason` bytes.
    public let reason: String
    public init(cluster: String, reason: String) {
      self.cluster = cluster
      self.reason = AggregationStatement.Rejected.cut(reason)
    }
    fileprivate init(cluster: String, decoded reason: String) {
      self.cluster = cluster
      self.reason = reason
    }
  }

  public static let version: UInt8 = 1
  public var round: UInt64
  public var model: Hash256
  /// Hash of the evaluation-close transaction whose reports this combines.
  public var close: Hash256
  public var combination: ReportCombination
  public var parameters: [Setting]
  public var accuracy: Double
  public var loss: Double
  /// Reports counted, and the held-out samples behind them.
  public var clusters: UInt32
  public var samples: UInt64
  /// The clusters whose reports count, in the close's order (a report is named by its cluster,
  /// not its payload hash, which another cluster could commit to first).
  public var counted: [String]
  /// Those refused, with the reason.
  public var refused: [Refused]
  public var published: [Published]

  public init(
    round: UInt64, model: Hash256, close: Hash256, combination: ReportCombination,
    parameters: [Setting], accuracy: Double, loss: Double, clusters: UInt32, samples: UInt64,
    counted: [String], refused: [Refused], published: [Published] = []
  ) {
    self.round = round
    self.model = model
    self.close = close
    self.combination = combination
    self.parameters = parameters.sorted(by: Setting.precedes)
    self.accuracy = accuracy
    self.loss = loss
    self.clusters = clusters
    self.samples = samples
    self.counted = counted
    self.refused = refused
    self.published = published
  }

  public var hash: Hash256 { Hash256.of(canonicalBytes) }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.u64(round)
    w.hash(model)
    w.hash(close)
    w.string(combination.rawValue)
    w.settings(parameters)
    w.f64(accuracy)
    w.f64(loss)
    w.u32(clusters)
    w.u64(samples)
    w.list(counted) { $0.string($1) }
    w.list(refused) { w, r in
      w.string(r.cluster)
      w.string(r.reason)
    }
    w.list(published) { w, p in
      w.string(p.cluster)
      w.f64(p.accuracy)
      w.f64(p.loss)
      w.u64(p.samples)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("metric statement version")
    guard v == Self.version else {
      throw .unknownVersion(field: "metric statement version", version: Int(v))
    }
    round = try r.u64("metric round")
    model = try r.hash("metric model")
    close = try r.hash("metric evaluation-close")
    let name = try r.string("metric combination")
    guard let c = ReportCombination(rawValue: name) else {
      throw .invalid(field: "metric combination", problem: "is unknown: \"\(name)\"")
    }
    combination = c
    parameters = try r.settings("metric parameters")
    accuracy = try r.finite("metric accuracy")
    loss = try r.finite("metric loss")
    clusters = try r.u32("metric clusters")
    samples = try r.u64("metric samples")
    counted = try r.list("metric counted reports", limit: EvaluationRules.maximumReports) {
      r throws(CanonicalDecodingError) in try r.string("metric counted cluster")
    }
    refused = try r.list("metric refused reports", limit: EvaluationRules.maximumReports) {
      r throws(CanonicalDecodingError) in
      Refused(
        cluster: try r.string("metric refused cluster"), decoded: try r.string("metric refusal"))
    }
    published = try r.list("metric published figures", limit: EvaluationRules.maximumReports) {
      r throws(CanonicalDecodingError) in
      Published(
        cluster: try r.string("metric published cluster"),
        accuracy: try r.finite("metric published accuracy"),
        loss: try r.finite("metric published loss"),
        samples: try r.u64("metric published samples"))
    }
  }
}

extension MetricStatement: EndorsableStatement {
  public static let purpose = SigningPurpose.metricEndorsement
  public static let endorsementKind = TransactionKind.metricEndorsement
}
