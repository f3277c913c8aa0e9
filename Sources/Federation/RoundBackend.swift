import Dispatch
import Learning
import Records

/// Where a round's updates go and how they become the next global model.
///
/// The simulation trains the clusters and hands each update over in cluster order; the backend
/// does the rest. `StrategyBackend` aggregates in this process with a strategy (no ledger); the
/// simulated network hands each update to its cluster's agent, orders it on the ledger and has
/// every node's aggregator (in the clear or in an enclave) endorse the result.
public protocol RoundBackend: AnyObject {
  /// The round opens on `plan`, starting from `base`.
  func open(_ plan: RoundPlan, base: Model) throws
  /// An update arrived; a returned reason keeps it out of the round.
  func submit(_ update: ClusterUpdate) throws -> String?
  /// No more updates: the round aggregates what was submitted (at least the minimum cohort) or
  /// ends without a model.
  func finish(round: Int, base: Model) throws -> RoundConclusion
  /// The clusters `evaluators` are about to judge `model`, the model standing after round
  /// `round`: with a ledger, each checks it against the newest commit's receipt first. Returns
  /// the clusters that refuse it, with the reason; they report nothing.
  func prepareEvaluation(of model: Model, round: Int, by evaluators: [ClusterID]) throws
    -> [ClusterID: String]
  /// Records the evaluation of `model`, the model standing after round `round`: `reports`
  /// (each from a cluster asked, once) go to the nodes protected as the mode asks, the nodes'
  /// aggregators combine them under `rules`, and the metric k endorse is committed beside the
  /// model. Returns that metric, or nil where this backend records none (the simulation then
  /// combines the reports itself, with the same checks and arithmetic).
  func recordEvaluation(
    _ reports: [EvaluationReport], of model: Model, round: Int, rules: EvaluationRules
  ) throws -> FederatedMetric?
}

extension RoundBackend {
  public func prepareEvaluation(of model: Model, round: Int, by evaluators: [ClusterID]) throws
    -> [ClusterID: String]
  { [:] }

  public func recordEvaluation(
    _ reports: [EvaluationReport], of model: Model, round: Int, rules: EvaluationRules
  ) throws -> FederatedMetric? { nil }
}

/// How a round ended, and where the backend's time went.
public struct RoundConclusion: Sendable {
  /// The next model and each update's fate; `aborted` says why there is none.
  public var outcome: AggregationOutcome
  /// Of the backend's time this round, what recording it took (ledger transactions, blocks,
  /// sealing, receipts); the rest was aggregation.
  public var recordingNanoseconds: UInt64
  /// Of the aggregation, the time inside enclaves (privacy mode tee), if any.
  public var enclaveNanoseconds: UInt64?

  public init(
    outcome: AggregationOutcome, recordingNanoseconds: UInt64 = 0,
    enclaveNanoseconds: UInt64? = nil
  ) {
    self.outcome = outcome
    self.recordingNanoseconds = recordingNanoseconds
    self.enclaveNanoseconds = enclaveNanoseconds
  }
}

/// Aggregates in this process with a strategy, streaming each update into it as it arrives:
/// no ledger, no nodes.
public final class StrategyBackend: RoundBackend {
  public let strategy: any Strategy
  public let minimumCohort: Int
  private var submitted = 0

  public init(strategy: any Strategy, minimumCohort: Int) {
    self.strategy = strategy
    self.minimumCohort = minimumCohort
  }

  public func open(_ plan: RoundPlan, base: Model) throws {
    submitted = 0
    strategy.begin(round: plan.round, baseModelHash: plan.baseModelHash, global: base.parameters)
  }

  public func submit(_ update: ClusterUpdate) throws -> String? {
    submitted += 1
    strategy.add(update)
    return nil
  }

  public func finish(round: Int, base: Model) throws -> RoundConclusion {
    guard submitted >= minimumCohort else {
      // The strategy is not finished (its server optimiser does not move); the next round's
      // `open` starts it afresh.
      return RoundConclusion(
        outcome: .init(
          parameters: base.parameters, decisions: [],
          aborted: RoundAbortReason.tooFewArrived(submitted, cohort: minimumCohort)))
    }
    var outcome = strategy.finish()
    let passed = outcome.decisions.filter { $0.verdict != .rejected }.count
    if passed < minimumCohort {
      outcome.aborted = RoundAbortReason.tooFewPassed(passed, cohort: minimumCohort)
    }
    return RoundConclusion(outcome: outcome)
  }
}

/// Why a round ends without a model, in the words the ledger's round-abort records.
public enum RoundAbortReason {
  public static func tooFewArrived(_ arrived: Int, cohort: Int) -> String {
    "\(arrived) update(s) arrived; the round needs at least \(cohort) (minimum cohort)"
  }
  public static func tooFewPassed(_ passed: Int, cohort: Int) -> String {
    "\(passed) update(s) passed validation and the rule; the round needs at least \(cohort) (minimum cohort)"
  }
}
