import Canonical
import Records

/// Makes a model's federated metric final: it names k matching metric endorsements already on
/// the ledger, so `ledger show` and the model's receipt can state it.
public struct MetricCommit: TransactionBody, Hashable, Sendable {
  public var round: UInt64
  public var model: Hash256
  /// Hash of the metric statement the endorsements sign.
  public var statement: Hash256
  /// Hashes of the metric-endorsement transactions, sorted.
  public var endorsements: [Hash256]

  public init(round: UInt64, model: Hash256, statement: Hash256, endorsements: [Hash256]) {
    self.round = round
    self.model = model
    self.statement = statement
    self.endorsements = Array(Set(endorsements)).sorted()
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(model)
    w.hash(statement)
    w.list(endorsements) { $0.hash($1) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("metric-commit round")
    model = try r.hash("metric-commit model")
    statement = try r.hash("metric-commit statement")
    endorsements = try r.list("metric-commit endorsements", limit: 1024) {
      r throws(CanonicalDecodingError) in try r.hash("metric-commit endorsement")
    }
    for (a, b) in zip(endorsements, endorsements.dropFirst()) where !(a < b) {
      throw .invalid(
        field: "metric-commit endorsements", problem: "are not sorted or repeat \(b.short)")
    }
  }

  public static let transactionKind = TransactionKind.metricCommit
}
