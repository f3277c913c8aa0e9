import Federation
import Foundation
import Ledger
import Records

/// What a ledger node does next in the network's rounds, decided from its ledger alone, so
/// that no node leads: every node computes the same steps from the same ledger, and the
/// ledger takes the first valid proposal of each.
///
/// Opening, closing and aborting a round fall to one node per round (its coordinator, by
/// round number); each other node steps in after `rank` times the failover wait, so a silent
/// coordinator only delays a round. Aggregating, committing and releasing are every node's own.
public struct RoundSteps: Sendable {
  /// A step, and after how many failover waits this node takes it (0: at once); a `quick`
  /// step waits a short grace per rank instead (a commit only wants proposing once, by
  /// anyone).
  public struct Planned: Sendable, Equatable {
    public var step: RoundStep
    public var rank: Int
    public var quick: Bool

    public init(step: RoundStep, rank: Int, quick: Bool = false) {
      self.step = step
      self.rank = rank
      self.quick = quick
    }
  }

  /// The network's configuration, as genesis records it.
  public let configuration: SimulationConfiguration
  /// This node's genesis name, its endorser's name (what the ledger counts endorsements
  /// by), and the genesis nodes in order.
  public let node: String
  public let endorser: String
  public let nodes: [String]
  /// How long a round takes updates before it closes on those that arrived (or aborts).
  public let roundTimeout: TimeInterval

  public init(
    configuration: SimulationConfiguration, node: String, endorser: String? = nil,
    nodes: [String], roundTimeout: TimeInterval
  ) {
    self.configuration = configuration
    self.node = node
    self.endorser = endorser ?? node
    self.nodes = nodes
    self.roundTimeout = roundTimeout
  }

  /// The clusters asked to train in `round` (by ledger name): the simulation's sample.
  public func participants(round: UInt64) -> [String] {
    Participants.sample(
      round: Int(round), clusters: configuration.clusters,
      fraction: configuration.participation.fraction, seed: configuration.seed
    ).map { "cluster-\($0)" }
  }

  /// This node's place after `round`'s coordinator (0: it coordinates).
  public func rank(round: UInt64) -> Int {
    guard let me = nodes.firstIndex(of: node), !nodes.isEmpty else { return nodes.count }
    let coordinator = Int((round &- 1) % UInt64(nodes.count))
    return (me - coordinator + nodes.count) % nodes.count
  }

  /// When this node first saw the newest round open and close, by its own clock: a round's
  /// deadline runs from there, not from a block's time, which the node that cut the block
  /// chose (within the nodes' clock skew).
  public struct Sightings: Sendable, Equatable {
    public var opened: Date?
    public var closed: Date?
    public init(opened: Date? = nil, closed: Date? = nil) {
      self.opened = opened
      self.closed = closed
    }
  }

  /// The steps `state` calls for at `now`; `held` says whether this node holds a blob.
  public func next(
    _ state: LedgerState, now: Date, seen: Sightings = .init(), held: (Hash256) -> Bool
  ) -> [Planned] {
    // The model file first: clusters wait for it to train the next round.
    release(state, held: held) + evaluation(state, now: now)
      + training(state, now: now, seen: seen, held: held)
  }

  /// The commit step the ledger would call for right behind `endorsement` of `round`, if it
  /// completes the quorum: `state` is the stored ledger's and `beyond` the transactions the
  /// log holds past it. The node whose endorsement is the k-th proposes the commit (and the
  /// next round's open) with it, in one block, instead of a coordinator a block later.
  ///
  /// Nothing here is verified (this node's endorsement its enclave made; the log's are when
  /// their blocks are built): the ledger judges the proposal as any other, so a forged or
  /// late entry read ahead only costs a refused commit, after which the coordinator proposes.
  public func commitBehind(
    _ endorsement: [UInt8], round: UInt64, state: LedgerState, beyond: [[UInt8]], now: Date,
    seen: Sightings = .init(), held: (Hash256) -> Bool
  ) -> RoundStep? {
    let stamp = max(UInt64(now.timeIntervalSince1970 * 1000), state.lastTimestamp)
    let (next, outcomes) = state.evaluate(beyond + [endorsement], timestamp: stamp) { _ in false }
    guard outcomes.last?.isValid == true else { return nil }
    return self.next(next, now: now, seen: seen, held: held).lazy.map(\.step).first {
      switch $0 {
      case .commit(let c), .commitThenOpen(let c, _): c.round == round
      default: false
      }
    }
  }

