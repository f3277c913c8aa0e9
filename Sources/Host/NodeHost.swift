import Federation
import Ledger
import Privacy
import Records

/// A ledger node's untrusted host: its replica of the ledger, its blob store and its
/// aggregator (in privacy mode tee, its enclave's client).
///
/// It stores, orders and forwards. What it hands its aggregator it reads from the ledger and
/// its own blob store, each piece fixed by a hash the ledger proves; it never holds a
/// cluster's key or a plaintext update in mode tee.
public final class NodeHost {
  public let replica: LedgerReplica
  public let aggregator: any RoundAggregator
  /// The node's genesis key: it signs blocks (through the replica) and, when this node
  /// coordinates, round-opens, round-closes and round-aborts.
  private let key: SigningKey

  public init(replica: LedgerReplica, key: SigningKey, aggregator: any RoundAggregator) {
    precondition(replica.publicKey == key.publicKey, "the replica holds another node key")
    self.replica = replica
    self.key = key
    self.aggregator = aggregator
  }

  public var name: String { replica.name }
  public var network: Hash256 { replica.state.network }
  public var blobs: BlobStore { replica.blobs }

  /// This node's answer to the closed round: its aggregator aggregates exactly what the
  /// ledger's proof of the close fixes, with the payloads from this node's own blob store.
  public func aggregate(closed: InclusionProof, open: [UInt8], baseModel: [UInt8]) throws
    -> AggregatorVerdict
  {
    let close: RoundClose
    do {
      close = try RoundClose(transaction: closed.transaction)
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    // The close this node's own ledger holds, not merely one with a quorum's signatures (a
    // fork would need a third of the nodes to sign two blocks at one height).
    guard replica.state.rounds[close.round]?.close == close else {
      throw AggregatorError.invalidRound(
        "round \(close.round)'s close is not the one this node's ledger holds")
    }
    let payloads = try close.updates.map { try blobs.get($0.payload) }
    // Secure aggregation's messages, as this node's own ledger's stage-closes fix them.
    var secagg: SecAggRecords?
    if let round = replica.state.rounds[close.round], round.open.rules.secureAggregation != nil {
      // Not before the reveals' close: an answer without them would be a wrong abort.
      guard round.secagg.closes[.reveals] != nil else {
        throw AggregatorError.invalidRound(
          "round \(close.round)'s reveals stage is not closed yet on this node's ledger")
      }
      var messages: [SecAggStage: [(cluster: String, body: [UInt8])]] = [:]
      for stage in SecAggStage.allCases {
        messages[stage] = try replica.secaggMessages(round: close.round, stage: stage)
      }
      secagg = SecAggRecords(messages: messages)
    }
    return try aggregator.aggregate(
      ClosedRound(
        close: closed, open: open, baseModel: baseModel, payloads: payloads, secagg: secagg))
  }

  /// This node's answer to a committed model's evaluation: its aggregator combines exactly the
  /// reports the ledger's proof of the evaluation-close fixes, from this node's blob store.
  public func combine(closed: InclusionProof) throws -> MetricVerdict {
    let close: EvaluationClose
    do {
      close = try EvaluationClose(transaction: closed.transaction)
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    guard replica.state.rounds[close.round]?.evaluation == close else {
      throw AggregatorError.invalidRound(
        "round \(close.round)'s evaluation-close is not the one this node's ledger holds")
    }
    // Every payload goes as it is: one of another size than declared is refused by the
    // aggregator itself, which sees the bytes. One too large for any request cannot go at all,
    // and no node can answer (every honest node alike: the hash fixes the size).
    let reports = try close.reports.map { e -> [UInt8] in
      let bytes = try blobs.get(e.payload)
      guard bytes.count <= EvaluationRules.maximumReportBytes else {
        throw AggregatorError.invalidRound(
          "the report of \(e.cluster) is larger than any report may be (\(EvaluationRules.maximumReportBytes) bytes)"
        )
      }
      return bytes
    }
    return try aggregator.combine(ClosedEvaluation(close: closed, reports: reports))
  }

  // MARK: Coordinating rounds (any genesis node may; the ledger judges every step)

  /// Opens `round` from `baseModel` under genesis's `rules`.
  public func roundOpen(
    round: UInt64, baseModel: Hash256, participants: [String], rules: RoundRules,
    configuration: [Setting], groupKey: [UInt8]?
  ) -> Transaction {
    .roundOpen(
      RoundOpen(
        network: network, round: round, baseModel: baseModel, participants: participants,
        rules: rules, configuration: configuration, groupKey: groupKey, node: key))
  }

  /// Closes `round` on exactly the commitments the ledger holds for it, in ledger order.
  public func roundClose(round: UInt64, open: Hash256, updates: [RoundClose.Entry])
    -> Transaction
  {
    .roundClose(RoundClose(network: network, round: round, open: open, updates: updates, node: key))
  }

  /// Closes the evaluation of `round`'s committed `model` on the clusters' signed `reports`,
  /// under genesis's evaluation `rules`.
  public func evaluationClose(
    round: UInt64, model: Hash256, rules: EvaluationRules, reports: [EvaluationClose.Entry]
  ) -> Transaction {
    .evaluationClose(
      EvaluationClose(
        network: network, round: round, model: model, rules: rules, reports: reports, node: key))
  }

  /// Ends `stage` of `round`'s secure aggregation on exactly the messages the ledger holds.
  public func secaggStageClose(
    round: UInt64, open: Hash256, stage: SecAggStage, messages: [Hash256]
  ) -> Transaction {
    .secaggStageClose(
      SecAggStageClose(
        network: network, round: round, open: open, stage: stage, messages: messages, node: key))
  }

  /// Ends `round` without a model.
  public func roundAbort(round: UInt64, reason: String) -> Transaction {
    .roundAbort(RoundAbort(network: network, round: round, reason: reason, node: key))
  }
}
