import Aggregation
import Canonical
import Crypto
import Dispatch
import EnclaveMessages
import Protection
import Records

extension Enclave {
  /// Opens, checks and combines the reports of a committed model's evaluation, then signs the
  /// metric statement.
  ///
  /// The close comes with the ledger's proof (a block the policy's quorum of nodes signed, and
  /// the close's own node signature), so its reports, their clusters' keys and the rules are
  /// the ledger's. Every report is accounted for: counted, or refused with a reason that is its
  /// cluster's doing and names no figure it claimed. Whatever the host could change fails the
  /// whole request instead. Rounds only move forward, and a round's metric is signed once.
  public func combine(_ request: CombineRequest) throws(EnclaveError) -> AggregateResponse {
    let start = DispatchTime.now().uptimeNanoseconds
    guard let groupKey else { throw .groupKey("this enclave holds none; it cannot open reports") }
    let proven: ProvenEvaluation
    do {
      proven = try ProvenEvaluation(
        closed: request.closed, nodes: Set(policy.ledgerNodes.compactMap { PublicKey(bytes: $0) }),
        quorum: Int(policy.blockQuorum))
    } catch {
      throw .notTheProvenRound("\(error)")
    }
    let (close, network, round) = (proven.close, proven.network, proven.close.round)
    guard round >= lastCombinedRound, round > 0 else {
      throw .alreadyEndorsed(
        "round \(round) is before round \(lastCombinedRound), the last whose metric this enclave signed"
      )
    }
    if let problem = proven.problem(with: request.reports) {
      throw .notTheProvenRound(problem)
    }
    let reports = zip(close.reports, request.reports).map { entry, bytes in
      // The bytes are the committed ones (their hash is the close's): a size other than the
      // declared one is the cluster's doing.
      guard UInt64(bytes.count) == entry.payloadSize else {
        return Result<ReportPayload, ReportUnreadable>.failure(.sizeDiffers)
      }
      return Self.openReport(
        bytes, from: entry, groupKey: groupKey, network: network.bytes, round: round,
        model: close.model.bytes)
    }
    let statement: MetricStatement
    do {
      statement = try MetricStatement.combining(
        close, closeHash: proven.closeHash, reports: reports)
    } catch {
      throw .tooFewUpdates("\(error)")
    }
    if round == lastCombinedRound, let lastMetric, statement.hash != lastMetric {
      throw .alreadyEndorsed(
        "this enclave already signed a different metric for round \(round); it signs a round's metric once"
      )
    }
    let endorsement = try endorse(statement, network: network.bytes)
    lastCombinedRound = round
    lastMetric = statement.hash
    return AggregateResponse(
      endorsement: endorsement.canonicalBytes,
      nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
  }

  /// Opens one sealed report committed by `entry`'s cluster; any failure is the cluster's.
  private static func openReport(
    _ bytes: [UInt8], from entry: EvaluationClose.Entry,
    groupKey: Curve25519.KeyAgreement.PrivateKey, network: [UInt8], round: UInt64, model: [UInt8]
  ) -> Result<ReportPayload, ReportUnreadable> {
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: entry.key.bytes) else {
      return .failure(.init("its cluster's enrolled key is not an Ed25519 key"))
    }
    guard let envelope = try? UpdateEnvelope(canonical: bytes) else {
      return .failure(.init("is not a report envelope"))
    }
    guard envelope.cluster == entry.cluster else {
      return .failure(.init("was committed by \(entry.cluster) but names another cluster"))
    }
    let plain: [UInt8]
    do {
      plain = try envelope.open(
        with: groupKey, network: network, round: round, baseModel: model, clusterKey: key,
        purpose: .report)
    } catch {
      return .failure(.init("\(error)"))
    }
    guard let report = try? ReportPayload(canonical: plain) else {
      return .failure(.init("does not decode as an evaluation report"))
    }
    return .success(report)
  }
}
