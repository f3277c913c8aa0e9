import CGMP

/// GF(p) for p = 2^256 + 297, the smallest prime above 2^256: every 32-byte secret is an
/// element, and an element is 33 bytes.
enum PrimeField {
  static let elementBytes = 33
  /// p, big-endian.
  static let primeBytes: [UInt8] = [1] + [UInt8](repeating: 0, count: 30) + [0x01, 0x29]

  static func prime() -> BigNumber { BigNumber(bigEndian: primeBytes) }

  /// An element uniform in [0, p), from the system's CSPRNG, by rejection.
  static func random(below p: BigNumber) -> BigNumber {
    var rng = SystemRandomNumberGenerator()
    while true {
      var bytes = (0..<elementBytes).map { _ in UInt8.random(in: 0...255, using: &rng) }
      bytes[0] &= 1
      let x = BigNumber(bigEndian: bytes)
      if x < p { return x }
    }
  }
}
