/// The integers masked vectors are made of: sums wrap modulo 2^32 or 2^64, so masks cancel
/// exactly and a masked value is uniform whatever it hides.
public protocol MaskWord: FixedWidthInteger, UnsignedInteger, Sendable {}
extension UInt32: MaskWord {}
extension UInt64: MaskWord {}

/// The modulus masked vectors are summed under.
public enum MaskModulus: Int, Sendable, Equatable, CaseIterable {
  case bits32 = 32
  case bits64 = 64

  public var bytes: Int { rawValue / 8 }
}
