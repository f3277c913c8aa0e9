/// Why bytes could not be decoded into a ledger value.
public enum CanonicalDecodingError: Error, Equatable, CustomStringConvertible {
  /// The input ended inside `field`.
  case truncated(field: String)
  /// Bytes were left over after a complete value.
  case trailingBytes(count: Int)
  /// `field` carries a version this code does not know.
  case unknownVersion(field: String, version: Int)
  /// `field` carries a tag that names no known kind.
  case unknownKind(field: String, tag: Int)
  /// `field` is longer than the encoding allows.
  case oversized(field: String, length: Int, limit: Int)
  /// `field` holds a value that is not allowed there.
  case invalid(field: String, problem: String)

  public var description: String {
    switch self {
    case .truncated(let field): "the bytes end inside \(field)"
    case .trailingBytes(let count): "\(count) unexpected byte(s) after the end of the value"
    case .unknownVersion(let field, let version): "\(field) has unknown version \(version)"
    case .unknownKind(let field, let tag): "\(field) has unknown kind \(tag)"
    case .oversized(let field, let length, let limit):
      "\(field) is \(length) long, more than the limit of \(limit)"
    case .invalid(let field, let problem): "\(field) \(problem)"
    }
  }
}

/// Limits that keep a decoder from allocating what an attacker asks for.
public enum EncodingLimits {
  /// Longest string (bytes of UTF-8).
  public static let string = 4096
  /// Longest opaque byte field (attestation evidence, for instance).
  public static let bytes = 1 << 20
  /// Most elements in one list.
  public static let list = 1 << 20
}

/// Writes the canonical binary encoding: big-endian integers, length-prefixed fields, lists
/// with a count. One value has exactly one encoding.
public struct CanonicalWriter: Sendable {
  public private(set) var bytes: [UInt8] = []

  public init() {}

  public mutating func u8(_ v: UInt8) { bytes.append(v) }
  public mutating func u16(_ v: UInt16) { int(v) }
  public mutating func u32(_ v: UInt32) { int(v) }
  public mutating func u64(_ v: UInt64) { int(v) }
  public mutating func bool(_ v: Bool) { u8(v ? 1 : 0) }
  public mutating func f64(_ v: Double) { u64(v.bitPattern) }

  private mutating func int<T: FixedWidthInteger>(_ v: T) {
    withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) }
  }

  /// A field of a fixed size (digests, keys, signatures): no length prefix.
  public mutating func fixed(_ v: some Collection<UInt8>) { bytes.append(contentsOf: v) }

  /// A variable field: a 32-bit length, then the bytes.
  public mutating func bytes(_ v: some Collection<UInt8>) {
    u32(UInt32(v.count))
    bytes.append(contentsOf: v)
  }

  public mutating func string(_ v: String) { bytes(Array(v.utf8)) }

  public mutating func list<T>(_ items: [T], _ write: (inout CanonicalWriter, T) -> Void) {
    u32(UInt32(items.count))
    for item in items { write(&self, item) }
  }

  public mutating func optional<T>(_ item: T?, _ write: (inout CanonicalWriter, T) -> Void) {
    if let item {
      u8(1)
      write(&self, item)
    } else {
      u8(0)
    }
  }
}

/// Reads the canonical binary encoding, naming the field that is wrong.
public struct CanonicalReader {
  private let bytes: [UInt8]
  public private(set) var offset = 0

  public init(_ bytes: [UInt8]) { self.bytes = bytes }

  public var remaining: Int { bytes.count - offset }

  /// Throws unless every byte was read.
  public func finish() throws(CanonicalDecodingError) {
    if remaining != 0 { throw .trailingBytes(count: remaining) }
  }

  public mutating func fixed(_ count: Int, _ field: String) throws(CanonicalDecodingError)
    -> [UInt8]
  {
    guard remaining >= count else { throw .truncated(field: field) }
    defer { offset += count }
    return Array(bytes[offset..<offset + count])
  }

