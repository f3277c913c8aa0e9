import Aggregation
import Federation
import Learning
import Ledger
import Protection
import Records
import RecordsJSON

/// Privacy mode none, node side: the node reads each update and runs the strategy on them
/// itself, then endorses the result with its genesis node key.
///
/// It reads only a round the ledger proves (`ProvenRound`, the enclave's own check), so whoever
/// hands it the round cannot swap, reorder or rename its updates; it checks each update's
/// round, base model and cluster against the close before the strategy sees it, and answers a
/// round it was asked before with the same endorsement, so it never signs two statements for
/// one round. Every honest node computes the same statement, so k of them agree; the host sees
/// every update and every weight.
public final class ClearAggregator: RoundAggregator {
  public let strategy: any Strategy
  let key: SigningKey
  let network: Hash256
  /// The ledger's nodes and their block quorum, from genesis: who proves a round.
  let nodes: Set<PublicKey>
  let quorum: Int
  /// The name each cluster has on the ledger.
  private let clusterName: @Sendable (ClusterID) -> String
  /// The last round this node answered: the round, the close's hash and its verdict, with the
  /// model's file when it endorsed one.
  private var last:
    (round: UInt64, close: Hash256, verdict: AggregatorVerdict, statement: Hash256?, file: [UInt8])?

  public init(
    strategy: any Strategy, key: SigningKey, network: Hash256, nodes: Set<PublicKey>,
    quorum: Int, clusterName: @escaping @Sendable (ClusterID) -> String
  ) {
    self.strategy = strategy
    self.key = key
    self.network = network
    self.nodes = nodes
    self.quorum = quorum
    self.clusterName = clusterName
  }

  public func aggregate(_ round: ClosedRound) throws -> AggregatorVerdict {
    let closeHash = Hash256.of(round.close.transaction)
    if let last, last.close == closeHash { return last.verdict }
    // The strategy's state (a server optimiser's) moves with each round, too.
    let (proven, base) = try NodeRound.prove(
      round, nodes: nodes, quorum: quorum, network: network, after: last?.round)
    let (close, open, rules) = (proven.close, proven.open, proven.rules)
    guard close.updates.count == round.payloads.count, close.updates.count <= rules.capacity
    else {
      throw AggregatorError.invalidRound(
        "\(round.payloads.count) payloads for \(close.updates.count) committed updates (at most \(rules.capacity))"
      )
    }
    // A node endorses a statement naming the round's rules: its strategy must run them.
    guard let bound = strategy as? any RuleBound else {
      throw AggregatorError.invalidRound(
        "this node's strategy (\(strategy.description)) cannot show that it runs the round's rules")
    }
    if let problem = bound.differs(from: rules) {
      throw AggregatorError.invalidRound("this node's strategy \(problem)")
    }
    strategy.begin(round: Int(close.round), baseModelHash: base.hash, global: base.parameters)
    var refused: [AggregationStatement.Rejected] = []
    var hashOf: [ClusterID: Hash256] = [:]
    for (entry, payload) in zip(close.updates, round.payloads) {
      guard Hash256.of(payload) == entry.payload else {
        throw AggregatorError.invalidRound(
          "the payload of \(entry.cluster) does not hash to its commitment")
      }
      func refuse(_ why: String) { refused.append(.init(update: entry.payload, reason: why)) }
      let update: ClusterUpdate
      do {
        update = try ClusterUpdate(UpdatePayload(decoding: payload))
      } catch {
        refuse("unreadable update: \(error)")
        continue
      }
      // The ledger proves who committed the payload; the cluster named inside must be that one,
      // and the update must be of this round and base model.
      guard clusterName(update.cluster) == entry.cluster, hashOf[update.cluster] == nil else {
        refuse("names \(clusterName(update.cluster)) inside, but \(entry.cluster) committed it")
        continue
      }
      // Under weighting by device, no more devices than the cluster enrolled with.
      if rules.weighting == .devices && !(1...Int(entry.devices)).contains(update.devices) {
        refuse(
          update.devices < 1
            ? "claims no devices"
            : "claims more devices than the \(entry.devices) its cluster enrolled with")
        continue
      }
      guard update.round == Int(close.round), update.baseModelHash == base.hash else {
        refuse(
          "is of round \(update.round) on base model \(update.baseModelHash.prefix(12)), not this round's"
        )
        continue
      }
      hashOf[update.cluster] = entry.payload
      strategy.add(update)
    }
    let outcome = strategy.finish()
    let passed = outcome.decisions.filter { $0.verdict != .rejected }.count
    guard passed >= rules.minimumCohort else {
      let verdict = AggregatorVerdict.tooFewUpdates(
        RoundAbortReason.tooFewPassed(passed, cohort: rules.minimumCohort))
      last = (close.round, closeHash, verdict, nil, [])
      return verdict
    }
    var accepted: [AggregationStatement.Accepted] = []
    var rejected = refused
    for d in outcome.decisions {
      guard let update = hashOf[d.cluster] else { continue }
      if d.verdict == .rejected {
        rejected.append(.init(update: update, reason: d.reason ?? "rejected"))
      } else {
        accepted.append(
          .init(
            update: update, note: d.verdict == .clipped ? FixedPointAggregation.clippedNote : ""))
      }
    }
    let model = try Model(architecture: base.architecture, parameters: outcome.parameters)
    guard let newModel = Hash256(hex: model.hash) else {
      throw AggregatorError.invalidRound("model hash \(model.hash) is not SHA-256")
    }
    let file = ModelFile.encode(model)
    let statement = AggregationStatement(
      round: close.round, baseModel: open.baseModel, accepted: accepted, rejected: rejected,
      rule: rules.ruleName, parameters: rules.statementParameters, newModel: newModel,
      newModelBlob: Hash256.of(file), newModelSize: UInt64(file.count))
    let verdict = AggregatorVerdict.endorsed(
      Endorsement(network: network, statement: statement, key: key),
      decisions: outcome.decisions, refused: refused)
    last = (close.round, closeHash, verdict, statement.hash, file)
    return verdict
  }

  public func release(_ commit: InclusionProof) throws -> [UInt8] {
    try NodeRound.release(commit, endorsed: last?.statement, file: last?.file ?? [])
  }
}

/// A strategy that can say whether it runs a round's rules. A node endorses only what a
/// strategy computed under the rules the ledger fixed, so in privacy mode none each node's
/// strategy must be one (the built-in one is).
public protocol RuleBound {
  /// How the strategy differs from `rules`, or nil when it runs exactly them.
  func differs(from rules: RoundRules) -> String?
}

extension StandardStrategy: RuleBound {
  /// How this strategy differs from the rules a round-open carries, if it does: a node must run
  /// the rules the ledger fixed, not its own configuration's.
  public func differs(from rules: RoundRules) -> String? {
    if rule != rules.rule { return "runs \(rule), the round's rules \(rules.rule)" }
    if weighting != rules.weighting {
      return "weighs by \(weighting.rawValue), the round's rules by \(rules.weighting.rawValue)"
    }
    if normBound.map(Double.init) != rules.normBound {
      return
        "bounds norms at \(normBound.map { "\($0)" } ?? "nothing"), the round's rules at \(rules.normBound.map { "\($0)" } ?? "nothing")"
    }
    if sampleCap != rules.sampleCap || minimumCohort != rules.minimumCohort {
      return
        "caps samples at \(sampleCap.map(String.init) ?? "nothing") with a minimum cohort of \(minimumCohort), the round's rules at \(rules.sampleCap) and \(rules.minimumCohort)"
    }
    return nil
  }
}
