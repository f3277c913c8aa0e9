import Canonical
import Crypto
import Foundation

/// A SHA-256 digest: transaction, block, blob and model hashes.
public struct Hash256: HexBytes, Hashable, Comparable, Sendable {
  public let bytes: [UInt8]

  public static let zero = Hash256(unchecked: [UInt8](repeating: 0, count: 32))

  package init(unchecked bytes: [UInt8]) { self.bytes = bytes }

  public init?(bytes: [UInt8]) {
    guard bytes.count == 32 else { return nil }
    self.bytes = bytes
  }

  public static func of(_ data: some DataProtocol) -> Hash256 {
    Hash256(unchecked: Array(SHA256.hash(data: data)))
  }

  public static func < (a: Hash256, b: Hash256) -> Bool {
    a.bytes.lexicographicallyPrecedes(b.bytes)
  }
}

/// A fixed-size byte value written as lowercase hex, one spelling per value.
public protocol HexBytes: CustomStringConvertible {
  var bytes: [UInt8] { get }
}

extension HexBytes {
  public var hex: String { Hex.encode(bytes) }
  public var description: String { hex }
  /// The first 12 hex digits, for people.
  public var short: String { String(hex.prefix(12)) }
}

extension CanonicalWriter {
  public mutating func hash(_ h: Hash256) { fixed(h.bytes) }
  public mutating func key(_ k: PublicKey) { fixed(k.bytes) }
  public mutating func signature(_ s: Signature) { fixed(s.bytes) }
}

extension CanonicalReader {
  public mutating func hash(_ field: String) throws(CanonicalDecodingError) -> Hash256 {
    Hash256(unchecked: try fixed(32, field))
  }
  public mutating func key(_ field: String) throws(CanonicalDecodingError) -> PublicKey {
    PublicKey(unchecked: try fixed(32, field))
  }
  public mutating func signature(_ field: String) throws(CanonicalDecodingError) -> Signature {
    Signature(unchecked: try fixed(64, field))
  }
}

/// An Ed25519 public key: of a consortium member, a node, an endorser or a cluster.
public struct PublicKey: HexBytes, Hashable, Comparable, Sendable {
  public let bytes: [UInt8]

  package init(unchecked bytes: [UInt8]) { self.bytes = bytes }

  public init(_ key: Curve25519.Signing.PublicKey) { bytes = Array(key.rawRepresentation) }

  public init?(bytes: [UInt8]) {
    guard bytes.count == 32 else { return nil }
    self.bytes = bytes
  }

  public static func < (a: PublicKey, b: PublicKey) -> Bool {
    a.bytes.lexicographicallyPrecedes(b.bytes)
  }

  /// Checks `signature` over `message` signed for `purpose`.
  public func verifies(_ signature: Signature, over message: [UInt8], for purpose: SigningPurpose)
    -> Bool
  {
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else {
      return false
    }
    return key.isValidSignature(signature.bytes, for: purpose.frame(message))
  }
}

/// An Ed25519 signature.
public struct Signature: Hashable, Sendable, CustomStringConvertible {
  public let bytes: [UInt8]
  package init(unchecked bytes: [UInt8]) { self.bytes = bytes }
  public init?(bytes: [UInt8]) {
    guard bytes.count == 64 else { return nil }
    self.bytes = bytes
  }
  public var description: String { Hex.encode(bytes) }
}

/// What a signature is for. Each purpose frames the message with its own label, so a signature
/// made for one purpose never verifies as another.
public enum SigningPurpose: String, Sendable {
  case block = "fedledger/block-header/v1"
  case enrolment = "fedledger/cluster-enrolment/v1"
  case commitment = "fedledger/update-commitment/v1"
  case endorsement = "fedledger/aggregation-statement/v1"
  case roundOpen = "fedledger/round-open/v1"
  case roundClose = "fedledger/round-close/v1"
  case roundAbort = "fedledger/round-abort/v1"
  /// A cluster's commitment to its evaluation report.
  case report = "fedledger/evaluation-report/v1"
  case evaluationClose = "fedledger/evaluation-close/v1"
  case metricEndorsement = "fedledger/metric-statement/v1"
  /// A node's refusal to sign a block (ordering by a log: enough refusals void the block).
  case blockRefusal = "fedledger/block-refusal/v1"
  /// A cluster's message in a stage of secure aggregation, and a node's close of the stage.
  case secaggMessage = "fedledger/secagg-message/v1"
  case secaggStageClose = "fedledger/secagg-stage-close/v1"
  /// A node's or cluster's ledger key vouching for the TLS key it connects with.
  case transportKey = "fedledger/tls-key-binding/v1"

  package func frame(_ message: [UInt8]) -> [UInt8] {
    Array(rawValue.utf8) + [0] + message
  }
}

/// An Ed25519 signing key held by a member, node, endorser or cluster.
public struct SigningKey: Sendable {
  package let key: Curve25519.Signing.PrivateKey

  public init() { key = Curve25519.Signing.PrivateKey() }

  /// Wraps a key held elsewhere (an enclave's).
  public init(_ key: Curve25519.Signing.PrivateKey) { self.key = key }

  public var publicKey: PublicKey { PublicKey(key.publicKey) }

  /// The key's 32 secret bytes (what a key file holds), and the key from them.
  public var secretBytes: [UInt8] { Array(key.rawRepresentation) }
  public init?(secretBytes: [UInt8]) {
    guard secretBytes.count == 32,
      let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: secretBytes)
    else { return nil }
    self.key = key
  }

  public func sign(_ message: [UInt8], for purpose: SigningPurpose) -> Signature {
    // Signing with a valid key cannot fail in swift-crypto's Ed25519.
    Signature(unchecked: Array(try! key.signature(for: purpose.frame(message))))
  }
}
