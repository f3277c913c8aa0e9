import Canonical
import Crypto
import Records

/// Where a network's ordered log lives in etcd: every entry is its own key under
/// `<root>/<network>/log/`, created once (a guarded write), so etcd's revision order is the
/// log's order and no write replaces another.
///
/// No key can be taken before its writer writes it (any etcd writer could otherwise block an
/// entry for good by writing junk there first): a transaction's and a signature's key name the
/// SHA-256 of their value, which a reader checks, and a transaction's and a marker's key end in
/// a random nonce.
/// - `tx/<sha-256 of the bytes>/<nonce>`: a transaction (the same bytes twice count once);
/// - `cut/<node>/<nonce>`: a cut marker the node wrote;
/// - `sig/<height, 20 digits>/<sha-256 of the signature>`: a node's signature of a block;
/// - `void/<height, 20 digits>/<sha-256 of the refusal>`: a node's refusal to sign one.
public struct EtcdLogLayout: Sendable {
  /// The log's prefix, ending in `/`.
  public let prefix: String

  public init(root: String = "/fedledger", network: Hash256) {
    prefix = "\(root)/\(network.hex)/log/"
  }

  public func transaction(_ bytes: [UInt8]) -> [UInt8] {
    transactions(like: bytes) + Array(Self.nonce().utf8)
  }

  /// The prefix of every copy of these bytes in the log.
  public func transactions(like bytes: [UInt8]) -> [UInt8] {
    key("tx/" + Self.hash(bytes) + "/")
  }

  public func marker(by node: String) -> [UInt8] { key("cut/" + node + "/" + Self.nonce()) }

  public func signature(_ bytes: [UInt8], height: UInt64) -> [UInt8] {
    key("sig/" + Self.digits(height) + "/" + Self.hash(bytes))
  }

  public func refusal(_ bytes: [UInt8], height: UInt64) -> [UInt8] {
    key("void/" + Self.digits(height) + "/" + Self.hash(bytes))
  }

  /// What a key of the log is.
  public enum Entry: Equatable {
    case transaction
    case marker(node: String)
    case signature(height: UInt64)
    case refusal(height: UInt64)
  }

  /// Reads an entry of the log: nil unless its key has one of the forms above, exactly, and
  /// names the hash of its value where it should.
  public func entry(_ key: [UInt8], value: [UInt8]) -> Entry? {
    let text = String(decoding: key, as: UTF8.self)
    guard text.hasPrefix(prefix) else { return nil }
    let parts = text.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 3 else { return nil }
    switch parts[0] {
    case "tx" where parts[1] == Self.hash(value): return .transaction
    case "cut" where !parts[1].isEmpty: return .marker(node: String(parts[1]))
    case "sig" where parts[1].count == 20 && parts[2] == Self.hash(value):
      return UInt64(parts[1]).map { .signature(height: $0) }
    case "void" where parts[1].count == 20 && parts[2] == Self.hash(value):
      return UInt64(parts[1]).map { .refusal(height: $0) }
    default: return nil
    }
  }

  public var bytes: [UInt8] { Array(prefix.utf8) }

  private func key(_ rest: String) -> [UInt8] { Array((prefix + rest).utf8) }

  private static func hash(_ bytes: [UInt8]) -> String {
    Hex.encode(Array(SHA256.hash(data: bytes)))
  }

  private static func nonce() -> String {
    var generator = SystemRandomNumberGenerator()
    return Hex.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
  }

  private static func digits(_ n: UInt64) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 20 - s.count)) + s
  }
}
