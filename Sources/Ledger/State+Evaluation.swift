import Foundation
import Records

// The federated evaluation of a committed model, as the ledger judges it: the clusters' signed
// report commitments, while the model is the newest; one evaluation-close fixing exactly those,
// under genesis's evaluation rules; endorsements of what they combine to; and the commit of
// the statement k endorsers agree on.

extension LedgerState {
  /// Whether round `round`'s model may be evaluated now: it is committed, and no round opened
  /// after the next model committed. A model is judged while the next round trains (the two
  /// overlap, so evaluating costs a round no time), and the round after that waits for it
  /// (`evaluationPending`): no node can hold an evaluation back to race it, or close an old
  /// one on a chosen few.
  public func evaluationOpen(_ round: UInt64) -> Bool {
    guard rounds[round]?.commit != nil else { return false }
    var later = round + 1
    while later <= currentRound {
      if rounds[later]?.commit != nil { return later == currentRound }
      later += 1
    }
    return true
  }

  /// Why round `round`'s evaluation takes nothing now (nil: it does).
  private func evaluationRefusal(_ round: UInt64, model: Hash256) -> TransactionOutcome? {
    guard genesis.evaluation != nil else {
      return .invalid("this network records no federated metric (genesis has no evaluation rules)")
    }
    guard let r = rounds[round], let commit = r.commit else {
      return .invalid("round \(round) has no committed model to evaluate")
    }
    guard evaluationOpen(round) else {
      return .invalid(
        "round \(round)'s evaluation is over: round \(currentRound) opened after a newer model (a model is evaluated while the next round trains, before the one after opens)"
      )
    }
    if r.evaluation != nil {
      return .invalid("round \(round)'s model was already evaluated")
    }
    guard model == commit.model else {
      return .invalid(
        "names model \(model.short), but round \(round) committed \(commit.model.short)")
    }
    return nil
  }

  /// Why round `next` cannot open yet: the model committed before the newest one is one
  /// genesis's evaluation schedule judges, and its evaluation is neither closed nor out of time
  /// (twice the reporting window, so that any node may close it after the window). The round
  /// right after a model opens at once (the model is judged while it trains); the one after
  /// waits, so no node can keep a model from being judged by opening rounds.
  public func evaluationPending(before next: UInt64, at time: Date) -> TransactionOutcome? {
    guard genesis.evaluation != nil, let newest = newestCommit(before: next) else { return nil }
    return evaluationPending(after: newest.round, at: time)
  }

  /// Why the round after the model committed in round `round` cannot open yet: as
  /// `evaluationPending(before:at:)`, for a model about to commit (its successor opening in
  /// the same block).
  public func evaluationPending(after round: UInt64, at time: Date) -> TransactionOutcome? {
    guard let rules = genesis.evaluation, let judged = newestCommit(before: round),
      let r = rounds[judged.round], let committedAt = r.committedAt, r.evaluation == nil,
      judged.round % UInt64(rules.every) == 0
    else { return nil }
    let due = committedAt.addingTimeInterval(Double(2 * rules.window))
    guard time >= due else {
      return .invalid(
        "round \(judged.round)'s model is being evaluated: the round after round \(round)'s model opens after its evaluation-close, or \(2 * rules.window) s after its commit"
      )
    }
    return nil
  }

  mutating func apply(_ c: ReportCommitment, verifySignatures: Bool) -> TransactionOutcome {
    if let refusal = evaluationRefusal(c.round, model: c.model) { return refusal }
    var r = rounds[c.round]!
    let rules = genesis.evaluation!
    guard let key = clusters[c.cluster] else {
      return .invalid("cluster \"\(c.cluster)\" is not enrolled")
    }
    if r.reportedBy.contains(c.cluster) {
      return .invalid("cluster \"\(c.cluster)\" already reported on round \(c.round)'s model")
    }
    if verifySignatures
      && !key.verifies(c.signature, over: c.message(network: network), for: .report)
    {
      return .invalid("the signature of cluster \"\(c.cluster)\" does not verify")
    }
    if c.payloadSize > rules.reportCap {
      return .invalid(
        "names a report of \(c.payloadSize) bytes; the most a report commitment may name is \(rules.reportCap)"
      )
    }
    if r.reportBytes + c.payloadSize > EvaluationRules.maximumEvaluationBytes
      || r.reports.count >= EvaluationRules.maximumReports
    {
      return .invalid(
        "round \(c.round)'s evaluation is full: it holds \(EvaluationRules.maximumReports) reports or \(EvaluationRules.maximumEvaluationBytes) bytes at most"
      )
    }
    r.reports.append(
      .init(cluster: c.cluster, key: key, payload: c.payload, payloadSize: c.payloadSize))
    r.reportedBy.insert(c.cluster)
    r.reportBytes += c.payloadSize
    rounds[c.round] = r
    return .valid
  }

