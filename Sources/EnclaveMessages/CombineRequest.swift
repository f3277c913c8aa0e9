import Canonical
import Records

/// A committed model's evaluation, as the host hands it to its enclave: the ledger's proof of
/// the evaluation-close and each report payload it names, in its order.
///
/// The network, round, model, clusters, their keys and the rules all come from the proven
/// close; each payload must hash to what the close names.
public struct CombineRequest: CanonicalCodable, Equatable {
  public var closed: InclusionProof
  /// The sealed reports, in the close's order: each the bytes the close names by hash, whatever
  /// its size (a size other than the declared one is the cluster's doing, which the enclave
  /// sees for itself; nothing the host says about a report is taken on its word).
  public var reports: [[UInt8]]

  public init(closed: InclusionProof, reports: [[UInt8]]) {
    self.closed = closed
    self.reports = reports
  }

  public func encode(to w: inout CanonicalWriter) {
    closed.encode(to: &w)
    w.list(reports) { $0.bytes($1) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    closed = try InclusionProof(from: &r)
    reports = try r.list("combine reports", limit: EvaluationRules.maximumReports) {
      r throws(CanonicalDecodingError) in
      try r.bytes("combine report", limit: EvaluationRules.maximumReportBytes)
    }
  }
}
