import Crypto
import CryptoExtras
import Foundation

/// A deterministic stream of random numbers from a 32-byte seed: ChaCha20's keystream under a
/// key HKDF-SHA256 derives from the seed for one `purpose`. Masks, and the graph's permutation
/// from a public seed, are drawn from it: never from a generator with a short seed.
public struct Keystream: RandomNumberGenerator, Sendable {
  private let key: SymmetricKey
  private var nonce: UInt64 = 0
  private var block: [UInt64] = []
  private var index = 0

  private static let blockBytes = 4096

  /// The stream for `seed` (32 bytes) and `purpose`.
  public init(seed: [UInt8], purpose: String) throws(SecAggError) {
    guard seed.count == 32 else {
      throw .invalidConfiguration("a keystream's seed is 32 bytes, not \(seed.count)")
    }
    key = HKDF<SHA256>.deriveKey(
      inputKeyMaterial: SymmetricKey(data: seed), info: Data("fedledger/secagg/\(purpose)".utf8),
      outputByteCount: 32)
  }

  public mutating func next() -> UInt64 {
    if index == block.count { refill() }
    defer { index += 1 }
    return block[index]
  }

  /// A number uniform in 0..<bound, by rejection (no modulo bias), the same on every machine.
  public mutating func uniform(below bound: UInt64) -> UInt64 {
    precondition(bound > 0, "an empty range")
    let limit = UInt64.max - (UInt64.max % bound + 1) % bound
    while true {
      let v = next()
      if v <= limit { return v % bound }
    }
  }

  private mutating func refill() {
    var nonceBytes = [UInt8](repeating: 0, count: 12)
    withUnsafeBytes(of: nonce.littleEndian) { nonceBytes.replaceSubrange(0..<8, with: $0) }
    nonce += 1
    // A 32-byte key and a 12-byte nonce are valid by construction: this cannot fail.
    let stream = try! Insecure.ChaCha20CTR.encrypt(
      [UInt8](repeating: 0, count: Self.blockBytes), using: key, counter: .init(offset: 0),
      nonce: .init(data: nonceBytes))
    block = stream.withUnsafeBytes { raw in
      (0..<(Self.blockBytes / 8)).map {
        UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self))
      }
    }
    index = 0
  }
}
