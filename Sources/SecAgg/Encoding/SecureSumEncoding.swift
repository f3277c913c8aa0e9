import Protection

/// How a cluster's update becomes words that masked sums add up exactly: the enclaves'
/// fixed-point format (`FixedPoint`, so both paths round alike), each value clipped to
/// ±`bound`, multiplied by the cluster's weight, and the weight appended as the last word.
/// The modulus is the smaller of 2^32 and 2^64 under which the largest sum the configured
/// cohort can make does not wrap; the mean is then the enclaves' fixed-point mean, to the bit.
///
/// Error: each value of the mean is within 2^-f of the exact weighted mean of the clipped
/// values (half a step from each update's rounding, half from the division), f being the
/// format's fractional bits (2^-20 for `FixedPoint.standard`).
public struct SecureSumEncoding: Equatable, Sendable {
  public let format: FixedPoint
  /// Values are clipped to ±bound before encoding.
  public let bound: Double
  /// The largest total weight a cohort may have (the most clusters times the largest weight).
  public let maximumTotalWeight: Int64
  public let modulus: MaskModulus

  /// The largest encoded magnitude, bound × 2^f rounded.
  public var maximumMagnitude: Int64 { Int64((bound * format.scale).rounded()) }

  public init(format: FixedPoint = .standard, bound: Double, maximumTotalWeight: Int64)
    throws(SecAggError)
  {
    guard bound > 0, bound <= format.maximum else {
      throw .invalidConfiguration(
        "the clipping bound is \(bound); it must be above 0 and at most \(format.maximum)")
    }
    guard maximumTotalWeight >= 1, maximumTotalWeight <= 1 << 31 else {
      throw .invalidConfiguration(
        "the maximum total weight is \(maximumTotalWeight); it must be 1 to 2^31")
    }
    self.format = format
    self.bound = bound
    self.maximumTotalWeight = maximumTotalWeight
    // |Σ w q| ≤ W × bound × 2^f must stay below half the modulus to decode as signed.
    let largest = Int64((bound * format.scale).rounded()).multipliedReportingOverflow(
      by: maximumTotalWeight)
    guard !largest.overflow, largest.partialValue < Int64.max else {
      throw .invalidConfiguration(
        "sums of \(maximumTotalWeight) weight would wrap even modulo 2^64")
    }
    modulus = largest.partialValue < 1 << 31 ? .bits32 : .bits64
  }

  /// Words per input for `count` values: the weighted values, then the weight.
  public func length(values count: Int) -> Int { count + 1 }

  /// `values` clipped, encoded, times `weight`, then the weight; and how many were clipped.
  public func encode<W: MaskWord>(_ values: [Float], weight: Int64, as: W.Type = W.self)
    throws(SecAggError) -> (words: [W], clipped: Int)
  {
    guard W.bitWidth == modulus.rawValue else {
      throw .invalidConfiguration(
        "this encoding sums modulo 2^\(modulus.rawValue), not 2^\(W.bitWidth)")
    }
    guard weight >= 1, weight <= maximumTotalWeight else {
      throw .invalidConfiguration("a weight of \(weight) is outside 1 to \(maximumTotalWeight)")
    }
    let b = Float(bound)
    var clipped = 0
    let inRange = values.map { v -> Float in
      if v.isNaN || v > b || v < -b {
        clipped += 1
        return v.isNaN ? 0 : min(max(v, -b), b)
      }
      return v
    }
    let (fixed, _) = format.encode(inRange)
    let limit = maximumMagnitude
    var words = [W](repeating: 0, count: values.count + 1)
    for i in 0..<fixed.count {
      // Rounding can put a value at the bound a half step past it: keep it inside.
      let q = min(max(Int64(fixed[i]), -limit), limit)
      words[i] = W(truncatingIfNeeded: q &* weight)
    }
    words[values.count] = W(truncatingIfNeeded: weight)
    return (words, clipped)
  }

  /// The weighted mean (fixed-point) and total weight a sum of encoded inputs stands for.
  public func mean<W: MaskWord>(of sum: [W]) throws(SecAggError) -> (
    mean: [Int32], totalWeight: Int64
  ) {
    guard let last = sum.last else { throw .invalidMessage("an empty sum") }
    let total = Int64(truncatingIfNeeded: UInt64(truncatingIfNeeded: last))
    guard total >= 1, total <= maximumTotalWeight else {
      throw .invalidMessage(
        "the sum's total weight is outside 1 to \(maximumTotalWeight): an input broke the encoding"
      )
    }
    let mean = sum.dropLast().map { word -> Int32 in
      // The word as a signed number modulo 2^bits.
      let signed: Int64 =
        W.bitWidth == 32
        ? Int64(Int32(truncatingIfNeeded: word))
        : Int64(truncatingIfNeeded: UInt64(truncatingIfNeeded: word))
      return FixedPointSum.mean(of: signed, weight: total)
    }
    return (mean, total)
  }
}
