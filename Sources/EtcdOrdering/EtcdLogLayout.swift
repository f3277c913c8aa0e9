import Canonical
import Crypto
import Records

/// Where a network's ordered log lives in etcd: every entry is its own key under
/// `<root>/<network>/log/`, created once (a guarded write), so etcd's revision order is the
/// log's order and a retried write cannot append twice.
///
/// - `tx/<sha-256 of the bytes>`: a transaction (the same bytes twice are one entry);
/// - `cut/<sequence, 20 digits>`: a cut marker, written only after the one before it;
/// - `sig/<height, 20 digits>/<node>`: a node's signature of the block at that height.
public struct EtcdLogLayout: Sendable {
  /// The log's prefix, ending in `/`.
  public let prefix: String

  public init(root: String = "/fedledger", network: Hash256) {
    prefix = "\(root)/\(network.hex)/log/"
  }

  public func transaction(_ bytes: [UInt8]) -> [UInt8] {
    key("tx/" + Hex.encode(Array(SHA256.hash(data: bytes))))
  }

  public func marker(_ sequence: UInt64) -> [UInt8] { key("cut/" + Self.digits(sequence)) }

  public func signature(height: UInt64, node: String) -> [UInt8] {
    key("sig/" + Self.digits(height) + "/" + node)
  }

  /// What a key of the log is.
  public enum Entry: Equatable {
    case transaction
    case marker(UInt64)
    case signature(height: UInt64, node: String)
  }

  /// Reads a key of the log (nil: not one of its kinds).
  public func entry(_ key: [UInt8]) -> Entry? {
    let text = String(decoding: key, as: UTF8.self)
    guard text.hasPrefix(prefix) else { return nil }
    let parts = text.dropFirst(prefix.count).split(separator: "/", omittingEmptySubsequences: false)
    switch (parts.first, parts.count) {
    case ("tx", 2): return .transaction
    case ("cut", 2): return UInt64(parts[1]).map { .marker($0) }
    case ("sig", 3):
      return UInt64(parts[1]).map { .signature(height: $0, node: String(parts[2])) }
    default: return nil
    }
  }

  public var bytes: [UInt8] { Array(prefix.utf8) }

  private func key(_ rest: String) -> [UInt8] { Array((prefix + rest).utf8) }

  private static func digits(_ n: UInt64) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 20 - s.count)) + s
  }
}
