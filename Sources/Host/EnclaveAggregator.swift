import EnclaveMessages
import Federation
import Privacy
import Records

/// Privacy mode tee, node side: the node's enclave opens, validates and aggregates the closed
/// round and signs its statement; the host only forwards the ledger's proofs and the sealed
/// payloads, and never sees an update or a weight.
public final class EnclaveAggregator: RoundAggregator {
  public let enclave: EnclaveClient

  public init(enclave: EnclaveClient) { self.enclave = enclave }

  public func aggregate(_ round: ClosedRound) throws -> AggregatorVerdict {
    let request = AggregateRequest(
      closed: round.close, open: round.open, baseModel: round.baseModel,
      envelopes: round.payloads)
    let response: AggregateResponse
    do {
      response = try enclave.aggregate(request)
    } catch EnclaveHostError.tooFewUpdates(_, let why) {
      return .tooFewUpdates(why)
    }
    do {
      return .endorsed(try Endorsement(canonical: response.endorsement), decisions: nil)
    } catch {
      throw EnclaveHostError.transport(node: enclave.node, "unreadable endorsement: \(error)")
    }
  }

  public func release(_ commit: InclusionProof) throws -> [UInt8] {
    try enclave.release(commit)
  }
}

extension EnclaveAggregator {
  /// Privacy mode tee: the enclave opens the sealed reports and signs the metric; the host
  /// forwards the ledger's proof and the envelopes, and never sees a cluster's figures.
  public func combine(_ evaluation: ClosedEvaluation) throws -> MetricVerdict {
    let response: AggregateResponse
    do {
      response = try enclave.combine(
        CombineRequest(closed: evaluation.close, reports: evaluation.reports))
    } catch EnclaveHostError.tooFewUpdates(_, let why) {
      return .tooFewReports(why)
    }
    do {
      return .endorsed(try MetricEndorsement(canonical: response.endorsement))
    } catch {
      throw EnclaveHostError.transport(
        node: enclave.node, "unreadable metric endorsement: \(error)")
    }
  }
}
