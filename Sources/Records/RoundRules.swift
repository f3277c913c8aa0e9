import Canonical

/// How updates are weighted in an average.
public enum Weighting: String, Codable, Sendable, CaseIterable {
  /// By training samples (FedAvg as McMahan et al.), each claim capped by the round.
  case samples
  /// Equally: each cluster has an equal say whatever its data.
  case equal
  /// By contributing devices: every device behind an update counts once, whatever its
  /// cluster's size (each claim at most the devices its cluster enrolled).
  case devices
}

/// How the accepted updates are combined.
public enum AggregationRule: Equatable, Sendable, CustomStringConvertible {
  /// Weighted mean (FedAvg, FedProx).
  case mean
  /// Coordinate-wise median.
  case median
  /// Coordinate-wise mean after dropping the `beta` fraction of largest and of smallest values.
  case trimmedMean(beta: Double)
  /// Krum (select 1) or Multi-Krum (select `select`, default n - f) for up to `f` attackers.
  case krum(f: Int, select: Int?)

  public var description: String {
    switch self {
    case .mean: "mean"
    case .median: "median"
    case .trimmedMean(let beta): "trimmed-mean(beta \(beta))"
    case .krum(let f, let select):
      select == 1 ? "krum(f \(f))" : "multi-krum(f \(f)\(select.map { ", select \($0)" } ?? ""))"
    }
  }
}

/// Everything that decides a round's result besides its updates: the rule and its parameters,
/// the weighting, the norm bound, the fixed-point scale, the fewest updates it may aggregate and
/// the most samples one update may claim.
///
/// A round-open carries them, the ledger accepts only the network's own (genesis), and an
/// enclave takes them from the round-open the ledger proves, never from its host: so a host
/// cannot pick a rule that keeps one update, a scale that publishes per-update facts, or a
/// cohort of one.
public struct RoundRules: CanonicalCodable, Equatable, Sendable {
  public var rule: AggregationRule
  public var weighting: Weighting
  /// Updates with a larger L2 norm are scaled down to it.
  public var normBound: Double?
  /// Fixed-point resolution: values are multiples of 2^-fractionalBits (0 to 30).
  public var fractionalBits: Int
  /// The fewest updates a round may close with, and the fewest an enclave will aggregate.
  public var minimumCohort: Int
  /// The most training samples one update may claim; a larger claim rejects that update. The
  /// ledger admits at most `capacity` updates a round, so weights never exceed 2^31 in all.
  public var sampleCap: UInt64
  /// The largest payload (sealed update) one commitment may name, at most `maximumPayload`:
  /// set near what the model's update takes, so that a few clusters declaring huge payloads
  /// cannot use up a round's `maximumRoundBytes` and shut the others out.
  public var payloadCap: UInt64
  /// The most devices one cluster may enrol with, and so the most one update may claim: under
  /// weighting by device, the largest weight (as `sampleCap` under weighting by samples).
  public var deviceCap: UInt64
  /// Secure aggregation (privacy mode secagg): each cluster masks its update so that the
  /// aggregators learn only the sum. Nil: updates are aggregated one by one.
  public var secureAggregation: SecAggRules?

  /// The largest sample cap: the fixed-point sum holds a total weight of 2^31.
  public static let maximumSampleCap: UInt64 = 1 << 31
  /// The most devices a cluster may enrol, and so the largest weight an update weighted by its
  /// devices can have.
  public static let maximumDevices: UInt64 = 1 << 16
  public static let defaultSampleCap: UInt64 = 1 << 20
  public static let defaultMinimumCohort = 3
  /// The most updates one round holds: what an enclave request carries.
  public static let maximumUpdates = 100_000
  /// The largest update payload (sealed envelope) a commitment may name, and the most payload
  /// bytes one round may hold: a round must fit one enclave request (at most 1 GiB).
  public static let maximumPayload: UInt64 = 64 << 20
  public static let maximumRoundBytes: UInt64 = 512 << 20

  public init(
    rule: AggregationRule = .mean, weighting: Weighting = .samples, normBound: Double? = nil,
    fractionalBits: Int = 20, minimumCohort: Int = RoundRules.defaultMinimumCohort,
    sampleCap: UInt64 = RoundRules.defaultSampleCap,
    payloadCap: UInt64 = RoundRules.maximumPayload,
    deviceCap: UInt64 = RoundRules.maximumDevices, secureAggregation: SecAggRules? = nil
  ) {
    self.rule = rule
    self.weighting = weighting
    self.normBound = normBound
    self.fractionalBits = fractionalBits
    self.minimumCohort = minimumCohort
    self.sampleCap = sampleCap
    self.payloadCap = payloadCap
    self.deviceCap = deviceCap
    self.secureAggregation = secureAggregation
  }

  /// The payload cap for updates of a model with `parameters` values: their float32 bytes and
  /// 64 KiB for the payload header and the envelope around it.
  public static func payloadCap(parameters: Int) -> UInt64 {
    min(maximumPayload, UInt64(max(0, parameters)) * 4 + (64 << 10))
  }

  /// Updates a round may hold: every weight at most the cap, and 2^31 in all; no more than
  /// one enclave request carries; and under Krum, whose pairwise distances grow with the square
  /// of the count, no more than `maximumKrumUpdates`.
  public var capacity: Int {
    let byWeight = Int(Self.maximumSampleCap / maximumWeight)
    if case .krum = rule { return min(Self.maximumKrumUpdates, byWeight) }
    return min(Self.maximumUpdates, byWeight)
  }

  /// The largest weight one update can have under the weighting.
  public var maximumWeight: UInt64 {
    switch weighting {
    case .samples: max(sampleCap, 1)
    case .equal: 1
    case .devices: max(deviceCap, 1)
    }
  }

