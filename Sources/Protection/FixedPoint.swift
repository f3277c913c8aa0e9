/// Fixed-point numbers for updates: what enclaves aggregate so that every node computes the
/// same bytes. Integer sums do not depend on the order they are added in, unlike float sums.
public struct FixedPoint: Sendable, Equatable, Codable {
  /// Bits after the binary point: values are multiples of 2^-fractionalBits.
  public let fractionalBits: Int

  /// 2^-20 (about 1e-6) resolution over ±2048: far finer than an SGD step, far wider than a
  /// clipped update.
  public static let standard = FixedPoint(fractionalBits: 20)

  public init(fractionalBits: Int) {
    precondition((0...30).contains(fractionalBits), "fractional bits must be 0 to 30")
    self.fractionalBits = fractionalBits
  }

  public var scale: Double { Double(1 << fractionalBits) }
  /// The largest value that encodes without saturating.
  public var maximum: Double { Double(Int32.max) / scale }

  /// Encodes `values`, rounding to nearest (ties away from zero) and saturating at the range;
  /// reports how many saturated (non-finite values saturate too, NaN to zero).
  public func encode(_ values: [Float]) -> (values: [Int32], saturated: Int) {
    let s = scale
    var q = [Int32](repeating: 0, count: values.count)
    let saturated = q.withUnsafeMutableBufferPointer { out in
      values.withUnsafeBufferPointer { v in
        var saturated = 0
        for i in 0..<v.count {
          // v x 2^k is exact, and so is adding a half: a Float has 24 significant bits, a
          // Double 53. Truncating then rounds to nearest, ties away from zero, without libm.
          let y = Double(v[i]) * s
          var x = y + Double(signOf: y, magnitudeOf: 0.5)  // branch-free: signs are random
          if !(x > -2_147_483_649 && x < 2_147_483_648) {
            // Out of range, infinite or NaN: saturate (NaN to zero) and count it.
            saturated += 1
            x = x.isNaN ? 0 : (x > 0 ? 2_147_483_647 : -2_147_483_648)
          }
          out[i] = Int32(truncatingIfNeeded: Int64(x))
        }
        return saturated
      }
    }
    return (q, saturated)
  }

  public func decode(_ values: [Int32]) -> [Float] {
    let s = scale
    return values.map { Float(Double($0) / s) }
  }
}

/// Why fixed-point aggregation refused an input.
public enum AggregationError: Error, Equatable, CustomStringConvertible {
  case shapeMismatch(expected: Int, got: Int)
  case weightOutOfRange(Int64)
  case totalWeightTooLarge
  case empty

  public var description: String {
    switch self {
    case .shapeMismatch(let e, let g): "the update has \(g) values, the model \(e)"
    case .weightOutOfRange(let w): "weight \(w) is not between 1 and 2^31"
    case .totalWeightTooLarge: "the weights add up to more than 2^31"
    case .empty: "no update was added"
    }
  }
}

/// A weighted sum of fixed-point updates in 64-bit integers: exact, so the mean is the same
/// bytes whatever order the updates came in.
public struct FixedPointSum: Sendable {
  public private(set) var sums: [Int64]
  public private(set) var totalWeight: Int64 = 0
  public private(set) var count = 0

  public init(count: Int) { sums = [Int64](repeating: 0, count: count) }

  /// Adds `weight` x `values`. With total weight at most 2^31 and values in Int32, no partial
  /// sum can exceed 2^62, so nothing overflows.
  public mutating func add(_ values: [Int32], weight: Int64) throws(AggregationError) {
    guard values.count == sums.count else {
      throw .shapeMismatch(expected: sums.count, got: values.count)
    }
    guard weight >= 1, weight <= 1 << 31 else { throw .weightOutOfRange(weight) }
    guard totalWeight + weight <= 1 << 31 else { throw .totalWeightTooLarge }
    totalWeight += weight
    count += 1
    sums.withUnsafeMutableBufferPointer { s in
      values.withUnsafeBufferPointer { v in
        for i in 0..<s.count { s[i] &+= weight &* Int64(v[i]) }
      }
    }
  }

  /// The weighted mean, each value divided by the total weight and rounded to nearest with
  /// ties away from zero.
  public func mean() throws(AggregationError) -> [Int32] {
    guard totalWeight > 0 else { throw .empty }
    let w = totalWeight
    return sums.map { Self.mean(of: $0, weight: w) }
  }

  /// One value of the mean: `sum` / `weight` (> 0) rounded to nearest, ties away from zero.
  /// Every path that aggregates fixed-point updates (enclaves, secure aggregation) divides
  /// with it, so they agree to the bit.
  @inline(__always)
  public static func mean(of sum: Int64, weight w: Int64) -> Int32 {
    let q = sum / w
    let r = sum % w
    // |r| * 2 >= w rounds away from zero.
    let adjust: Int64 = (r.magnitude * 2 >= w.magnitude) ? (sum < 0 ? -1 : 1) : 0
    return Int32(clamping: q + adjust)
  }
}