  private mutating func int<T: FixedWidthInteger>(_: T.Type, _ field: String)
    throws(CanonicalDecodingError)
    -> T
  {
    let size = MemoryLayout<T>.size
    guard remaining >= size else { throw .truncated(field: field) }
    var v: T = 0
    for i in 0..<size { v = v << 8 | T(bytes[offset + i]) }
    offset += size
    return v
  }

  public mutating func u8(_ field: String) throws(CanonicalDecodingError) -> UInt8 {
    try int(UInt8.self, field)
  }
  public mutating func u16(_ field: String) throws(CanonicalDecodingError) -> UInt16 {
    try int(UInt16.self, field)
  }
  public mutating func u32(_ field: String) throws(CanonicalDecodingError) -> UInt32 {
    try int(UInt32.self, field)
  }
  public mutating func u64(_ field: String) throws(CanonicalDecodingError) -> UInt64 {
    try int(UInt64.self, field)
  }
  public mutating func f64(_ field: String) throws(CanonicalDecodingError) -> Double {
    Double(bitPattern: try u64(field))
  }
  /// A float64 that must be a number (not NaN, not infinite): a value that is not equal to
  /// itself breaks every record that holds it.
  public mutating func finite(_ field: String) throws(CanonicalDecodingError) -> Double {
    let v = try f64(field)
    guard v.isFinite else { throw .invalid(field: field, problem: "is \(v), not a finite number") }
    return v
  }
  public mutating func bool(_ field: String) throws(CanonicalDecodingError) -> Bool {
    switch try u8(field) {
    case 0: return false
    case 1: return true
    case let v: throw .invalid(field: field, problem: "is \(v), not a boolean (0 or 1)")
    }
  }

  public mutating func bytes(_ field: String, limit: Int = EncodingLimits.bytes)
    throws(CanonicalDecodingError) -> [UInt8]
  {
    let length = Int(try u32(field))
    guard length <= limit else { throw .oversized(field: field, length: length, limit: limit) }
    return try fixed(length, field)
  }

  public mutating func string(_ field: String, limit: Int = EncodingLimits.string)
    throws(CanonicalDecodingError) -> String
  {
    let raw = try bytes(field, limit: limit)
    guard let s = String(validating: raw, as: UTF8.self) else {
      throw .invalid(field: field, problem: "is not valid UTF-8")
    }
    return s
  }

  public mutating func list<T>(
    _ field: String, limit: Int = EncodingLimits.list,
    _ read: (inout CanonicalReader) throws(CanonicalDecodingError) -> T
  ) throws(CanonicalDecodingError) -> [T] {
    let count = Int(try u32(field))
    guard count <= limit else { throw .oversized(field: field, length: count, limit: limit) }
    // Every element takes at least one byte, which bounds what a forged count can reserve.
    guard count <= remaining else { throw .truncated(field: field) }
    var items: [T] = []
    items.reserveCapacity(count)
    for _ in 0..<count { items.append(try read(&self)) }
    return items
  }

  public mutating func optional<T>(
    _ field: String, _ read: (inout CanonicalReader) throws(CanonicalDecodingError) -> T
  ) throws(CanonicalDecodingError) -> T? {
    try bool(field) ? try read(&self) : nil
  }
}

/// A value with one canonical binary encoding.
public protocol CanonicalCodable: Sendable {
  func encode(to writer: inout CanonicalWriter)
  init(from reader: inout CanonicalReader) throws(CanonicalDecodingError)
}

extension CanonicalCodable {
  /// The canonical encoding.
  public var canonicalBytes: [UInt8] {
    var w = CanonicalWriter()
    encode(to: &w)
    return w.bytes
  }

  /// Decodes exactly one value from `bytes`, rejecting anything left over.
  public init(canonical bytes: [UInt8]) throws(CanonicalDecodingError) {
    var r = CanonicalReader(bytes)
    self = try Self(from: &r)
    try r.finish()
  }
}