  mutating func apply(_ c: EvaluationClose, hash: Hash256, at time: Date, verifySignatures: Bool)
    -> TransactionOutcome
  {
    if let refusal = nodeSignatureProblem(c, verify: verifySignatures) { return refusal }
    if let refusal = evaluationRefusal(c.round, model: c.model) { return refusal }
    var r = rounds[c.round]!
    let rules = genesis.evaluation!
    if c.rules != rules {
      return .invalid(
        "carries evaluation rules \(c.rules.combination.rawValue) \(c.rules.statementParameters.map { "\($0.key)=\($0.value)" }), not the network's (genesis): \(rules.combination.rawValue) \(rules.statementParameters.map { "\($0.key)=\($0.value)" })"
      )
    }
    // Evaluations close in their models' order (an enclave signs metrics of rounds that only
    // move forward): the model before's, if scheduled and still open, closes first.
    if let before = newestCommit(before: c.round), before.round % UInt64(rules.every) == 0,
      rounds[before.round]?.evaluation == nil, evaluationOpen(before.round)
    {
      return .invalid(
        "round \(before.round)'s evaluation is still open: evaluations close in their models' order"
      )
    }
    if c.reports != r.reports {
      return .invalid(
        "lists \(c.reports.count) report(s), but the ledger holds \(r.reports.count) report commitment(s) for round \(c.round) with other clusters, keys, payloads or order"
      )
    }
    // Before the window ends, only every enrolled cluster's report closes it; after, whatever
    // arrived (fewer than minimumReports make no metric, but end the evaluation).
    let due = (r.committedAt ?? .distantPast).addingTimeInterval(Double(rules.window))
    if c.reports.count < clusters.count && time < due {
      return .invalid(
        "closes with \(c.reports.count) of \(clusters.count) enrolled clusters' reports before the \(rules.window) s reporting window ends"
      )
    }
    r.evaluation = c
    r.evaluationHash = hash
    rounds[c.round] = r
    return .valid
  }

  mutating func apply(
    _ e: MetricEndorsement, hash: Hash256, at time: Date, verifySignatures: Bool
  ) -> TransactionOutcome {
    let s = e.statement
    guard var r = rounds[s.round], let close = r.evaluation, let rules = genesis.evaluation else {
      return .invalid("round \(s.round)'s model has no evaluation-close")
    }
    if r.metric != nil { return .invalid("round \(s.round)'s metric is already committed") }
    if verifySignatures && !e.verifies(network: network) {
      return .invalid("the signature of endorsing key \(e.endorser.short) does not verify")
    }
    let endorser: Genesis.Endorser
    switch genesis.endorser(
      evidence: e.evidence, key: e.endorser, at: time, checkEvidence: verifySignatures)
    {
    case .success(let found): endorser = found
    case .failure(let refusal): return .invalid(refusal.description)
    }
    if let earlier = r.metricEndorsedBy[endorser.name], earlier != s.hash {
      return .invalid(
        "endorser \"\(endorser.name)\" already endorsed a different metric for round \(s.round) (equivocation)"
      )
    }
    if s.close != r.evaluationHash || s.model != close.model {
      return .invalid("combines another evaluation-close or model than round \(s.round)'s")
    }
    let named = s.counted + s.refused.map(\.cluster)
    if named.sorted() != close.reports.map(\.cluster).sorted() {
      return .invalid(
        "does not account for exactly the \(close.reports.count) report(s) round \(s.round)'s evaluation-close lists"
      )
    }
    if s.combination != rules.combination || s.parameters != rules.statementParameters {
      return .invalid("states other evaluation rules than the network's")
    }
    if s.counted.count < rules.minimumReports || Int(s.clusters) != s.counted.count {
      return .invalid(
        "counts \(s.counted.count) report(s); a metric combines at least \(rules.minimumReports) (minimumReports)"
      )
    }
    if !rules.publish && !s.published.isEmpty {
      return .invalid("publishes per-cluster figures, which the network's rules keep private")
    }
    if rules.publish {
      // One published line per counted report, of its own cluster, adding up to the total.
      guard s.published.map(\.cluster) == s.counted,
        s.published.allSatisfy({ $0.samples <= rules.sampleCap }),
        s.published.reduce(0, { $0 + $1.samples }) == s.samples
      else {
        return .invalid("publishes figures that are not one per counted report adding up to it")
      }
    }
    guard s.accuracy.isFinite, (0...1).contains(s.accuracy), s.loss.isFinite, s.loss >= 0,
      s.samples >= UInt64(s.clusters), s.samples <= UInt64(s.clusters) * rules.sampleCap
    else {
      return .invalid("states figures no valid reports combine to")
    }
    r.metricEndorsements[hash] = e
    r.metricEndorsedBy[endorser.name] = s.hash
    r.metricEndorserOf[hash] = endorser.name
    rounds[s.round] = r
    return .valid
  }

  mutating func apply(_ m: MetricCommit, at time: Date, verifySignatures: Bool)
    -> TransactionOutcome
  {
    guard var r = rounds[m.round], r.evaluation != nil else {
      return .invalid("round \(m.round)'s model has no evaluation-close")
    }
    if r.metric != nil { return .invalid("round \(m.round)'s metric is already committed") }
    var endorsers = Set<String>()
    for h in m.endorsements {
      guard let e = r.metricEndorsements[h], let name = r.metricEndorserOf[h] else {
        return .invalid(
          "names metric endorsement \(h.short), which is not a valid one of round \(m.round)")
      }
      if e.statement.hash != m.statement || e.statement.model != m.model {
        return .invalid("names metric endorsement \(h.short), which signs a different statement")
      }
      if verifySignatures, e.evidence.kind == .sgxDCAP,
        case .failure(let refusal) = genesis.endorser(
          evidence: e.evidence, key: e.endorser, at: time)
      {
        return .invalid(
          "names metric endorsement \(h.short) by \"\(name)\", whose evidence no longer holds at the commit's time: \(refusal)"
        )
      }
      endorsers.insert(name)
    }
    if endorsers.count < genesis.endorsementThreshold {
      return .invalid(
        "has \(endorsers.count) distinct metric endorsement(s); genesis requires \(genesis.endorsementThreshold)"
      )
    }
    r.metric = m
    rounds[m.round] = r
    return .valid
  }
}
