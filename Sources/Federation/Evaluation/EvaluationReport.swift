/// What a cluster measured of a global model on its own held-out data.
///
/// Per-cluster figures reveal a plant's label mix and how well the model serves it: they stay
/// with the cluster and whatever combines them, unless the configuration publishes them.
public struct EvaluationReport: Codable, Equatable, Sendable {
  public var cluster: ClusterID
  public var round: Int
  /// The model evaluated (its SHA-256, hex).
  public var modelHash: String
  /// Mean cross-entropy over the held-out samples.
  public var loss: Double
  /// Share of held-out samples classified correctly, in [0, 1].
  public var accuracy: Double
  /// Held-out samples evaluated.
  public var samples: Int
  /// Held-out samples per class.
  public var classCounts: [Int]

  public init(
    cluster: ClusterID, round: Int, modelHash: String, loss: Double, accuracy: Double,
    samples: Int, classCounts: [Int]
  ) {
    self.cluster = cluster
    self.round = round
    self.modelHash = modelHash
    self.loss = loss
    self.accuracy = accuracy
    self.samples = samples
    self.classCounts = classCounts
  }
}

/// A report left out of the round's metric, and why.
public struct RefusedReport: Codable, Equatable, Sendable {
  public var cluster: ClusterID
  public var reason: String

  public init(cluster: ClusterID, reason: String) {
    self.cluster = cluster
    self.reason = reason
  }
}

/// What the consortium measured of one global model: its reports combined.
public struct FederatedMetric: Codable, Equatable, Sendable {
  public var round: Int
  public var modelHash: String
  public var accuracy: Double
  public var loss: Double
  /// Clusters whose reports count.
  public var clusters: Int
  /// Held-out samples behind them.
  public var samples: Int
  /// How the reports were combined (`mean`: sample-weighted; `median`).
  public var combination: String
  /// Reports left out, with the reason.
  public var refused: [RefusedReport]
  /// The reports that count, when the configuration publishes them (else empty).
  public var reports: [EvaluationReport]
  /// True when k endorsers signed this metric and the ledger committed it beside its model.
  public var recorded: Bool
  /// Why there is no metric (too few valid reports), if there is none.
  public var unmeasured: String?

  public init(
    round: Int, modelHash: String, accuracy: Double, loss: Double, clusters: Int, samples: Int,
    combination: String, refused: [RefusedReport] = [], reports: [EvaluationReport] = [],
    recorded: Bool = false, unmeasured: String? = nil
  ) {
    self.round = round
    self.modelHash = modelHash
    self.accuracy = accuracy
    self.loss = loss
    self.clusters = clusters
    self.samples = samples
    self.combination = combination
    self.refused = refused
    self.reports = reports
    self.recorded = recorded
    self.unmeasured = unmeasured
  }
}
