import Aggregation
import Records

extension ClearAggregator {
  /// Privacy mode none: the node reads each report of the proven evaluation-close itself and
  /// endorses what they combine to with its genesis key (the same computation as an enclave's,
  /// so k honest nodes sign the same statement).
  public func combine(_ evaluation: ClosedEvaluation) throws -> MetricVerdict {
    do {
      try evaluation.close.verify(network: network, nodes: nodes, quorum: quorum)
    } catch {
      throw AggregatorError.invalidRound("the ledger does not prove the evaluation: \(error)")
    }
    let close: EvaluationClose
    do {
      close = try EvaluationClose(transaction: evaluation.close.transaction)
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    guard nodes.contains(close.signer), close.verifies(network: network) else {
      throw AggregatorError.invalidRound("the evaluation-close is not signed by a ledger node")
    }
    guard evaluation.reports.count == close.reports.count,
      zip(close.reports, evaluation.reports).allSatisfy({ e, bytes in
        bytes.map { UInt64($0.count) == e.payloadSize && Hash256.of($0) == e.payload } ?? true
      })
    else {
      throw AggregatorError.invalidRound(
        "the reports given are not the \(close.reports.count) the evaluation-close lists")
    }
    let reports = evaluation.reports.map { bytes -> Result<ReportPayload, ReportUnreadable> in
      guard let bytes else { return .failure(.sizeDiffers) }
      guard let report = try? ReportPayload(canonical: bytes) else {
        return .failure(.init("does not decode as an evaluation report"))
      }
      return .success(report)
    }
    do {
      let statement = try MetricStatement.combining(
        close, closeHash: Hash256.of(evaluation.close.transaction), reports: reports)
      return .endorsed(MetricEndorsement(network: network, statement: statement, key: key))
    } catch {
      return .tooFewReports("\(error)")
    }
  }
}