  /// The most updates a Krum round holds: 4096 x 4096 distances are 128 MiB.
  public static let maximumKrumUpdates = 4096

  /// Nil when the rules can be used; else what is wrong, naming the field.
  public var problem: String? {
    if minimumCohort < 1 { return "minimumCohort is \(minimumCohort); it must be at least 1" }
    if !(1...Self.maximumSampleCap).contains(sampleCap) {
      return "sampleCap is \(sampleCap); it must be 1 to 2^31"
    }
    if !(1...Self.maximumDevices).contains(deviceCap) {
      return "deviceCap is \(deviceCap); it must be 1 to \(Self.maximumDevices)"
    }
    if !(1...Self.maximumPayload).contains(payloadCap) {
      return "payloadCap is \(payloadCap); it must be 1 to \(Self.maximumPayload) (64 MiB)"
    }
    if capacity < minimumCohort {
      return
        "the largest weight (\(weighting.rawValue): \(maximumWeight)) leaves room for \(capacity) update(s) a round (2^31 / it), fewer than minimumCohort \(minimumCohort)"
    }
    if !(0...30).contains(fractionalBits) {
      return "fractionalBits is \(fractionalBits); it must be 0 to 30"
    }
    if let normBound,
      !(normBound >= Double(Float.leastNormalMagnitude)
        && normBound <= Double(Float.greatestFiniteMagnitude))
    {
      return "normBound is \(normBound); it must be positive and finite as a float32"
    }
    if let secureAggregation {
      if let problem = secureAggregation.problem { return problem }
      if rule != .mean {
        return
          "rule is \(ruleName); secure aggregation shows the aggregators only the sum, so only the mean can run"
      }
      if normBound == nil {
        return
          "secure aggregation needs normBound: each cluster clips its own update to it, since no aggregator sees one"
      }
      if minimumCohort < 3 {
        return
          "minimumCohort is \(minimumCohort); secure aggregation needs at least 3, or a sum of two would give each cluster the other's update"
      }
    }
    switch rule {
    case .mean, .median: break
    case .trimmedMean(let beta):
      if !(beta >= 0 && beta < 0.5) || beta.sign == .minus {
        return "beta is \(beta); it must be at least 0 and below 0.5"
      }
    case .krum(let f, let select):
      if f < 0 || f > 1 << 20 { return "f is \(f); it must be 0 to 2^20" }
      if let select, select < minimumCohort {
        return
          "select is \(select): Krum would keep fewer updates than minimumCohort \(minimumCohort), and so publish fewer than a cohort"
      }
      if let select, select > 1 << 20 { return "select is \(select); it must be at most 2^20" }
    }
    return nil
  }

  /// The statement's rule, as text.
  public var ruleName: String { "\(rule)" }

  /// The statement's parameters: everything that, with the rule, decides the result.
  public var statementParameters: [Setting] {
    var s = [
      Setting("fixed-point.fractional-bits", "\(fractionalBits)"),
      Setting("minimum-cohort", "\(minimumCohort)"),
      Setting("payload-cap", "\(payloadCap)"),
      Setting("device-cap", "\(deviceCap)"),
      Setting("sample-cap", "\(sampleCap)"),
      Setting("weighting", weighting.rawValue),
    ]
    if let normBound { s.append(Setting("norm-bound", "\(normBound)")) }
    if let secureAggregation { s += secureAggregation.statementParameters }
    return s.sorted(by: Setting.precedes)
  }

  public func encode(to w: inout CanonicalWriter) {
    switch rule {
    case .mean: w.u8(0)
    case .median: w.u8(1)
    case .trimmedMean(let beta):
      w.u8(2)
      w.f64(beta)
    case .krum(let f, let select):
      w.u8(3)
      w.u32(UInt32(clamping: f))
      w.optional(select) { $0.u32(UInt32(clamping: $1)) }
    }
    let weightingTag: UInt8 =
      switch weighting {
      case .samples: 0
      case .equal: 1
      case .devices: 2
      }
    w.u8(weightingTag)
    w.optional(normBound) { $0.f64($1) }
    w.u8(UInt8(clamping: fractionalBits))
    w.u32(UInt32(clamping: minimumCohort))
    w.u64(sampleCap)
    w.u64(payloadCap)
    w.u64(deviceCap)
    w.optional(secureAggregation) { $1.encode(to: &$0) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let tag = try r.u8("rules rule")
    switch tag {
    case 0: rule = .mean
    case 1: rule = .median
    case 2: rule = .trimmedMean(beta: try r.f64("rules trimmed-mean beta"))
    case 3:
      let f = Int(try r.u32("rules krum f"))
      let select = try r.optional("rules krum select") { r throws(CanonicalDecodingError) in
        Int(try r.u32("rules krum select"))
      }
      rule = .krum(f: f, select: select)
    default: throw .unknownKind(field: "rules rule", tag: Int(tag))
    }
    let w = try r.u8("rules weighting")
    guard w <= 2 else { throw .unknownKind(field: "rules weighting", tag: Int(w)) }
    weighting = [Weighting.samples, .equal, .devices][Int(w)]
    normBound = try r.optional("rules norm bound") { r throws(CanonicalDecodingError) in
      try r.f64("rules norm bound")
    }
    fractionalBits = Int(try r.u8("rules fixed-point bits"))
    minimumCohort = Int(try r.u32("rules minimum cohort"))
    sampleCap = try r.u64("rules sample cap")
    payloadCap = try r.u64("rules payload cap")
    deviceCap = try r.u64("rules device cap")
    secureAggregation = try r.optional("rules secure aggregation") {
      r throws(CanonicalDecodingError) in try SecAggRules(from: &r)
    }
    if let problem { throw .invalid(field: "rules", problem: problem) }
  }
}
