import Dispatch
import Protection
import Records

/// A round's aggregation as enclaves run it: validation, norm bounding, a robust rule, and a
/// weighted mean in fixed-point integers, so that every enclave given the same updates in the
/// same (ledger) order produces the same bytes.
///
/// Floating point appears only where its result is the same on every IEEE 754 machine: single
/// operations in a fixed order (clipping scale, Krum distances), never a sum whose order could
/// vary.
public struct FixedPointAggregation: Sendable, Equatable {
  public var rule: AggregationRule
  public var weighting: Weighting
  /// Updates with a larger L2 norm are scaled down to it (and noted as clipped).
  public var normBound: Float?
  public var format: FixedPoint
  /// The most samples one update may claim; a larger claim rejects that update alone.
  public var sampleCap: UInt64
  /// The most devices one update may claim (under weighting by device).
  public var deviceCap: UInt64

  public init(
    rule: AggregationRule = .mean, weighting: Weighting = .samples, normBound: Float? = nil,
    format: FixedPoint = .standard, sampleCap: UInt64 = RoundRules.defaultSampleCap,
    deviceCap: UInt64 = RoundRules.maximumDevices
  ) {
    self.rule = rule
    self.weighting = weighting
    self.normBound = normBound
    self.format = format
    self.sampleCap = sampleCap
    self.deviceCap = deviceCap
  }

  /// The aggregation a round's rules describe.
  public init(rules: RoundRules) {
    self.init(
      rule: rules.rule, weighting: rules.weighting, normBound: rules.normBound.map { Float($0) },
      format: FixedPoint(fractionalBits: rules.fractionalBits), sampleCap: rules.sampleCap,
      deviceCap: rules.deviceCap)
  }

  /// The note an accepted update carries when it was scaled down to the norm bound. It says
  /// no more: the norm itself would publish one cluster's update size.
  public static let clippedNote = "clipped"

  /// One update that opened and decoded.
  public struct Candidate: Sendable {
    public var values: [Float]
    public var sampleCount: UInt64
    /// The devices behind the update, as claimed (checked against enrolment by the caller).
    public var devices: UInt32
    public init(values: [Float], sampleCount: UInt64, devices: UInt32 = 1) {
      self.values = values
      self.sampleCount = sampleCount
      self.devices = devices
    }
  }

  /// What became of one update.
  public enum Verdict: Equatable, Sendable {
    /// Accepted, with a note if it was changed (`clippedNote`). Its weight stays inside.
    case accepted(note: String)
    case rejected(String)
  }

  public struct Outcome: Sendable {
    /// The aggregate delta in fixed point; nil when no update was accepted.
    public var delta: [Int32]?
    /// One per input, in input order.
    public var verdicts: [Verdict]
  }

  /// Aggregates `inputs` in their order; an input that is already a reason (it did not open or
  /// decode) stays rejected with it. Throws `totalWeightTooLarge` when more inputs than the
  /// sample cap leaves room for could weigh more than 2^31 in all (the ledger admits no such
  /// round): weights never decide which updates are kept.
  public func aggregate(_ inputs: [Outcome.Input], parameterCount: Int) throws(AggregationError)
    -> Outcome
  {
    let cap =
      switch weighting {
      case .samples: sampleCap
      case .equal: UInt64(1)
      case .devices: deviceCap
      }
    let (most, overflow) = cap.multipliedReportingOverflow(by: UInt64(inputs.count))
    guard cap >= 1, !overflow, most <= 1 << 31 else { throw .totalWeightTooLarge }
    var verdicts = [Verdict](repeating: .rejected(""), count: inputs.count)
    var kept: [(index: Int, values: [Int32], weight: Int64, note: String)] = []
    // Each update's checks and encoding are independent: done on every core, then taken in
    // input order.
    var checked = [Swift.Result<([Int32], Int64, String), Refusal>?](
      repeating: nil, count: inputs.count)
    checked.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      let me = self
      DispatchQueue.concurrentPerform(iterations: inputs.count) { i in
        switch inputs[i] {
        case .refused(let reason): out[i] = .failure(Refusal(text: reason))
        case .candidate(let c): out[i] = me.validate(c, parameterCount: parameterCount)
        }
      }
    }
    for (i, result) in checked.enumerated() {
      switch result! {
      case .failure(let reason):
        verdicts[i] = .rejected(reason.text)
      case .success(let (values, weight, note)):
        // At most the cap each, and at most 2^31 / cap inputs (checked above).
        kept.append((i, values, weight, note))
      }
    }
    guard !kept.isEmpty else { return Outcome(delta: nil, verdicts: verdicts) }

