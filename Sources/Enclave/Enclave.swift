import Attestation
import Canonical
import Crypto
import Foundation

/// Why an enclave refused a request. Each says what failed, never what a secret holds.
public enum EnclaveError: Error, Equatable, CustomStringConvertible {
  case evidence(String)
  case groupKey(String)
  case sealed(String)

  public var description: String {
    switch self {
    case .evidence(let why): "attestation refused: \(why)"
    case .groupKey(let why): "group key: \(why)"
    case .sealed(let why): "sealed state: \(why)"
    }
  }
}

/// The simulated hardware of one machine: a platform signing key (which genesis lists as
/// trusted) and a sealing secret. NO HARDWARE PROTECTION: anyone with this file can forge
/// evidence and unseal state; SGX keeps both in the CPU.
public struct SimulatedPlatform: Sendable {
  public let key: Curve25519.Signing.PrivateKey
  let sealingSecret: SymmetricKey

  public init() {
    key = Curve25519.Signing.PrivateKey()
    sealingSecret = SymmetricKey(size: .bits256)
  }

  /// Restores a platform from its 64 secret bytes (key seed, then sealing secret).
  public init(secret: [UInt8]) throws(EnclaveError) {
    guard secret.count == 64,
      let k = try? Curve25519.Signing.PrivateKey(
        rawRepresentation: secret.prefix(32))
    else { throw .sealed("a platform secret is 64 bytes") }
    key = k
    sealingSecret = SymmetricKey(data: secret.suffix(32))
  }

  public var secret: [UInt8] {
    Array(key.rawRepresentation) + sealingSecret.withUnsafeBytes { Array($0) }
  }

  public var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }
}

/// Which enclaves a network admits: simulated platforms it trusts and measurements it allows.
public struct EnclavePolicy: Sendable, Equatable {
  public var trustedPlatforms: Set<[UInt8]>
  public var measurements: Set<[UInt8]>

  public init(trustedPlatforms: Set<[UInt8]>, measurements: Set<[UInt8]>) {
    self.trustedPlatforms = trustedPlatforms
    self.measurements = measurements
  }
}

/// An enclave's public keys and a report that binds them to its measurement and to a
/// verifier's nonce.
public struct EnclaveEvidence: CanonicalCodable, Equatable {
  /// Ed25519: signs aggregation statements.
  public var signingKey: [UInt8]
  /// X25519: receives the group key.
  public var encryptionKey: [UInt8]
  public var report: SimulatedReport

  /// REPORTDATA: SHA-256 of a label, both keys and the nonce, then 32 zero bytes (the layout
  /// SGX quotes use, so the same check serves both).
  public static func reportData(signingKey: [UInt8], encryptionKey: [UInt8], nonce: [UInt8])
    -> [UInt8]
  {
    var h = SHA256()
    h.update(data: Array("fedledger/enclave-keys/v1".utf8) + [0])
    h.update(data: signingKey)
    h.update(data: encryptionKey)
    h.update(data: nonce)
    return Array(h.finalize()) + [UInt8](repeating: 0, count: 32)
  }

  /// Checks the evidence for `nonce` under `policy`.
  public func verify(nonce: [UInt8], policy: EnclavePolicy) throws(EnclaveError) {
    do {
      _ = try report.verify(
        trustedPlatforms: policy.trustedPlatforms, measurements: policy.measurements,
        reportData: Self.reportData(
          signingKey: signingKey, encryptionKey: encryptionKey, nonce: nonce))
    } catch {
      throw .evidence("\(error)")
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.fixed(signingKey)
    w.fixed(encryptionKey)
    report.encode(to: &w)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    signingKey = try r.fixed(32, "evidence signing key")
    encryptionKey = try r.fixed(32, "evidence encryption key")
    report = try SimulatedReport(from: &r)
  }

  init(signingKey: [UInt8], encryptionKey: [UInt8], report: SimulatedReport) {
    self.signingKey = signingKey
    self.encryptionKey = encryptionKey
    self.report = report
  }
}

/// The group key, sealed by an admitting enclave to a joining one after checking its evidence,
/// with the admitting enclave's own evidence so the joiner can check it in turn.
public struct GroupKeyGrant: CanonicalCodable, Equatable {
  public var granter: EnclaveEvidence
  public var groupPublicKey: [UInt8]
  public var encapsulatedKey: [UInt8]
  public var ciphertext: [UInt8]

