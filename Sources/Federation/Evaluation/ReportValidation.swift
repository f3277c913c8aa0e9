import Aggregation
import Records

/// The checks every evaluation report passes before it counts: who may report (asked, once),
/// then its figures (`ReportCheck`, the enclaves' own check).
public struct ReportValidation: Sendable {
  /// The round whose committed model is evaluated, and that model's hash.
  public var round: Int
  public var modelHash: String
  /// Clusters that may report (enrolled and asked).
  public var asked: Set<ClusterID>
  /// The most samples one report may claim: public, like the training sample cap (the largest
  /// held-out split rounded up to a power of two), so that a cluster claiming more than any
  /// held-out split holds cannot outweigh the honest ones.
  public var sampleCap: UInt64
  /// Classes the model tells apart.
  public var classes: Int

  public init(
    round: Int, modelHash: String, asked: Set<ClusterID>, sampleCap: UInt64, classes: Int
  ) {
    self.round = round
    self.modelHash = modelHash
    self.asked = asked
    self.sampleCap = sampleCap
    self.classes = classes
  }

  /// Splits `reports` into those that count and those refused, with the reason; a cluster's
  /// second report is refused, its first judged.
  public func sort(_ reports: [EvaluationReport]) -> (
    valid: [EvaluationReport], refused: [RefusedReport]
  ) {
    let (admitted, refusedFirst) = admit(reports)
    var valid: [EvaluationReport] = []
    var refused = refusedFirst
    for r in admitted {
      if let problem = problem(r) {
        refused.append(.init(cluster: r.cluster, reason: problem))
      } else {
        valid.append(r)
      }
    }
    return (valid, refused)
  }

  /// The reports whose clusters may report, each cluster's first; the others refused. What a
  /// host can judge without reading a report (its figures may be sealed to the enclaves).
  public func admit(_ reports: [EvaluationReport]) -> (
    admitted: [EvaluationReport], refused: [RefusedReport]
  ) {
    var admitted: [EvaluationReport] = []
    var refused: [RefusedReport] = []
    var seen: Set<ClusterID> = []
    for r in reports {
      guard asked.contains(r.cluster) else {
        refused.append(
          .init(
            cluster: r.cluster,
            reason: "cluster \(r.cluster) was not asked to evaluate round \(round)"))
        continue
      }
      guard seen.insert(r.cluster).inserted else {
        refused.append(.init(cluster: r.cluster, reason: "a second report for this round"))
        continue
      }
      admitted.append(r)
    }
    return (admitted, refused)
  }

  /// Why `r`'s round, model or figures cannot count, or nil.
  public func problem(_ r: EvaluationReport) -> String? {
    guard r.round == round else { return "is for round \(r.round), not round \(round)" }
    guard r.modelHash == modelHash else {
      return "is of model \(r.modelHash.prefix(12)), not the one round \(round) committed"
    }
    guard r.samples >= 0, r.classCounts.allSatisfy({ $0 >= 0 }) else {
      return "claims a sample count outside 1 to the held-out cap of \(sampleCap)"
    }
    let check = ReportCheck(
      round: UInt64(max(0, round)), model: .zero,
      rules: EvaluationRules(sampleCap: max(1, sampleCap), classes: max(2, classes)))
    return check.problem(
      accuracy: r.accuracy, loss: r.loss, samples: UInt64(r.samples),
      classCounts: r.classCounts.map { UInt64($0) })
  }
}
