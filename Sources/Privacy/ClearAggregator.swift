import Aggregation
import Federation
import Learning
import Protection
import Records

/// Privacy mode none, node side: the node reads each update and runs the strategy on them
/// itself, then endorses the result with its genesis node key.
///
/// Every honest node computes the same statement from the same ledger-proven round, so k of
/// them agree; the host sees every update and every weight.
public final class ClearAggregator: RoundAggregator {
  public let strategy: any Strategy
  private let key: SigningKey
  private let network: Hash256
  /// The name each cluster has on the ledger.
  private let clusterName: @Sendable (ClusterID) -> String
  /// The statement this node endorsed last and its model's file, until it is committed.
  private var pending: (statement: Hash256, file: [UInt8])?

  public init(
    strategy: any Strategy, key: SigningKey, network: Hash256,
    clusterName: @escaping @Sendable (ClusterID) -> String
  ) {
    self.strategy = strategy
    self.key = key
    self.network = network
    self.clusterName = clusterName
  }

  public func aggregate(_ round: ClosedRound) throws -> AggregatorVerdict {
    pending = nil
    let close: RoundClose
    let open: RoundOpen
    let base: Model
    do {
      close = try RoundClose(transaction: round.close.transaction)
      open = try RoundOpen(transaction: round.open)
      base = try ModelFile.decode(round.baseModel, path: "round \(close.round) base model")
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    guard Hash256(hex: base.hash) == open.baseModel, close.updates.count == round.payloads.count
    else {
      throw AggregatorError.invalidRound(
        "the base model or the payloads do not match the round-open and round-close")
    }
    strategy.begin(round: Int(close.round), baseModelHash: base.hash, global: base.parameters)
    var impostors: [AggregationStatement.Rejected] = []
    var hashOf: [ClusterID: Hash256] = [:]
    for (entry, payload) in zip(close.updates, round.payloads) {
      guard Hash256.of(payload) == entry.payload else {
        throw AggregatorError.invalidRound(
          "the payload of \(entry.cluster) does not hash to its commitment")
      }
      let update: ClusterUpdate
      do {
        update = try ClusterUpdate(UpdatePayload(decoding: payload))
      } catch {
        impostors.append(.init(update: entry.payload, reason: "unreadable update: \(error)"))
        continue
      }
      // The ledger proves who committed the payload; the cluster named inside must be that one.
      guard clusterName(update.cluster) == entry.cluster, hashOf[update.cluster] == nil else {
        impostors.append(
          .init(
            update: entry.payload,
            reason: "names \(clusterName(update.cluster)) inside, but \(entry.cluster) committed it"
          ))
        continue
      }
      hashOf[update.cluster] = entry.payload
      strategy.add(update)
    }
    let outcome = strategy.finish()
    let cohort = open.rules.minimumCohort
    let passed = outcome.decisions.filter { $0.verdict != .rejected }.count
    guard passed >= cohort else {
      return .tooFewUpdates(RoundAbortReason.tooFewPassed(passed, cohort: cohort))
    }
    var accepted: [AggregationStatement.Accepted] = []
    var rejected = impostors
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
      rule: open.rules.ruleName, parameters: open.rules.statementParameters, newModel: newModel,
      newModelBlob: Hash256.of(file), newModelSize: UInt64(file.count))
    pending = (statement.hash, file)
    return .endorsed(
      Endorsement(network: network, statement: statement, key: key),
      decisions: outcome.decisions)
  }

  public func release(_ commit: InclusionProof) throws -> [UInt8] {
    let committed: ModelCommit
    do {
      committed = try ModelCommit(transaction: commit.transaction)
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    guard let pending, pending.statement == committed.statement else {
      throw AggregatorError.notEndorsed(statement: committed.statement)
    }
    return pending.file
  }
}