  public func encode(to w: inout CanonicalWriter) {
    granter.encode(to: &w)
    w.fixed(groupPublicKey)
    w.bytes(encapsulatedKey)
    w.bytes(ciphertext)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    granter = try EnclaveEvidence(from: &r)
    groupPublicKey = try r.fixed(32, "grant group key")
    encapsulatedKey = try r.bytes("grant encapsulated key", limit: 256)
    ciphertext = try r.bytes("grant ciphertext", limit: 256)
  }

  init(
    granter: EnclaveEvidence, groupPublicKey: [UInt8], encapsulatedKey: [UInt8], ciphertext: [UInt8]
  ) {
    self.granter = granter
    self.groupPublicKey = groupPublicKey
    self.encapsulatedKey = encapsulatedKey
    self.ciphertext = ciphertext
  }

  /// HPKE context: binds the grant to the joiner's keys and the group's public key.
  static func context(joiner: EnclaveEvidence, groupPublicKey: [UInt8]) -> [UInt8] {
    Array("fedledger/group-key-grant/v1".utf8) + [0] + joiner.signingKey + joiner.encryptionKey
      + groupPublicKey
  }
}

/// What runs inside an enclave: its keys, the group key, and the state it seals. The host
/// talks to it only through these operations and never sees a private key.
public final class Enclave {
  static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

  public let measurement: [UInt8]
  let platform: SimulatedPlatform
  let signingKey: Curve25519.Signing.PrivateKey
  let encryptionKey: Curve25519.KeyAgreement.PrivateKey
  var groupKey: Curve25519.KeyAgreement.PrivateKey?
  /// The newest round this enclave endorsed; it never endorses a round twice.
  public internal(set) var lastEndorsedRound: UInt64 = 0

  /// Starts a new enclave with fresh keys.
  public init(measurement: [UInt8], platform: SimulatedPlatform) {
    precondition(measurement.count == 32)
    self.measurement = measurement
    self.platform = platform
    signingKey = Curve25519.Signing.PrivateKey()
    encryptionKey = Curve25519.KeyAgreement.PrivateKey()
  }

