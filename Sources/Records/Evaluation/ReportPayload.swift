import Canonical

/// What a cluster measured of a committed model on its held-out data: the payload it signs and,
/// in privacy mode tee, seals to the enclaves. Per-cluster figures reveal a plant's label mix,
/// so only what combines reports reads them.
public struct ReportPayload: CanonicalCodable, Equatable, Sendable {
  public static let version: UInt8 = 1
  /// The round whose committed model was evaluated, and that model's hash.
  public var round: UInt64
  public var model: Hash256
  /// The reporting cluster's name on the ledger.
  public var cluster: String
  /// Mean cross-entropy over the held-out samples.
  public var loss: Double
  /// Share of held-out samples classified correctly.
  public var accuracy: Double
  public var samples: UInt64
  /// Held-out samples per class.
  public var classCounts: [UInt64]

  public init(
    round: UInt64, model: Hash256, cluster: String, loss: Double, accuracy: Double,
    samples: UInt64, classCounts: [UInt64]
  ) {
    self.round = round
    self.model = model
    self.cluster = cluster
    self.loss = loss
    self.accuracy = accuracy
    self.samples = samples
    self.classCounts = classCounts
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.u64(round)
    w.hash(model)
    w.string(cluster)
    w.f64(loss)
    w.f64(accuracy)
    w.u64(samples)
    w.list(classCounts) { $0.u64($1) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("report version")
    guard v == Self.version else { throw .unknownVersion(field: "report version", version: Int(v)) }
    round = try r.u64("report round")
    model = try r.hash("report model")
    cluster = try r.string("report cluster")
    loss = try r.f64("report loss")
    accuracy = try r.f64("report accuracy")
    samples = try r.u64("report samples")
    classCounts = try r.list("report class counts", limit: EvaluationRules.maximumClasses) {
      r throws(CanonicalDecodingError) in try r.u64("report class count")
    }
  }
}
