import Canonical

/// How the clusters' evaluation reports combine into the consortium's metric.
public enum ReportCombination: String, Codable, Sendable, CaseIterable {
  /// Sample-weighted mean: every held-out sample counts once.
  case mean
  /// The median of the clusters' figures: a few lying clusters cannot move it far.
  case median
}

/// Everything that decides a model's federated metric besides the reports: how they combine,
/// the fewest that may be combined, the most held-out samples one may claim, the classes the
/// model tells apart, and whether each cluster's figures are published.
///
/// Genesis fixes them and every evaluation-close must carry exactly these, so an enclave takes
/// them from the close the ledger proves, never from its host: a host cannot combine one
/// report (publishing a plant's accuracy) or let a cluster claim a million held-out samples.
public struct EvaluationRules: CanonicalCodable, Equatable, Sendable, Codable {
  public var combination: ReportCombination
  /// The fewest valid reports a metric is computed from; fewer, and none is recorded.
  public var minimumReports: Int
  /// The most held-out samples one report may claim: public, like the training sample cap.
  public var sampleCap: UInt64
  /// The classes the model tells apart: each report has one count per class.
  public var classes: Int
  /// Whether the statement lists each counted cluster's accuracy, loss and samples.
  public var publish: Bool
  /// Every this many rounds the committed model is judged (the newest round's may always be):
  /// the next round opens only after such a round's evaluation closes, or its time is up.
  public var every: Int
  /// Seconds after a model commits that its clusters have to report: a close before then must
  /// list every enrolled cluster's report, so no node closes on a chosen few by closing early.
  public var window: Int

  /// The most reports one evaluation holds.
  public static let maximumReports = 100_000
  public static let maximumClasses = 1 << 16
  /// The largest sample cap: the weighted sums stay exact in a double.
  public static let maximumSampleCap: UInt64 = 1 << 31
  /// The largest report payload a node forwards to its aggregator: above any `reportCap`.
  public static let maximumReportBytes = 1 << 20
  /// The most report bytes one evaluation holds: an enclave request carries them all.
  public static let maximumEvaluationBytes: UInt64 = 256 << 20

  /// The largest report payload (sealed envelope) a commitment may name: a report's fields, a
  /// count per class, and the envelope around them.
  public var reportCap: UInt64 { 4096 + 8 * UInt64(max(0, classes)) }

  public init(
    combination: ReportCombination = .mean, minimumReports: Int = 3, sampleCap: UInt64,
    classes: Int, publish: Bool = false, every: Int = 1, window: Int = 60
  ) {
    self.combination = combination
    self.minimumReports = minimumReports
    self.sampleCap = sampleCap
    self.classes = classes
    self.publish = publish
    self.every = every
    self.window = window
  }

  /// Nil when the rules can be used; else what is wrong, naming the field.
  public var problem: String? {
    if !(1...Self.maximumReports).contains(minimumReports) {
      return "minimumReports is \(minimumReports); it must be 1 to \(Self.maximumReports)"
    }
    if !(1...Self.maximumSampleCap).contains(sampleCap) {
      return "sampleCap is \(sampleCap); it must be 1 to 2^31"
    }
    if !(2...Self.maximumClasses).contains(classes) {
      return "classes is \(classes); it must be 2 to \(Self.maximumClasses)"
    }
    if !(1...1_000_000).contains(every) { return "every is \(every); it must be 1 to 10^6" }
    if !(0...604_800).contains(window) {
      return "window is \(window) seconds; it must be 0 to 604,800 (a week)"
    }
    return nil
  }

  /// The statement's parameters: everything that, with the combination, decides the metric.
  public var statementParameters: [Setting] {
    [
      Setting("classes", "\(classes)"),
      Setting("every", "\(every)"),
      Setting("minimum-reports", "\(minimumReports)"),
      Setting("publish", publish ? "true" : "false"),
      Setting("sample-cap", "\(sampleCap)"),
      Setting("window", "\(window)"),
    ].sorted(by: Setting.precedes)
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(combination == .mean ? 0 : 1)
    w.u32(UInt32(clamping: minimumReports))
    w.u64(sampleCap)
    w.u32(UInt32(clamping: classes))
    w.bool(publish)
    w.u32(UInt32(clamping: every))
    w.u32(UInt32(clamping: window))
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let tag = try r.u8("evaluation combination")
    guard tag <= 1 else { throw .unknownKind(field: "evaluation combination", tag: Int(tag)) }
    combination = tag == 0 ? .mean : .median
    minimumReports = Int(try r.u32("evaluation minimum reports"))
    sampleCap = try r.u64("evaluation sample cap")
    classes = Int(try r.u32("evaluation classes"))
    publish = try r.bool("evaluation publish")
    every = Int(try r.u32("evaluation every"))
    window = Int(try r.u32("evaluation window"))
    if let problem { throw .invalid(field: "evaluation rules", problem: problem) }
  }
}
