import CGMP

/// One GMP integer, freed with its owner. GMP's `mpz_*` names are macros, so the `__gmpz_*`
/// functions they stand for are called, on `p`, which stays put for the number's life.
final class BigNumber {
  let p: UnsafeMutablePointer<__mpz_struct>

  init() {
    p = .allocate(capacity: 1)
    __gmpz_init(p)
  }

  /// The integer whose big-endian bytes are `bytes`.
  convenience init(bigEndian bytes: [UInt8]) {
    self.init()
    bytes.withUnsafeBufferPointer { __gmpz_import(p, $0.count, 1, 1, 1, 0, $0.baseAddress) }
  }

  convenience init(_ small: UInt) {
    self.init()
    __gmpz_set_ui(p, small)
  }

  deinit {
    __gmpz_clear(p)
    p.deallocate()
  }

  /// The value as exactly `count` big-endian bytes, or nil when it needs more.
  func bigEndian(count: Int) -> [UInt8]? {
    guard __gmpz_cmp_ui(p, 0) == 0 || __gmpz_sizeinbase(p, 256) <= count else { return nil }
    var out = [UInt8](repeating: 0, count: count)
    var written = 0
    var raw = [UInt8](repeating: 0, count: count)
    raw.withUnsafeMutableBufferPointer {
      _ = __gmpz_export($0.baseAddress, &written, 1, 1, 1, 0, p)
    }
    // mpz_export writes the fewest bytes: they go at the end.
    out.replaceSubrange((count - written)..<count, with: raw[0..<written])
    return out
  }

  static func < (a: BigNumber, b: BigNumber) -> Bool { __gmpz_cmp(a.p, b.p) < 0 }
}
