import Foundation
import Records

// The federated evaluation of a committed model, as the ledger judges it: one evaluation-close
// per committed round fixing the reports (each signed by its enrolled cluster) under genesis's
// evaluation rules; endorsements of what they combine to; and the commit of the statement k
// endorsers agree on.

extension LedgerState {
  mutating func apply(_ c: EvaluationClose, hash: Hash256, verifySignatures: Bool)
    -> TransactionOutcome
  {
    if let refusal = nodeSignatureProblem(c, verify: verifySignatures) { return refusal }
    guard let rules = genesis.evaluation else {
      return .invalid("this network records no federated metric (genesis has no evaluation rules)")
    }
    guard var r = rounds[c.round], let commit = r.commit else {
      return .invalid("round \(c.round) has no committed model to evaluate")
    }
    if r.evaluation != nil { return .invalid("round \(c.round)'s model was already evaluated") }
    if c.model != commit.model {
      return .invalid(
        "evaluates model \(c.model.short), but round \(c.round) committed \(commit.model.short)")
    }
    if c.rules != rules {
      return .invalid(
        "carries evaluation rules \(c.rules.combination.rawValue) \(c.rules.statementParameters.map { "\($0.key)=\($0.value)" }), not the network's (genesis): \(rules.combination.rawValue) \(rules.statementParameters.map { "\($0.key)=\($0.value)" })"
      )
    }
    if c.reports.count < rules.minimumReports {
      return .invalid(
        "holds \(c.reports.count) report(s); an evaluation needs at least \(rules.minimumReports) (minimumReports)"
      )
    }
    var clustersSeen = Set<String>()
    var payloadsSeen = Set<Hash256>()
    for e in c.reports {
      guard let key = clusters[e.cluster] else {
        return .invalid("lists a report from \"\(e.cluster)\", which is not an enrolled cluster")
      }
      guard key == e.key else {
        return .invalid("lists \"\(e.cluster)\" with key \(e.key.short), not its enrolled key")
      }
      guard clustersSeen.insert(e.cluster).inserted else {
        return .invalid("lists two reports from \"\(e.cluster)\"")
      }
      guard payloadsSeen.insert(e.payload).inserted else {
        return .invalid("lists report payload \(e.payload.short) twice")
      }
      if verifySignatures && !e.verifies(network: network, round: c.round, model: c.model) {
        return .invalid("the report signature of cluster \"\(e.cluster)\" does not verify")
      }
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
    let named = s.counted + s.refused.map(\.update)
    if named.sorted() != close.payloads.sorted() {
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
