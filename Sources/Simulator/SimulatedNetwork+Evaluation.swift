import Aggregation
import Dispatch
import Federation
import Foundation
import Gateway
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
    var entries: [EvaluationClose.Entry] = []
    var refused: [RefusedReport] = []
    // Each cluster seals, signs and publishes its report on its own device (here, at once);
    // the commitments are then ordered in the reports' order.
    // Each agent is used by one iteration only (a cluster's second report is refused first);
    // the blob stores take concurrent writes of distinct files.
    nonisolated(unsafe) let agents = self.agents
    nonisolated(unsafe) let exchange = blobExchange
    var seen = Set<ClusterID>()
    let reports = reports.filter { r in
      guard seen.insert(r.cluster).inserted else {
        refused.append(.init(cluster: r.cluster, reason: "a second report for this round"))
        return false
      }
      return true
    }
    var sent = [Result<(ReportSubmission, Hash256), any Error>?](
      repeating: nil, count: reports.count)
    sent.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      // One thread per cluster, not per core: most of the time is each blob store's fsyncs,
      // which the file system commits together.
      Self.onOwnThreads(reports.count) { i in
        guard agents.indices.contains(reports[i].cluster) else { return }
        // An honest cluster's report names the simulation's round; on the ledger it is the
        // round that committed the model.
        var report = reports[i]
        if report.round == round { report.round = Int(committed) }
        out[i] = Result {
          let s = try agents[report.cluster].reportSubmission(
            for: report, model: hash, round: committed)
          return (s, try exchange.publish(s.payload))
        }
      }
    }
    for (report, result) in zip(reports, sent) {
      let id = report.cluster
      switch result {
      case nil:
        refused.append(.init(cluster: id, reason: "cluster \(id) is not enrolled on the ledger"))
      case .failure(let error)?:
        refused.append(.init(cluster: id, reason: "\(agents[id].name) \(error)"))
      case .success(let (s, payload))?:
        clusterOf[payload] = id
        orderer.submit(s.commitment)
        entries.append(
          .init(
            cluster: agents[id].name, key: agents[id].publicKey, payload: payload,
            payloadSize: UInt64(s.payload.count)))
      }
    }
    let idOf = Dictionary(uniqueKeysWithValues: agents.map { ($0.name, $0.id) })
    func metric(_ s: MetricStatement?, unmeasured: String? = nil) -> FederatedMetric {
      FederatedMetric(
        round: round, modelHash: model.hash, accuracy: s?.accuracy ?? .nan,
        loss: s?.loss ?? .nan, clusters: Int(s?.clusters ?? 0), samples: Int(s?.samples ?? 0),
        combination: evaluation.combination.rawValue,
        refused: refused
          + (s?.refused ?? []).map {
            RefusedReport(cluster: idOf[$0.cluster] ?? -1, reason: $0.reason)
          },
        reports: (s?.published ?? []).compactMap { p in
          guard let id = agents.first(where: { $0.name == p.cluster })?.id else { return nil }
          return EvaluationReport(
            cluster: id, round: round, modelHash: model.hash, loss: p.loss, accuracy: p.accuracy,
            samples: Int(p.samples), classCounts: [])
        }, recorded: s != nil, unmeasured: unmeasured)
    }
    // Before the reporting window ends, only every enrolled cluster's report closes the
    // evaluation: with fewer, the coordinator waits it out.
    if entries.count < agents.count, let committedAt = r.committedAt {
      let wait = committedAt.addingTimeInterval(Double(evaluation.window)).timeIntervalSinceNow
      if wait > 0 { Thread.sleep(forTimeInterval: wait + 0.01) }
    }
    // The close lists exactly the commitments, in the order they are ordered: the same block.
    let closed = try order(
      coordinator.evaluationClose(
        round: committed, model: hash, rules: evaluation, reports: entries),
      round: round, what: "evaluation-close", in: "round \(committed) report commitments and close")
    guard entries.count >= evaluation.minimumReports else {
      return metric(
        nil,
        unmeasured: MetricError.tooFewReports(round: committed, minimum: evaluation.minimumReports)
          .description)
    }

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
    // The enclaves' state is sealed with the next round's: a restart before then could sign
    // this round's metric again, but only the same one, for the ledger takes one close a round.
    if !tooFew.isEmpty {
      guard endorsed.isEmpty, Set(tooFew).count == 1 else {
        throw RoundError.aggregatorsDisagree(round: Int(committed), tooFewUpdates: tooFew)
      }
      return metric(nil, unmeasured: tooFew[0])
    }
    // The coordinator counts the endorsements as the ledger will judge them (a dry run on its
    // replica's state), so that they and the commit naming k of them go in one block; the
    // ledger still judges both, and the cut below fails if it judged otherwise.
    let candidates = endorsed.map { Transaction.metricEndorsement($0.endorsement) }
    let (_, verdicts) = orderer.replicas[0].state.evaluate(
      candidates.map(\.canonicalBytes), timestamp: UInt64(Date().timeIntervalSince1970 * 1000))
    let verdictOf = Dictionary(
      zip(candidates.map(\.canonicalBytes), verdicts.map(\.isValid)),
      uniquingKeysWith: { $0 || $1 })
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
    for c in candidates { orderer.submit(c) }
    let commit = Transaction.metricCommit(
      MetricCommit(
        round: committed, model: hash, statement: chosen.statement.hash,
        endorsements: chosen.endorsements))
    orderer.submit(commit)
    // Every endorsement goes on the record, valid or not; the commit must be valid.
    let blocks = try cut("round \(committed) metric endorsements and commit", strict: false)
    guard blocks.contains(where: { $0.proof(of: commit.canonicalBytes) != nil }) else {
      throw RoundError.notOrdered(round: round, what: "metric commit")
    }
    try writeReceipt(round: Int(committed), keepLast: true)
    return metric(chosen.statement)
  }
}

extension SimulatedNetwork {
  /// `body(i)` for every i below `n`, each on a thread of its own, returning when all are done.
  static func onOwnThreads(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<n {
      group.enter()
      let thread = Thread {
        body(i)
        group.leave()
      }
      thread.start()
    }
    group.wait()
  }
}