  /// The measurement of an enclave executable: SHA-256 of its bytes.
  public static func measure(executable path: String) throws -> [UInt8] {
    Array(SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))))
  }

  public var signingPublicKey: [UInt8] { Array(signingKey.publicKey.rawRepresentation) }
  public var groupPublicKey: [UInt8]? { groupKey.map { Array($0.publicKey.rawRepresentation) } }

  /// Evidence binding this enclave's keys to `nonce`.
  public func evidence(nonce: [UInt8]) -> EnclaveEvidence {
    let signing = signingPublicKey
    let encryption = Array(encryptionKey.publicKey.rawRepresentation)
    return EnclaveEvidence(
      signingKey: signing, encryptionKey: encryption,
      report: SimulatedReport(
        measurement: measurement,
        reportData: EnclaveEvidence.reportData(
          signingKey: signing, encryptionKey: encryption, nonce: nonce),
        platform: platform.key))
  }

  /// The first enclave of a network makes the group key.
  public func createGroupKey() throws(EnclaveError) {
    guard groupKey == nil else { throw .groupKey("this enclave already holds one") }
    groupKey = Curve25519.KeyAgreement.PrivateKey()
  }

  /// Admits a joining enclave: checks its evidence for `nonce` (which this enclave's host
  /// chose), then seals the group key to it, with evidence of its own for `joinerNonce`.
  public func admit(
    _ joiner: EnclaveEvidence, nonce: [UInt8], joinerNonce: [UInt8], policy: EnclavePolicy
  ) throws(EnclaveError) -> GroupKeyGrant {
    guard let groupKey else { throw .groupKey("this enclave holds none to share") }
    try joiner.verify(nonce: nonce, policy: policy)
    let groupPublic = Array(groupKey.publicKey.rawRepresentation)
    do {
      let recipient = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: joiner.encryptionKey)
      var sender = try HPKE.Sender(
        recipientKey: recipient, ciphersuite: Self.ciphersuite,
        info: Data(GroupKeyGrant.context(joiner: joiner, groupPublicKey: groupPublic)))
      let sealed = try sender.seal(groupKey.rawRepresentation)
      return GroupKeyGrant(
        granter: evidence(nonce: joinerNonce), groupPublicKey: groupPublic,
        encapsulatedKey: Array(sender.encapsulatedKey), ciphertext: Array(sealed))
    } catch {
      throw .groupKey("cannot seal the group key to the joiner: \(error)")
    }
  }

  /// Takes the group key from `grant` after checking the granting enclave's evidence for
  /// `nonce` (mutual attestation) and that the key is the one the grant names.
  public func accept(_ grant: GroupKeyGrant, nonce: [UInt8], policy: EnclavePolicy)
    throws(EnclaveError)
  {
    try grant.granter.verify(nonce: nonce, policy: policy)
    let me = evidence(nonce: [])
    do {
      var recipient = try HPKE.Recipient(
        privateKey: encryptionKey, ciphersuite: Self.ciphersuite,
        info: Data(GroupKeyGrant.context(joiner: me, groupPublicKey: grant.groupPublicKey)),
        encapsulatedKey: Data(grant.encapsulatedKey))
      let raw = try recipient.open(grant.ciphertext)
      let key = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
      guard Array(key.publicKey.rawRepresentation) == grant.groupPublicKey else {
        throw EnclaveError.groupKey("the granted key is not the group key the grant names")
      }
      groupKey = key
    } catch let error as EnclaveError {
      throw error
    } catch {
      throw .groupKey("the grant does not open for this enclave")
    }
  }

  // MARK: Sealing

  /// The enclave's state (keys, group key, last endorsed round) encrypted with a key only this
  /// platform and this measurement derive.
  public func seal() -> [UInt8] {
    var w = CanonicalWriter()
    w.u8(1)
    w.fixed(signingKey.rawRepresentation)
    w.fixed(encryptionKey.rawRepresentation)
    w.optional(groupKey) { $0.fixed($1.rawRepresentation) }
    w.u64(lastEndorsedRound)
    let box = try! ChaChaPoly.seal(
      w.bytes, using: Self.sealingKey(platform: platform, measurement: measurement),
      authenticating: measurement)
    return Array(box.combined)
  }

  /// Restores a sealed enclave; fails on another platform, another measurement, or any
  /// changed byte.
  public init(unsealing bytes: [UInt8], measurement: [UInt8], platform: SimulatedPlatform)
    throws(EnclaveError)
  {
    let plain: [UInt8]
    do {
      let box = try ChaChaPoly.SealedBox(combined: bytes)
      plain = Array(
        try ChaChaPoly.open(
          box, using: Self.sealingKey(platform: platform, measurement: measurement),
          authenticating: measurement))
    } catch {
      throw .sealed("does not open: another platform or measurement, or altered")
    }
    do throws(DecodingError) {
      var r = CanonicalReader(plain)
      guard try r.u8("sealed version") == 1 else {
        throw .invalid(field: "sealed version", problem: "is unknown")
      }
      let signing = try r.fixed(32, "sealed signing key")
      let encryption = try r.fixed(32, "sealed encryption key")
      let group = try r.optional("sealed group key") { r throws(DecodingError) in
        try r.fixed(32, "sealed group key")
      }
      let round = try r.u64("sealed round")
      try r.finish()
      self.measurement = measurement
      self.platform = platform
      signingKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: signing)
      encryptionKey = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: encryption)
      groupKey = group.map { try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: $0) }
      lastEndorsedRound = round
    } catch {
      throw .sealed("\(error)")
    }
  }

  static func sealingKey(platform: SimulatedPlatform, measurement: [UInt8]) -> SymmetricKey {
    HKDF<SHA256>.deriveKey(
      inputKeyMaterial: platform.sealingSecret, salt: measurement,
      info: Array("fedledger/seal/v1".utf8), outputByteCount: 32)
  }
}
