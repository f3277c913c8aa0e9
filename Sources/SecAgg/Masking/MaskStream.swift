import Crypto
import CryptoExtras
import Foundation

#if _endian(big)
  #error("masks read ChaCha20's keystream as little-endian words")
#endif

/// A mask: ChaCha20's keystream under a 256-bit key, read as little-endian words. Each key
/// masks one vector once (the nonce and counter start at zero), so no keystream is reused.
enum MaskStream {
  /// Adds (or, with `negate`, subtracts) the mask under `key` to `vector`, modulo 2^bits.
  static func apply<W: MaskWord>(_ key: SymmetricKey, to vector: inout [W], negate: Bool = false) {
    // A 32-byte key and a 12-byte nonce are valid by construction: this cannot throw.
    let stream = try! Insecure.ChaCha20CTR.encrypt(
      [UInt8](repeating: 0, count: vector.count * W.bitWidth / 8), using: key,
      counter: .init(offset: 0), nonce: .init(data: [UInt8](repeating: 0, count: 12)))
    stream.withUnsafeBytes { mask in
      vector.withUnsafeMutableBytes { v in
        WordArithmetic.combine(v, mask, width: W.bitWidth, subtract: negate)
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