  /// The newest committed model's file, if this node lacks it (the next round may be open
  /// already: it opens in the commit's block).
  private func release(_ state: LedgerState, held: (Hash256) -> Bool) -> [Planned] {
    guard let commit = state.newestCommit(), !held(commit.modelBlob) else { return [] }
    return [Planned(step: .release(round: commit.round), rank: 0)]
  }

  /// The steps of the newest round.
  private func training(
    _ state: LedgerState, now: Date, seen: Sightings, held: (Hash256) -> Bool
  ) -> [Planned] {
    let current = state.currentRound
    guard let r = state.rounds[current] else {
      return open(current + 1, state, now: now)
    }
    // A round that asks other clusters than the schedule does (a node's own choice) is not
    // aggregated: any node proposes its abort at once.
    if !r.ended && r.open.participants != participants(round: current) {
      return [
        Planned(
          step: .abort(
            round: current, reason: "it asks other clusters than the network's schedule"),
          rank: 0)
      ]
    }
    if r.ended { return open(current + 1, state, now: now) }
    let rank = rank(round: current)
    guard r.close != nil else {
      let all = !r.open.participants.isEmpty && r.entries.count == r.open.participants.count
      let late = seen.opened.map { now.timeIntervalSince($0) >= roundTimeout } ?? false
      guard all || late else { return [] }
      let cohort = r.open.rules.minimumCohort
      if r.entries.count >= cohort { return [Planned(step: .close(round: current), rank: rank)] }
      return [
        Planned(
          step: .abort(
            round: current, reason: RoundAbortReason.tooFewArrived(r.entries.count, cohort: cohort)
          ), rank: rank)
      ]
    }
    var steps: [Planned] = []
    if r.endorsedBy[endorser] == nil {
      steps.append(Planned(step: .aggregate(round: current), rank: 0))
    }
    if let commit = r.commitCandidate(threshold: state.genesis.endorsementThreshold) {
      // The next round's coordinator proposes the commit, and the next round's open right
      // behind it (one block for both) unless the evaluation of the model before is still
      // going; the others step in after a short grace each (were they all to propose the
      // commit at once, it would often land a block before the open).
      let rank = self.rank(round: current + 1)
      if let next = openBehind(commit, state, now: now) {
        steps.append(
          Planned(step: .commitThenOpen(commit, participants: next), rank: rank, quick: true))
      } else {
        steps.append(Planned(step: .commit(commit), rank: rank, quick: true))
      }
    } else if let closed = seen.closed, now.timeIntervalSince(closed) >= roundTimeout {
      // No statement found k endorsers in time (the nodes disagree, or too many are down).
      steps.append(
        Planned(
          step: .abort(
            round: current,
            reason:
              "no statement found \(state.genesis.endorsementThreshold) endorsements within \(Int(roundTimeout)) s of the close"
          ), rank: rank))
    }
    return steps
  }

  /// The federated evaluation of the newest committed models: the close, once every enrolled
  /// cluster reported or the reporting window is up (the newest round only, on the schedule
  /// the clusters follow); each node's combination of the closed reports; the metric commit.
  private func evaluation(_ state: LedgerState, now: Date) -> [Planned] {
    guard let rules = state.genesis.evaluation else { return [] }
    var steps: [Planned] = []
    // The newest model and the one before (judged while the newest's successor trains).
    let newest = state.newestCommit()
    let before = newest.flatMap { state.newestCommit(before: $0.round) }
    // Evaluations close in their models' order (the ledger refuses a close while the one
    // before is open).
    var earlierOpen = false
    for round in [before?.round, newest?.round].compactMap({ $0 }) {
      guard let r = state.rounds[round], let committedAt = r.committedAt else { continue }
      if let close = r.evaluation {
        guard r.metric == nil else { continue }
        if r.metricEndorsedBy[endorser] == nil && close.reports.count >= rules.minimumReports {
          steps.append(Planned(step: .combine(round: round), rank: 0))
        }
        if let m = r.metricCommitCandidate(threshold: state.genesis.endorsementThreshold) {
          steps.append(Planned(step: .commitMetric(m), rank: 0))
        }
      } else if state.evaluationOpen(round),
        round % UInt64(max(1, rules.every)) == 0 || round == UInt64(configuration.rounds)
      {
        let all = r.reports.count >= state.clusters.count
        let due = now >= committedAt.addingTimeInterval(Double(rules.window))
        if (all || due) && !earlierOpen {
          steps.append(Planned(step: .closeEvaluation(round: round), rank: rank(round: round)))
        }
        earlierOpen = earlierOpen || round % UInt64(max(1, rules.every)) == 0
      }
    }
    return steps
  }

