import Aggregation
import Protection
import Records
import SecAgg

/// Privacy mode secagg's arithmetic over a round's rules: a cluster checks and clips its own
/// update as an enclave would (`UpdateValidation`), weights it as the rules say, and encodes it
/// for a masked sum; the aggregator decodes the sum into the enclaves' fixed-point mean. For
/// the same honest updates the delta is the one `FixedPointAggregation` computes under the
/// same rules, to the bit.
///
/// The mode needs a norm bound (each cluster enforces it on itself; the aggregator sees only
/// the sum) and the mean: the per-update rules need updates one by one.
public struct SecAggArithmetic: Sendable {
  public let rules: RoundRules
  public let parameterCount: Int
  public let encoding: SecureSumEncoding

  /// Why the rules cannot run under secure aggregation, or nil.
  public static func unsupported(_ rules: RoundRules) -> String? {
    guard rules.rule == .mean else {
      return
        "secure aggregation shows the aggregator only the sum, so rule \(rules.ruleName) (which needs each update) cannot run; use the mean with a norm bound, or privacy tee"
    }
    guard rules.normBound != nil else {
      return
        "secure aggregation needs a norm bound: each cluster clips its own update to it, since the aggregator never sees one"
    }
    return nil
  }

  /// The arithmetic for a cohort of `cohort` clusters training a model of `parameterCount`.
  public init(rules: RoundRules, cohort: Int, parameterCount: Int) throws(SecAggError) {
    if let why = Self.unsupported(rules) { throw .invalidConfiguration(why) }
    let format = FixedPoint(fractionalBits: rules.fractionalBits)
    let (total, overflow) = rules.maximumWeight.multipliedReportingOverflow(
      by: UInt64(max(cohort, 1)))
    guard !overflow, total <= 1 << 31 else {
      throw .invalidConfiguration(
        "\(cohort) clusters of weight up to \(rules.maximumWeight) could weigh more than 2^31")
    }
    self.rules = rules
    self.parameterCount = parameterCount
    encoding = try SecureSumEncoding(
      format: format, bound: min(rules.normBound!, format.maximum),
      maximumTotalWeight: Int64(total))
  }

  /// Words per masked input: the weighted values and the weight.
  public var length: Int { encoding.length(values: parameterCount) }

  /// The cluster's update, checked, clipped, weighted and encoded; or why the cluster must not
  /// send it (the reason an enclave would have rejected it with).
  public func encode<W: MaskWord>(
    _ values: [Float], sampleCount: UInt64, devices: UInt32, as: W.Type = W.self
  ) -> Result<(words: [W], clipped: Bool), UpdateValidation.Refusal> {
    let candidate = FixedPointAggregation.Candidate(
      values: values, sampleCount: sampleCount, devices: devices)
    let passed: (values: [Float], weight: Int64, clipped: Bool)
    switch FixedPointAggregation(rules: rules).checked(candidate, parameterCount: parameterCount) {
    case .success(let p): passed = p
    case .failure(let refusal): return .failure(refusal)
    }
    do {
      let (words, _) = try encoding.encode(passed.values, weight: passed.weight, as: W.self)
      return .success((words, passed.clipped))
    } catch {
      return .failure(.init(reason: "\(error)"))
    }
  }

  /// The fixed-point mean delta and the total weight a sum of encoded inputs stands for.
  public func delta<W: MaskWord>(of sum: [W]) throws(SecAggError) -> (
    delta: [Int32], totalWeight: Int64
  ) {
    guard sum.count == length else {
      throw .invalidMessage("the sum has \(sum.count) words, not \(length)")
    }
    let (mean, weight) = try encoding.mean(of: sum)
    return (mean, weight)
  }
}
