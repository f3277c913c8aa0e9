import Canonical
import Crypto
import Foundation

/// What an envelope carries: a training update, or an evaluation report on a committed model
/// (whose `baseModel` field then names the model evaluated). Each purpose binds its own labels
/// into the authenticated data and the signature, so an envelope made for one never opens as
/// the other.
public enum EnvelopePurpose: String, Sendable {
  case update
  case report
}

/// An update as a cluster sends it: encrypted with HPKE (X25519, HKDF-SHA256, ChaCha20-Poly1305)
/// to the enclaves' group key, with the network, round, cluster and base model bound as
/// associated data, and signed with the cluster's enrolled Ed25519 key.
///
/// Hosts can store, forward and commit to an envelope (its `hash`), but only a holder of the
/// group key can read it, and any change to a bound field makes it fail to open.
public struct UpdateEnvelope: CanonicalCodable, Equatable {
  public static let version: UInt8 = 1
  package static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
  package static let info = Data("fedledger update envelope v1".utf8)

  /// The network's genesis hash.
  public var network: [UInt8]
  public var round: UInt64
  public var cluster: String
  /// Hash of the model the update was trained from.
  public var baseModel: [UInt8]
  public var encapsulatedKey: [UInt8]
  public var ciphertext: [UInt8]
  /// The cluster's Ed25519 signature over the fields above but the ciphertext (see
  /// `signedBytes`).
  public var signature: [UInt8]

  /// What HPKE authenticates: the fields that say whose update this is and for what.
  package func associatedData(_ purpose: EnvelopePurpose) -> [UInt8] {
    var w = CanonicalWriter()
    w.fixed(Array("fedledger/\(purpose.rawValue)/v1".utf8))
    w.fixed(network)
    w.u64(round)
    w.string(cluster)
    w.fixed(baseModel)
    return w.bytes
  }

  /// What the cluster signs: the bound fields and the HPKE encapsulated key. That suffices to
  /// bind the ciphertext too: its AEAD key derives from the encapsulated key's ephemeral secret,
  /// which only the cluster knew, so no one without the group's private key can make another
  /// ciphertext that opens under it. Signing the key rather than the whole ciphertext keeps the
  /// cost of a signature check independent of the update's size.
  package func signedBytes(_ purpose: EnvelopePurpose) -> [UInt8] {
    var w = CanonicalWriter()
    w.fixed(Array("fedledger/\(purpose.rawValue)-envelope/v1".utf8) + [0])
    w.u8(Self.version)
    w.fixed(network)
    w.u64(round)
    w.string(cluster)
    w.fixed(baseModel)
    w.bytes(encapsulatedKey)
    return w.bytes
  }

  /// SHA-256 of the envelope's bytes: what the ledger's commitment names.
  public var hash: [UInt8] { Array(SHA256.hash(data: canonicalBytes)) }

  /// Checks the envelope against what the round expects, then decrypts it. Every failure says
  /// which check failed; none reveals anything about the plaintext.
  public func open(
    with groupKey: Curve25519.KeyAgreement.PrivateKey, network expectedNetwork: [UInt8],
    round expectedRound: UInt64, baseModel expectedBase: [UInt8],
    clusterKey: Curve25519.Signing.PublicKey, purpose: EnvelopePurpose = .update
  ) throws(EnvelopeError) -> [UInt8] {
    // The signature first: until it checks, nothing says the named cluster sent this.
    guard clusterKey.isValidSignature(signature, for: signedBytes(purpose)) else {
      throw .badSignature(cluster: cluster)
    }
    guard network == expectedNetwork else { throw .wrongNetwork(cluster: cluster) }
    guard round == expectedRound else {
      throw .wrongRound(cluster: cluster, round: round, expected: expectedRound)
    }
    guard baseModel == expectedBase else { throw .wrongBaseModel(cluster: cluster) }
    do {
      var recipient = try HPKE.Recipient(
        privateKey: groupKey, ciphersuite: Self.ciphersuite, info: Self.info,
        encapsulatedKey: Data(encapsulatedKey))
      return Array(try recipient.open(ciphertext, authenticating: associatedData(purpose)))
    } catch {
      throw .decryptionFailed(cluster: cluster)
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.fixed(network)
    w.u64(round)
    w.string(cluster)
    w.fixed(baseModel)
    w.bytes(encapsulatedKey)
    w.bytes(ciphertext)
    w.fixed(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("envelope version")
    guard v == Self.version else {
      throw .unknownVersion(field: "envelope version", version: Int(v))
    }
    network = try r.fixed(32, "envelope network")
    round = try r.u64("envelope round")
    cluster = try r.string("envelope cluster")
    baseModel = try r.fixed(32, "envelope base model")
    encapsulatedKey = try r.bytes("envelope encapsulated key", limit: 256)
    ciphertext = try r.bytes("envelope ciphertext", limit: 1 << 30)
    signature = try r.fixed(64, "envelope signature")
  }

  package init(
    network: [UInt8], round: UInt64, cluster: String, baseModel: [UInt8],
    encapsulatedKey: [UInt8], ciphertext: [UInt8], signature: [UInt8]
  ) {
    self.network = network
    self.round = round
    self.cluster = cluster
    self.baseModel = baseModel
    self.encapsulatedKey = encapsulatedKey
    self.ciphertext = ciphertext
    self.signature = signature
  }
}

/// Why an update envelope was refused. Each names the cluster; the reason goes on the ledger.
public enum EnvelopeError: Error, Equatable, CustomStringConvertible {
  case wrongNetwork(cluster: String)
  case wrongRound(cluster: String, round: UInt64, expected: UInt64)
  case wrongBaseModel(cluster: String)
  case badSignature(cluster: String)
  case decryptionFailed(cluster: String)

  public var description: String {
    switch self {
    case .wrongNetwork(let c): "update from \(c) was made for another network"
    case .wrongRound(let c, let r, let e): "update from \(c) is for round \(r), not round \(e)"
    case .wrongBaseModel(let c): "update from \(c) was trained from another base model"
    case .badSignature(let c):
      "an envelope claiming to be from \(c) does not carry a valid signature of \(c)"
    case .decryptionFailed(let c):
      "update from \(c) does not decrypt with the group key (altered, or sealed to another key)"
    }
  }
}
