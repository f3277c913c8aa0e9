import Aggregation
import Dispatch
import Federation
import Foundation
import Host
import Learning
import Ledger
import Privacy
import Records

extension SimulatedNetwork {
  /// Records the federated evaluation of `model` on the ledger: each reporting cluster's agent
  /// protects (in mode tee, seals) and signs its report; the coordinator closes the evaluation
  /// of the round that committed the model; every honest node's aggregator combines the proven
  /// reports; and the metric k endorse is committed and added to the model's receipt.
  ///
  /// Returns nil where genesis records no metric, or the model has no round to record it under
  /// (genesis's initial model, or a model whose evaluation is already on the ledger).
  public func recordEvaluation(
    _ reports: [EvaluationReport], of model: Model, round: Int, rules: EvaluationRules
  ) throws -> FederatedMetric? {
    guard let evaluation = genesis.evaluation, let hash = Hash256(hex: model.hash) else {
      return nil
    }
    let state = orderer.replicas[0].state
    // The ledger evaluates the newest round's committed model, before the next round opens; a
    // model standing after an aborted round is judged off the record.
    let committed = state.currentRound
    guard let r = state.rounds[committed], r.commit?.model == hash, r.evaluation == nil else {
      return nil
    }
    var clusterOf: [Hash256: ClusterID] = [:]
    var refused: [RefusedReport] = []
    for report in reports {
      guard agents.indices.contains(report.cluster) else {
        refused.append(
          .init(
            cluster: report.cluster,
            reason: "cluster \(report.cluster) is not enrolled on the ledger"))
        continue
      }
      // An honest cluster's report names the simulation's round; on the ledger it is the round
      // that committed the model.
      var sent = report
      if sent.round == round { sent.round = Int(committed) }
      do {
        let s = try agents[report.cluster].reportSubmission(
          for: sent, model: hash, round: committed)
        let payload = try blobExchange.publish(s.payload)
        clusterOf[payload] = report.cluster
        orderer.submit(s.commitment)
      } catch {
        refused.append(
          .init(cluster: report.cluster, reason: "\(agents[report.cluster].name) \(error)"))
      }
    }
    func metric(_ s: MetricStatement?, unmeasured: String? = nil) -> FederatedMetric {
      FederatedMetric(
        round: round, modelHash: model.hash, accuracy: s?.accuracy ?? .nan,
        loss: s?.loss ?? .nan, clusters: Int(s?.clusters ?? 0), samples: Int(s?.samples ?? 0),
        combination: evaluation.combination.rawValue,
        refused: refused
          + (s?.refused ?? []).map {
            RefusedReport(cluster: clusterOf[$0.update] ?? -1, reason: $0.reason)
          },
        reports: (s?.published ?? []).compactMap { p in
          guard let id = agents.first(where: { $0.name == p.cluster })?.id else { return nil }
          return EvaluationReport(
            cluster: id, round: round, modelHash: model.hash, loss: p.loss, accuracy: p.accuracy,
            samples: Int(p.samples), classCounts: [])
        }, recorded: s != nil, unmeasured: unmeasured)
    }
    // The close lists exactly the commitments the ledger took, in its order.
    try cut("round \(committed) report commitments", strict: false)
    let entries = orderer.replicas[0].state.rounds[committed]?.reports ?? []
    guard entries.count >= evaluation.minimumReports else {
      return metric(
        nil,
        unmeasured: MetricError.tooFewReports(round: committed, minimum: evaluation.minimumReports)
          .description)
    }
    let closed = try order(
      coordinator.evaluationClose(
        round: committed, model: hash, rules: evaluation, reports: entries),
      round: round, what: "evaluation-close", in: "round \(committed) evaluation")

    // Every honest node's aggregator answers the closed evaluation at once.
    let honest = hosts.count - byzantine.count
    var results = [Result<MetricVerdict, any Error>?](repeating: nil, count: honest)
    results.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      nonisolated(unsafe) let hosts = hosts
      DispatchQueue.concurrentPerform(iterations: honest) { i in
        out[i] = Result { try hosts[i].combine(closed: closed) }
      }
    }
    var endorsed: [(node: Int, endorsement: MetricEndorsement)] = []
    var tooFew: [String] = []
    for (i, r) in results.enumerated() {
      switch try r!.get() {
      case .endorsed(let e): endorsed.append((i, e))
      case .tooFewReports(let why): tooFew.append(why)
      }
    }
    if !enclaves.isEmpty { try sealEnclaves() }
    if !tooFew.isEmpty {
      guard endorsed.isEmpty, Set(tooFew).count == 1 else {
        throw RoundError.aggregatorsDisagree(round: Int(committed), tooFewUpdates: tooFew)
      }
      return metric(nil, unmeasured: tooFew[0])
    }
    for e in endorsed { orderer.submit(.metricEndorsement(e.endorsement)) }
    let verdictOf = Dictionary(
      try cut("round \(committed) metric endorsements", strict: false).flatMap { o in
        zip(o.block.transactions, o.outcomes.map(\.isValid))
      }, uniquingKeysWith: { $0 || $1 })
    var tally = EndorsementTally<MetricStatement>(threshold: genesis.endorsementThreshold)
    for e in endorsed {
      let endorser = try? genesis.endorser(
        evidence: e.endorsement.evidence, key: e.endorsement.endorser, at: Date(),
        checkEvidence: false
      ).get().name
      tally.add(
        e.endorsement, node: e.node, endorser: endorser,
        valid: verdictOf[e.endorsement.transactionBytes] ?? false)
    }
    guard let chosen = tally.quorum else {
      throw RoundError.noQuorum(
        round: Int(committed), counts: tally.counts, threshold: tally.threshold)
    }
    _ = try order(
      .metricCommit(
        MetricCommit(
          round: committed, model: hash, statement: chosen.statement.hash,
          endorsements: chosen.endorsements)),
      round: round, what: "metric commit", in: "round \(committed) metric commit")
    try writeReceipt(round: Int(committed))
    return metric(chosen.statement)
  }
}