  /// Who the round after `commit`'s is to ask, if it may open in the same block as the commit:
  /// the schedule wants another model, the evaluation of the model before is over (this one's
  /// runs while the next round trains), and every cluster asked is enrolled.
  private func openBehind(_ commit: ModelCommit, _ state: LedgerState, now: Date) -> [String]? {
    let committed = state.rounds.values.count { $0.commit != nil }
    guard committed + 1 < configuration.rounds,
      state.evaluationPending(after: commit.round, at: now) == nil
    else { return nil }
    let asked = participants(round: commit.round + 1)
    return asked.allSatisfy({ state.clusters[$0] != nil }) ? asked : nil
  }

  private func open(_ round: UInt64, _ state: LedgerState, now: Date) -> [Planned] {
    // The schedule counts models, not rounds: an aborted round does not use one up.
    let committed = state.rounds.values.count { $0.commit != nil }
    guard committed < configuration.rounds else { return [] }
    // The model before is being evaluated (the ledger would refuse the open).
    if state.evaluationPending(before: round, at: now) != nil { return [] }
    // With enclaves, clusters seal to the group key: none is recorded yet.
    if state.genesis.endorsers.contains(where: { $0.kind != .genesisKey }), state.groupKey == nil {
      return []
    }
    let asked = participants(round: round)
    // A round opens once every cluster it asks is enrolled (the ledger refuses it before).
    guard asked.allSatisfy({ state.clusters[$0] != nil }) else { return [] }
    return [Planned(step: .open(round: round, participants: asked), rank: rank(round: round))]
  }
}

/// One step a node takes in a round.
public enum RoundStep: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// Propose the round-open, asking `participants` to train.
  case open(round: UInt64, participants: [String])
  /// Propose the round-close on the commitments the ledger holds.
  case close(round: UInt64)
  /// Propose ending the round without a model.
  case abort(round: UInt64, reason: String)
  /// Aggregate the closed round and submit this node's endorsement.
  case aggregate(round: UInt64)
  /// Propose the model commit k endorsements allow.
  case commit(ModelCommit)
  /// Propose the model commit and, right behind it, the next round's open from its model.
  case commitThenOpen(ModelCommit, participants: [String])
  /// Get the committed model's file into this node's blob store.
  case release(round: UInt64)
  /// Propose the evaluation-close of the round's model on the reports the ledger holds.
  case closeEvaluation(round: UInt64)
  /// Combine the closed reports and submit this node's metric endorsement.
  case combine(round: UInt64)
  /// Propose the metric commit k metric endorsements allow.
  case commitMetric(MetricCommit)

  /// What the step settles: two steps with one slot are one proposal (the commit a node
  /// proposes names every matching endorsement so far, so one more endorsement makes another
  /// commit step, not another commit to propose).
  public var slot: String {
    switch self {
    case .commit(let c), .commitThenOpen(let c, _): "commit \(c.round)"
    case .commitMetric(let m): "metric commit \(m.round)"
    default: description
    }
  }

  public var description: String {
    switch self {
    case .open(let r, let p): "open round \(r) for \(p.count) cluster(s)"
    case .close(let r): "close round \(r)"
    case .abort(let r, let why): "abort round \(r) (\(why))"
    case .aggregate(let r): "aggregate round \(r)"
    case .commit(let c): "commit round \(c.round)'s model \(c.model.short)"
    case .commitThenOpen(let c, let p):
      "commit round \(c.round)'s model \(c.model.short) and open round \(c.round + 1) for \(p.count) cluster(s)"
    case .release(let r): "fetch round \(r)'s model"
    case .closeEvaluation(let r): "close the evaluation of round \(r)'s model"
    case .combine(let r): "combine round \(r)'s evaluation reports"
    case .commitMetric(let m): "commit round \(m.round)'s metric"
    }
  }
}
