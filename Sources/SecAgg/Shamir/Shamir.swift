import CGMP

/// One share of a secret: the polynomial's value at a nonzero point (the holder's number).
public struct ShamirShare: Equatable, Sendable {
  /// x: the holder's number, never 0 (the secret is the value at 0).
  public var point: UInt32
  /// y: the value, 33 big-endian bytes below p.
  public var value: [UInt8]

  public init(point: UInt32, value: [UInt8]) {
    self.point = point
    self.value = value
  }
}

/// Why a secret could not be split or recovered.
public enum ShamirError: Error, Equatable, CustomStringConvertible {
  case secretSize(Int)
  case threshold(Int, points: Int)
  case zeroPoint
  case repeatedPoint(UInt32)
  case tooFewShares(have: Int, need: Int)
  /// A share's value is not an element of the field.
  case invalidShare(point: UInt32)
  /// The shares interpolate to a number above 2^256: they were not dealt from one secret.
  case inconsistentShares

  public var description: String {
    switch self {
    case .secretSize(let n): "a secret is 32 bytes, not \(n)"
    case .threshold(let t, let n): "a threshold of \(t) needs 1 <= t <= \(n), the number of holders"
    case .zeroPoint: "no share may be at point 0, which is the secret"
    case .repeatedPoint(let x): "two shares are at point \(x)"
    case .tooFewShares(let have, let need): "\(have) shares, \(need) needed"
    case .invalidShare(let x): "the share at point \(x) is not a field element"
    case .inconsistentShares: "the shares were not dealt from one 32-byte secret"
    }
  }
}

/// Shamir's secret sharing of 32-byte secrets over GF(2^256 + 297): any `threshold` shares
/// recover the secret, fewer reveal nothing about it. The polynomial's coefficients come from
/// the system's CSPRNG.
public enum Shamir {
  public static let shareBytes = PrimeField.elementBytes

  /// Shares of `secret` at `points`, any `threshold` of which recover it.
  public static func split(_ secret: [UInt8], threshold: Int, points: [UInt32])
    throws(ShamirError) -> [ShamirShare]
  {
    guard secret.count == 32 else { throw .secretSize(secret.count) }
    guard threshold >= 1, threshold <= points.count else {
      throw .threshold(threshold, points: points.count)
    }
    try checkPoints(points)
    let p = PrimeField.prime()
    // a0 = the secret; a1 ... a(t-1) uniform in the field.
    let coefficients =
      [BigNumber(bigEndian: secret)] + (1..<threshold).map { _ in PrimeField.random(below: p) }
    let y = BigNumber()
    return points.map { x in
      // Horner: y = (...(a(t-1) x + a(t-2)) x + ...) x + a0 mod p.
      __gmpz_set_ui(y.p, 0)
      for a in coefficients.reversed() {
        __gmpz_mul_ui(y.p, y.p, UInt(x))
        __gmpz_add(y.p, y.p, a.p)
        __gmpz_mod(y.p, y.p, p.p)
      }
      return ShamirShare(point: x, value: y.bigEndian(count: shareBytes)!)
    }
  }

  /// The secret the first `threshold` of `shares` interpolate to at 0 (Lagrange). Shares a
  /// consistent dealer dealt give the same secret from any `threshold` of them; which ones are
  /// used is the caller's choice, so that every aggregator makes the same.
  public static func combine(_ shares: [ShamirShare], threshold: Int) throws(ShamirError)
    -> [UInt8]
  {
    guard threshold >= 1 else { throw .threshold(threshold, points: shares.count) }
    guard shares.count >= threshold else {
      throw .tooFewShares(have: shares.count, need: threshold)
    }
    let used = Array(shares.prefix(threshold))
    try checkPoints(used.map(\.point))
    let p = PrimeField.prime()
    var ys: [BigNumber] = []
    for share in used {
      guard share.value.count == shareBytes else { throw .invalidShare(point: share.point) }
      let y = BigNumber(bigEndian: share.value)
      guard y < p else { throw .invalidShare(point: share.point) }
      ys.append(y)
    }
    let sum = BigNumber(0)
    let numerator = BigNumber()
    let denominator = BigNumber()
    let difference = BigNumber()
    let term = BigNumber()
    for (i, share) in used.enumerated() {
      // λi = Π xj / (xj − xi) over j ≠ i, mod p.
      __gmpz_set_ui(numerator.p, 1)
      __gmpz_set_ui(denominator.p, 1)
      for (j, other) in used.enumerated() where j != i {
        __gmpz_mul_ui(numerator.p, numerator.p, UInt(other.point))
        __gmpz_mod(numerator.p, numerator.p, p.p)
        __gmpz_set_si(difference.p, Int(other.point) - Int(share.point))
        __gmpz_mul(denominator.p, denominator.p, difference.p)
        __gmpz_mod(denominator.p, denominator.p, p.p)
      }
      // The points are distinct and below p, so the denominator is invertible.
      _ = __gmpz_invert(denominator.p, denominator.p, p.p)
      __gmpz_mul(term.p, numerator.p, denominator.p)
      __gmpz_mul(term.p, term.p, ys[i].p)
      __gmpz_add(sum.p, sum.p, term.p)
      __gmpz_mod(sum.p, sum.p, p.p)
    }
    guard let secret = sum.bigEndian(count: 32) else { throw .inconsistentShares }
    return secret
  }

  private static func checkPoints(_ points: [UInt32]) throws(ShamirError) {
    var seen = Set<UInt32>()
    for x in points {
      guard x != 0 else { throw .zeroPoint }
      guard seen.insert(x).inserted else { throw .repeatedPoint(x) }
    }
  }
}
