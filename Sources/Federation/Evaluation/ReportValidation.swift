/// The checks every evaluation report passes before it counts, whoever combines them.
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
    var valid: [EvaluationReport] = []
    var refused: [RefusedReport] = []
    var seen: Set<ClusterID> = []
    for r in reports {
      guard seen.insert(r.cluster).inserted else {
        refused.append(.init(cluster: r.cluster, reason: "a second report for this round"))
        continue
      }
      if let problem = problem(r) {
        refused.append(.init(cluster: r.cluster, reason: problem))
      } else {
        valid.append(r)
      }
    }
    return (valid, refused)
  }

  /// Why `r` cannot count, or nil.
  public func problem(_ r: EvaluationReport) -> String? {
    guard asked.contains(r.cluster) else {
      return "cluster \(r.cluster) was not asked to evaluate round \(round)"
    }
    guard r.round == round else { return "is for round \(r.round), not round \(round)" }
    guard r.modelHash == modelHash else {
      return "is of model \(r.modelHash.prefix(12)), not the one round \(round) committed"
    }
    // The reasons name no claimed figure: they are written where per-cluster figures are not.
    guard r.accuracy.isFinite, (0...1).contains(r.accuracy) else {
      return "claims an accuracy outside [0, 1]"
    }
    guard r.loss.isFinite, r.loss >= 0 else { return "claims a negative or non-finite loss" }
    guard r.samples > 0, UInt64(r.samples) <= sampleCap else {
      return "claims a sample count outside 1 to the held-out cap of \(sampleCap)"
    }
    // Each count at most the total first, so that the sum cannot overflow.
    guard r.classCounts.count == classes,
      r.classCounts.allSatisfy({ (0...r.samples).contains($0) }),
      r.classCounts.reduce(0, +) == r.samples
    else {
      return "its per-class counts are not \(classes) counts adding up to its samples"
    }
    return nil
  }
}
