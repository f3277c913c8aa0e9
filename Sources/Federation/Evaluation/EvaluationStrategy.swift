import Aggregation
import Learning
import Records

/// The evaluation half of a round (as Flower's strategies have one): who is asked to judge a
/// committed model on their held-out data, and how their reports combine into the
/// consortium's metric.
public protocol EvaluationStrategy: Sendable {
  /// The clusters asked to evaluate round `round`'s model, among `clusters`; empty when the
  /// round is not evaluated.
  func evaluators(round: Int, lastRound: Int, clusters: [ClusterID], seed: UInt64) -> [ClusterID]
  /// The metric of valid `reports` (at least one).
  func combine(_ reports: [EvaluationReport]) -> (accuracy: Double, loss: Double)
  /// The combination's name, as metrics and the ledger show it.
  var combination: String { get }
}

/// The built-in evaluation half: every `every` rounds (and the last), a seeded `fraction` of
/// the clusters evaluates; reports combine by `combination`.
public struct StandardEvaluation: EvaluationStrategy {
  public var every: Int
  public var fraction: Double
  public var rule: ReportCombination

  public init(every: Int = 1, fraction: Double = 1, rule: ReportCombination = .mean) {
    self.every = max(1, every)
    self.fraction = fraction
    self.rule = rule
  }

  public var combination: String { rule.rawValue }

  public func evaluators(round: Int, lastRound: Int, clusters: [ClusterID], seed: UInt64)
    -> [ClusterID]
  {
    guard round % every == 0 || round == lastRound, !clusters.isEmpty else { return [] }
    var rng = SeededGenerator(seed: seed, domain: "simulation.evaluate.\(round)")
    let count = max(1, Int((fraction * Double(clusters.count)).rounded()))
    return rng.shuffled(clusters).prefix(count).sorted()
  }

  /// The enclaves' own combination (`ReportCombination.combine`), so a run without a ledger
  /// gives the same figure as the one the ledger records.
  public func combine(_ reports: [EvaluationReport]) -> (accuracy: Double, loss: Double) {
    rule.combine(
      reports.map {
        ReportFigures(accuracy: $0.accuracy, loss: $0.loss, samples: UInt64(max(0, $0.samples)))
      })
  }
}
