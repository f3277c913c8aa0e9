import Aggregation
import Records

extension ClearAggregator {
  /// Privacy mode none: the node reads each report of the proven evaluation-close itself and
  /// endorses what they combine to with its genesis key (the same computation as an enclave's,
  /// so k honest nodes sign the same statement).
  public func combine(_ evaluation: ClosedEvaluation) throws -> MetricVerdict {
    try ClearReports.combine(
      evaluation, network: network, nodes: nodes, quorum: quorum, key: key)
  }
}

/// Evaluation reports read in the clear by the node (modes none and secagg: a report's
/// counts are not masked), combined and endorsed with its genesis key.
enum ClearReports {
  static func combine(
    _ evaluation: ClosedEvaluation, network: Hash256, nodes: Set<PublicKey>, quorum: Int,
    key: SigningKey
  ) throws -> MetricVerdict {
    let proven: ProvenEvaluation
    do {
      proven = try ProvenEvaluation(closed: evaluation.close, nodes: nodes, quorum: quorum)
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    guard proven.network == network else {
      throw AggregatorError.invalidRound("the evaluation is of another network")
    }
    if let problem = proven.problem(with: evaluation.reports) {
      throw AggregatorError.invalidRound(problem)
    }
    let reports = zip(proven.close.reports, evaluation.reports).map {
      entry, bytes -> Result<ReportPayload, ReportUnreadable> in
      guard UInt64(bytes.count) == entry.payloadSize else { return .failure(.sizeDiffers) }
      guard let report = try? ReportPayload(canonical: bytes) else {
        return .failure(.init("does not decode as an evaluation report"))
      }
      return .success(report)
    }
    do {
      let statement = try MetricStatement.combining(
        proven.close, closeHash: proven.closeHash, reports: reports)
      return .endorsed(MetricEndorsement(network: network, statement: statement, key: key))
    } catch {
      return .tooFewReports("\(error)")
    }
  }
}
