import Canonical
import Records
import RecordsJSON

/// An SGX platform's PPID (Platform Provisioning ID): 16 bytes that Intel certifies in every
/// PCK certificate of the platform, whatever its TCB level. In JSON, 32 hex digits.
public struct PPID: HexCodable, Hashable, Comparable, Sendable {
  public let bytes: [UInt8]
  public static let jsonName = "a PPID (32 lowercase hex digits)"

  init(unchecked bytes: [UInt8]) { self.bytes = bytes }

  public init?(bytes: [UInt8]) {
    guard bytes.count == 16 else { return nil }
    self.bytes = bytes
  }

  public init?(hex: String) {
    guard let b = Hex.decode(hex), b.count == 16 else { return nil }
    bytes = b
  }

  public static func < (a: PPID, b: PPID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}
