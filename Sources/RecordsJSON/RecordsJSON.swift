import Canonical
import Records

// The JSON forms of the records' values (hashes, keys, block signatures, statement entries as
// lowercase hex), for the genesis files, receipts and reports hosts write and read. An enclave
// reads and writes only the canonical encoding, so none of this is in its trusted code.

/// A fixed-size byte value that JSON writes as lowercase hex, one spelling per value.
public protocol HexCodable: HexBytes, Codable {
  /// Parses the value's hex spelling; nil for anything else.
  init?(hex: String)
  /// What the value is, for errors: "a PPID (32 lowercase hex digits)".
  static var jsonName: String { get }
}

extension HexCodable {
  public init(from decoder: any Decoder) throws {
    let s = try decoder.singleValueContainer().decode(String.self)
    guard let value = Self(hex: s) else {
      throw Swift.DecodingError.dataCorrupted(
        .init(codingPath: decoder.codingPath, debugDescription: "\"\(s)\" is not \(Self.jsonName)"))
    }
    self = value
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.singleValueContainer()
    try c.encode(hex)
  }
}

extension Hash256: HexCodable {
  /// Parses 64 lowercase hex digits (one spelling per value).
  public init?(hex: String) {
    guard let b = Hex.decode(hex), b.count == 32 else { return nil }
    self.init(unchecked: b)
  }

  public static let jsonName = "a SHA-256 digest (64 lowercase hex digits)"
}

extension PublicKey: HexCodable {
  public init?(hex: String) {
    guard let b = Hex.decode(hex), b.count == 32 else { return nil }
    self.init(unchecked: b)
  }

  public static let jsonName = "an Ed25519 public key (64 lowercase hex digits)"
}

extension BlockSignature: Codable {
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Keys.self)
    let signer = try c.decode(PublicKey.self, forKey: .signer)
    let hex = try c.decode(String.self, forKey: .signature)
    guard let b = Hex.decode(hex), let s = Signature(bytes: b) else {
      throw Swift.DecodingError.dataCorruptedError(
        forKey: .signature, in: c,
        debugDescription: "not an Ed25519 signature (128 lowercase hex digits)")
    }
    self.init(signer: signer, signature: s)
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Keys.self)
    try c.encode(signer, forKey: .signer)
    try c.encode(signature.description, forKey: .signature)
  }

  enum Keys: String, CodingKey { case signer, signature }
}

// A statement's entries, as `{"update": HEX, "note": TEXT}` and `{"update": HEX, "reason":
// TEXT}`: the form Swift would synthesize, written out because synthesis needs the type's own
// file.

extension AggregationStatement.Accepted: Codable {
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Keys.self)
    self.init(
      update: try c.decode(Hash256.self, forKey: .update),
      note: try c.decode(String.self, forKey: .note))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Keys.self)
    try c.encode(update, forKey: .update)
    try c.encode(note, forKey: .note)
  }

  enum Keys: String, CodingKey { case update, note }
}

extension AggregationStatement.Rejected: Codable {
  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Keys.self)
    self.init(
      update: try c.decode(Hash256.self, forKey: .update),
      reason: try c.decode(String.self, forKey: .reason))
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: Keys.self)
    try c.encode(update, forKey: .update)
    try c.encode(reason, forKey: .reason)
  }

  enum Keys: String, CodingKey { case update, reason }
}
