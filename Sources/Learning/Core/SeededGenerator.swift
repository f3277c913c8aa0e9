import Crypto
import CryptoExtras
import Foundation

/// A deterministic random number generator for initialisation, shuffling and dropout.
///
/// The stream is the ChaCha20 keystream under a key derived with SHA-256 from a 64-bit seed and a
/// domain label, so the same seed gives the same numbers on every machine, and unrelated uses of
/// one seed ("init", "shuffle", ...) draw independent streams. It uses a vetted cipher rather
/// than a hand-written generator.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private let key: SymmetricKey
  private var nonce: UInt64 = 0
  private var counter: UInt32 = 0
  private var block: [UInt64] = []
  private var index = 0

  private static let blockBytes = 4096

  /// Creates the stream for `seed` in the named `domain`.
  public init(seed: UInt64, domain: String = "") {
    var material = Data("fedledger.rng.v1".utf8)
    withUnsafeBytes(of: seed.littleEndian) { material.append(contentsOf: $0) }
    material.append(contentsOf: Array(domain.utf8))
    self.key = SymmetricKey(data: SHA256.hash(data: material))
  }

  public mutating func next() -> UInt64 {
    if index == block.count { refill() }
    defer { index += 1 }
    return block[index]
  }

  private mutating func refill() {
    var nonceBytes = [UInt8](repeating: 0, count: 12)
    withUnsafeBytes(of: nonce.littleEndian) { nonceBytes.replaceSubrange(0..<8, with: $0) }
    let zeros = [UInt8](repeating: 0, count: Self.blockBytes)
    // Parameters are valid by construction (32-byte key, 12-byte nonce), so this cannot fail.
    let stream = try! Insecure.ChaCha20CTR.encrypt(
      zeros, using: key, counter: .init(offset: counter),
      nonce: .init(data: nonceBytes))
    block = stream.withUnsafeBytes { raw in
      Array(raw.bindMemory(to: UInt64.self)).map { UInt64(littleEndian: $0) }
    }
    index = 0
    let blocksUsed = UInt32(Self.blockBytes / 64)
    if counter > UInt32.max - blocksUsed {
      counter = 0
      nonce += 1
    } else {
      counter += blocksUsed
    }
  }

  /// A uniform integer in 0..<bound (multiply-shift; bias below 2^-40 for bounds under 2^24).
  public mutating func nextInt(below bound: Int) -> Int {
    precondition(bound > 0)
    return Int(next().multipliedFullWidth(by: UInt64(bound)).high)
  }

  /// `values` in a random order (Fisher-Yates), the same on every platform and toolchain.
  public mutating func shuffled<T>(_ values: [T]) -> [T] {
    var values = values
    if values.count < 2 { return values }
    for i in stride(from: values.count - 1, to: 0, by: -1) {
      values.swapAt(i, nextInt(below: i + 1))
    }
    return values
  }

  /// A uniform Float in [0, 1) with 24 random bits.
  public mutating func nextUniform() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }

  /// A standard normal sample (Box-Muller).
  public mutating func nextGaussian() -> Float {
    let u1 = Double((next() >> 11) + 1) * (1.0 / 9_007_199_254_740_993.0)
    let u2 = Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
  }
}
