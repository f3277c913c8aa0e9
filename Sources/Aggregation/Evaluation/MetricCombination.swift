import Records

/// One counted report's figures.
public struct ReportFigures: Equatable, Sendable {
  public var accuracy: Double
  public var loss: Double
  public var samples: UInt64

  public init(accuracy: Double, loss: Double, samples: UInt64) {
    self.accuracy = accuracy
    self.loss = loss
    self.samples = samples
  }
}

extension ReportCombination {
  /// The metric of `reports` (at least one), summed in their order so that every combiner gets
  /// the same bits.
  public func combine(_ reports: [ReportFigures]) -> (accuracy: Double, loss: Double) {
    precondition(!reports.isEmpty)
    switch self {
    case .mean:
      let total = Double(reports.reduce(0) { $0 + $1.samples })
      return (
        reports.reduce(0) { $0 + $1.accuracy * Double($1.samples) } / total,
        reports.reduce(0) { $0 + $1.loss * Double($1.samples) } / total
      )
    case .median:
      return (Self.median(reports.map(\.accuracy)), Self.median(reports.map(\.loss)))
    }
  }

  private static func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  }
}

/// Why a proven evaluation cannot give a metric.
public enum MetricError: Error, Equatable, CustomStringConvertible {
  /// Fewer reports than the rules' minimum are valid: no metric is recorded, and every
  /// combiner says the same.
  case tooFewReports(round: UInt64, minimum: Int)

  public var description: String {
    switch self {
    case .tooFewReports(let round, let minimum):
      // How many fell short is not said: with so few reports, it would tell about them.
      "fewer valid reports on round \(round)'s model than the \(minimum) its rules need for a metric"
    }
  }
}

extension MetricStatement {
  /// The statement for a proven `close` (whose transaction hashes to `closeHash`), given each
  /// report read in the close's order: its payload, or why it could not be read (the cluster's
  /// doing). Enclaves and clear nodes both compute it here, so they sign the same bytes.
  public static func combining(
    _ close: EvaluationClose, closeHash: Hash256, reports: [Result<ReportPayload, ReportUnreadable>]
  ) throws(MetricError) -> MetricStatement {
    precondition(reports.count == close.reports.count)
    let check = ReportCheck(round: close.round, model: close.model, rules: close.rules)
    var counted: [String] = []
    var figures: [ReportFigures] = []
    var published: [Published] = []
    var refused: [MetricStatement.Refused] = []
    for (entry, read) in zip(close.reports, reports) {
      switch read {
      case .failure(let why): refused.append(.init(cluster: entry.cluster, reason: why.reason))
      case .success(let report):
        if let problem = check.problem(report, from: entry.cluster) {
          refused.append(.init(cluster: entry.cluster, reason: problem))
          continue
        }
        counted.append(entry.cluster)
        figures.append(.init(accuracy: report.accuracy, loss: report.loss, samples: report.samples))
        if close.rules.publish {
          published.append(
            .init(
              cluster: entry.cluster, accuracy: report.accuracy, loss: report.loss,
              samples: report.samples))
        }
      }
    }
    guard figures.count >= close.rules.minimumReports, !figures.isEmpty else {
      throw .tooFewReports(round: close.round, minimum: close.rules.minimumReports)
    }
    let (accuracy, loss) = close.rules.combination.combine(figures)
    return MetricStatement(
      round: close.round, model: close.model, close: closeHash,
      combination: close.rules.combination, parameters: close.rules.statementParameters,
      accuracy: accuracy, loss: loss, clusters: UInt32(figures.count),
      samples: figures.reduce(0) { $0 + $1.samples }, counted: counted, refused: refused,
      published: published)
  }
}

/// Why a report's payload could not be read: its cluster's doing, recorded as its refusal.
public struct ReportUnreadable: Error, Equatable, Sendable {
  public var reason: String
  public init(_ reason: String) { self.reason = reason }

  /// The payload is not of the size its commitment declared.
  public static let sizeDiffers = ReportUnreadable(
    "its payload is not of the size its commitment declared")
}
