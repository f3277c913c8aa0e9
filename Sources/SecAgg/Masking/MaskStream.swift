import Crypto
import CryptoExtras
import Foundation

#if _endian(big)
  #error("masks read ChaCha20's keystream as little-endian words")
#endif

/// A mask: ChaCha20's keystream under a 256-bit key, read as little-endian words. Each key
/// masks one vector once (the nonce and counter start at zero), so no keystream is reused.
package enum MaskStream {
  /// Keystream bytes per ChaCha20 call: small enough to come from the allocator's free
  /// lists (a vector-sized buffer would be fresh pages each time), a whole number of blocks.
  static let chunkBytes = 16_384

  /// Adds (or, with `negate`, subtracts) the mask under `key` to `vector`, modulo 2^bits.
  /// The keystream is generated a chunk at a time with the block counter carried on, so it is
  /// the same stream one call over the whole vector would give.
  package static func apply<W: MaskWord>(
    _ key: SymmetricKey, to vector: inout [W], negate: Bool = false
  ) {
    let total = vector.count * W.bitWidth / 8
    let zeros = [UInt8](repeating: 0, count: chunkBytes)
    let nonce = try! Insecure.ChaCha20CTR.Nonce(data: [UInt8](repeating: 0, count: 12))
    vector.withUnsafeMutableBytes { v in
      var offset = 0
      while offset < total {
        let n = min(chunkBytes, total - offset)
        // A 32-byte key, a 12-byte nonce and a counter below 2^32 (vectors under 256 GiB):
        // valid by construction, so this cannot throw.
        let stream = try! Insecure.ChaCha20CTR.encrypt(
          zeros[0..<n], using: key, counter: .init(offset: UInt32(offset / 64)), nonce: nonce)
        stream.withUnsafeBytes { mask in
          WordArithmetic.combine(
            UnsafeMutableRawBufferPointer(rebasing: v[offset..<(offset + n)]), mask,
            width: W.bitWidth, subtract: negate)
        }
        offset += n
      }
    }
  }
}

/// Word-wise sums and differences modulo 2^32 or 2^64 over raw little-endian memory, in
/// concrete (not generic) loops the compiler vectorises.
enum WordArithmetic {
  /// `target` ±= `source`, word by word. A keystream's words are little-endian, which is the
  /// native order on every platform this builds for (checked at compile time).
  static func combine(
    _ target: UnsafeMutableRawBufferPointer, _ source: UnsafeRawBufferPointer, width: Int,
    subtract: Bool
  ) {
    switch (width, subtract) {
    case (32, false): add(target, source, as: UInt32.self)
    case (32, true): sub(target, source, as: UInt32.self)
    case (64, false): add(target, source, as: UInt64.self)
    default: sub(target, source, as: UInt64.self)
    }
  }

  @inline(__always)
  private static func add<T: FixedWidthInteger & UnsignedInteger>(
    _ target: UnsafeMutableRawBufferPointer, _ source: UnsafeRawBufferPointer, as: T.Type
  ) {
    let t = target.bindMemory(to: T.self)
    let s = source.bindMemory(to: T.self)
    for i in 0..<min(t.count, s.count) { t[i] &+= s[i] }
  }

  @inline(__always)
  private static func sub<T: FixedWidthInteger & UnsignedInteger>(
    _ target: UnsafeMutableRawBufferPointer, _ source: UnsafeRawBufferPointer, as: T.Type
  ) {
    let t = target.bindMemory(to: T.self)
    let s = source.bindMemory(to: T.self)
    for i in 0..<min(t.count, s.count) { t[i] &-= s[i] }
  }
}