    let n = kept.count
    var selected = Array(0..<n)
    var rejections = [String?](repeating: nil, count: n)
    var delta: [Int32]
    switch rule {
    case .mean:
      delta = mean(kept.map { ($0.values, $0.weight) }, parameterCount: parameterCount)
    case .krum(let f, let select):
      let scores = krumScores(count: n, f: f) { a, b in
        kept[a].values.withUnsafeBufferPointer { x in
          kept[b].values.withUnsafeBufferPointer { y in
            var s = 0.0
            for k in 0..<x.count {
              let d = Double(Int64(x[k]) - Int64(y[k]))
              s += d * d
            }
            return s
          }
        }
      }
      (selected, rejections) = krumSelection(scores: scores, f: f, select: select)
      delta = mean(
        selected.map { (kept[$0].values, kept[$0].weight) }, parameterCount: parameterCount)
    case .median:
      delta = coordinateWise(kept.map(\.values), count: parameterCount, zero: 0) { column in
        // The midpoint of two Int32 values is an Int32.
        median(column) { Int32(roundedDivision(Int64($0) + Int64($1), 2)) }
      }
    case .trimmedMean(let beta):
      let trim = trimCount(n, beta: beta)
      delta = coordinateWise(kept.map(\.values), count: parameterCount, zero: 0) { column in
        var s: Int64 = 0
        for v in column.dropFirst(trim).dropLast(trim) { s += Int64(v) }
        return Int32(clamping: roundedDivision(s, Int64(column.count - 2 * trim)))
      }
    }

    for (k, entry) in kept.enumerated() {
      if let reason = rejections[k] {
        verdicts[entry.index] = .rejected(reason)
      } else {
        verdicts[entry.index] = .accepted(note: entry.note)
      }
    }
    return Outcome(delta: delta, verdicts: verdicts)
  }

  /// The next global parameters: `base` plus the aggregate delta.
  public func apply(_ delta: [Int32], to base: [Float]) -> [Float] {
    precondition(delta.count == base.count)
    let scale = format.scale
    var out = base
    for i in out.indices { out[i] += Float(Double(delta[i]) / scale) }
    return out
  }

  /// Why validation refused an update.
  struct Refusal: Error, Sendable {
    var text: String
  }

  /// An update checked (`UpdateValidation`), clipped, and weighted as the weighting says; or
  /// why it is refused. Everything that aggregates fixed-point updates (enclaves here, a
  /// cluster masking its own update under secure aggregation) checks and weighs with this.
  public func checked(_ c: Candidate, parameterCount: Int)
    -> Swift.Result<(values: [Float], weight: Int64, clipped: Bool), UpdateValidation.Refusal>
  {
    let passed: UpdateValidation.Passed
    switch UpdateValidation(
      parameterCount: parameterCount, sampleCap: sampleCap, normBound: normBound
    ).check(c.values, sampleCount: c.sampleCount) {
    case .success(let p): passed = p
    case .failure(let refusal): return .failure(refusal)
    }
    let weight: Int64
    switch weighting {
    case .samples: weight = Int64(c.sampleCount)
    case .equal: weight = 1
    case .devices:
      guard (1...deviceCap).contains(UInt64(c.devices)) else {
        return .failure(.init(reason: "claims a device count outside 1 to the cap of \(deviceCap)"))
      }
      weight = Int64(c.devices)
    }
    return .success((passed.values, weight, passed.clipped != nil))
  }

  private func validate(_ c: Candidate, parameterCount: Int)
    -> Swift.Result<
      ([Int32], Int64, String), Refusal
    >
  {
    let values: [Float]
    let weight: Int64
    let note: String
    switch checked(c, parameterCount: parameterCount) {
    case .success(let p):
      (values, weight, note) = (p.values, p.weight, p.clipped ? Self.clippedNote : "")
    case .failure(let refusal): return .failure(.init(text: refusal.reason))
    }
    let (fixed, saturated) = format.encode(values)
    guard saturated == 0 else {
      return .failure(
        .init(text: "has values beyond ±\(format.maximum), the fixed-point range"))
    }
    return .success((fixed, weight, note))
  }

  private func mean(_ updates: [([Int32], Int64)], parameterCount: Int) -> [Int32] {
    var sum = FixedPointSum(count: parameterCount)
    // Validation keeps each weight at least 1 and their total at most 2^31, the sum's limits.
    for (values, weight) in updates { try! sum.add(values, weight: weight) }
    return try! sum.mean()
  }
}

extension FixedPointAggregation.Outcome {
  /// An update as it reaches aggregation: opened and decoded, or refused with a reason.
  public enum Input: Sendable {
    case candidate(FixedPointAggregation.Candidate)
    case refused(String)
  }
}

/// a / b rounded to nearest, ties away from zero (b > 0).
func roundedDivision(_ a: Int64, _ b: Int64) -> Int64 {
  let q = a / b
  let r = a % b
  return r.magnitude * 2 >= b.magnitude ? q + (a < 0 ? -1 : 1) : q
}
