import Records

/// The checks every evaluation report passes before it counts, whoever combines the reports
/// (an enclave, a node in the clear, or a simulation without a ledger).
///
/// Reasons name no figure a cluster claimed: they are written where per-cluster figures are not.
public struct ReportCheck: Sendable {
  public var round: UInt64
  public var model: Hash256
  public var rules: EvaluationRules

  public init(round: UInt64, model: Hash256, rules: EvaluationRules) {
    self.round = round
    self.model = model
    self.rules = rules
  }

  /// Why `report`, committed by `cluster`, cannot count; nil when it counts.
  public func problem(_ report: ReportPayload, from cluster: String) -> String? {
    guard report.cluster == cluster else {
      return "was committed by \(cluster) but names another cluster inside"
    }
    guard report.round == round else { return "is for round \(report.round), not round \(round)" }
    guard report.model == model else {
      return "is of model \(report.model.short), not the one round \(round) committed"
    }
    return problem(
      accuracy: report.accuracy, loss: report.loss, samples: report.samples,
      classCounts: report.classCounts)
  }

  /// Why these figures are impossible, or nil.
  public func problem(accuracy: Double, loss: Double, samples: UInt64, classCounts: [UInt64])
    -> String?
  {
    guard accuracy.isFinite, (0...1).contains(accuracy) else {
      return "claims an accuracy outside [0, 1]"
    }
    guard loss.isFinite, loss >= 0 else { return "claims a negative or non-finite loss" }
    guard samples > 0, samples <= rules.sampleCap else {
      return "claims a sample count outside 1 to the held-out cap of \(rules.sampleCap)"
    }
    // Each count at most the total first, so that the sum cannot overflow.
    guard classCounts.count == rules.classes, classCounts.allSatisfy({ $0 <= samples }),
      classCounts.reduce(0, +) == samples
    else {
      return "its per-class counts are not \(rules.classes) counts adding up to its samples"
    }
    return nil
  }
}
