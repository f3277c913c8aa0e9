import Attestation
import Canonical
import Crypto
import EnclaveMessages
import Foundation
import Records

/// What runs inside an enclave: its keys, the group key, and the state it seals. The host
/// talks to it only through these operations and never sees a private key.
public final class Enclave {
  static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly

  public let measurement: [UInt8]
  let platform: any EnclavePlatform
  let signingKey: Curve25519.Signing.PrivateKey
  let encryptionKey: Curve25519.KeyAgreement.PrivateKey
  var groupKey: Curve25519.KeyAgreement.PrivateKey?
  /// Nonces this enclave issued and has not yet seen answered: evidence it checks must answer
  /// one, so a host cannot replay old evidence.
  var challenges: Set<[UInt8]> = []
  /// The newest round this enclave endorsed, and the hash of the statement it signed for it.
  /// It never endorses an earlier round, nor another statement for the same one.
  public internal(set) var lastEndorsedRound: UInt64 = 0
  var lastStatement: Hash256?
  /// The newest round whose metric this enclave signed, and that metric statement's hash: it
  /// signs no earlier round's, nor another for the same round.
  public internal(set) var lastCombinedRound: UInt64 = 0
  var lastMetric: Hash256?
  /// The model of the round last aggregated, kept (in memory only) until the ledger proves its
  /// commit; a restarted enclave aggregates the round again to release it.
  var pendingModel: (network: Hash256, round: UInt64, statement: Hash256, file: [UInt8])?
  /// The attestation policy given at first start and sealed with the state, so a host cannot
  /// later loosen whom the group key is shared with. Every evidence this enclave makes binds
  /// its digest, and it accepts only evidence bound to the same digest: an enclave started
  /// under another policy is a stranger to every enclave, cluster and node of the network.
  public let policy: EnclavePolicy
  /// Intel's collateral for checking SGX evidence, as the host last supplied it. Its
  /// signatures were checked on arrival and are checked again at every use.
  public private(set) var collateral: Collateral?
  /// The newest time signed into collateral this enclave accepted. The enclave has no clock of
  /// its own: it judges evidence at its host's time, but never before this floor, so a host
  /// turning its clock back cannot revive expired collateral or unrevoke a certificate.
  public private(set) var timeFloor: Date?

  /// Starts a new enclave with fresh keys under `policy`.
  public init(measurement: [UInt8], platform: any EnclavePlatform, policy: EnclavePolicy) {
    precondition(measurement.count == 32)
    self.measurement = measurement
    self.platform = platform
    self.policy = policy
    signingKey = Curve25519.Signing.PrivateKey()
    encryptionKey = Curve25519.KeyAgreement.PrivateKey()
  }

  /// The measurement of an enclave executable: SHA-256 of its bytes.
  public static func measure(executable path: String) throws -> [UInt8] {
    Array(SHA256.hash(data: try Data(contentsOf: URL(fileURLWithPath: path))))
  }

  public var signingPublicKey: [UInt8] { Array(signingKey.publicKey.rawRepresentation) }
  public var encryptionPublicKey: [UInt8] { Array(encryptionKey.publicKey.rawRepresentation) }
  public var groupPublicKey: [UInt8]? { groupKey.map { Array($0.publicKey.rawRepresentation) } }

  /// Evidence binding this enclave's keys and policy to `nonce`.
  public func evidence(nonce: [UInt8]) throws(EnclaveError) -> EnclaveEvidence {
    let signing = signingPublicKey
    let encryption = Array(encryptionKey.publicKey.rawRepresentation)
    let group = groupPublicKey
    return EnclaveEvidence(
      signingKey: signing, encryptionKey: encryption, groupKey: group,
      report: try platform.report(
        measurement: measurement,
        reportData: EnclaveEvidence.reportData(
          signingKey: signing, encryptionKey: encryption, groupKey: group,
          policy: policy.digest, nonce: nonce)))
  }

  /// The host's clock: an enclave has no trusted one (SGX gives none). Replaceable for tests of
  /// a host that lies about the time.
  public var hostClock: () -> Date = { Date() }

  /// The time evidence is judged at: the host's clock, but never before the floor.
  public var judgingTime: Date { max(hostClock(), timeFloor ?? .distantPast) }

  /// Takes Intel's collateral for SGX evidence, after checking what of it stands alone (the
  /// root CA CRL, TCB info and QE identity, signed under the policy's root and current), and
  /// raises the time floor to the newest time signed into it. Refused collateral leaves the
  /// previous in place.
  public func supply(_ collateral: Collateral) throws(EnclaveError) {
    let issued: Date
    do {
      issued = try policy.checkCollateral(collateral, at: judgingTime)
    } catch {
      throw .evidence("the collateral is refused: \(error)")
    }
    self.collateral = collateral
    timeFloor = max(timeFloor ?? .distantPast, issued)
  }

  /// The first enclave of a network makes the group key.
  public func createGroupKey() throws(EnclaveError) {
    guard groupKey == nil else { throw .groupKey("this enclave already holds one") }
    groupKey = Curve25519.KeyAgreement.PrivateKey()
  }

  /// A fresh nonce for the other side's evidence; each answers one check.
  public func challenge() -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    let nonce = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    challenges.insert(nonce)
    return nonce
  }

  /// Checks a peer's `evidence`: it must answer one of this enclave's open challenges under
  /// this enclave's policy (which closes the challenge) and verify. An SGX enclave takes no
  /// simulated peers, whatever the policy: they would hold the group key unprotected.
  private func check(_ evidence: EnclaveEvidence) throws(EnclaveError) {
    let bound: [UInt8]?
    switch evidence.report {
    case .simulated(let report):
      guard platform.backend != .sgx else {
        throw .evidence(
          "an SGX enclave shares the group key only with SGX enclaves, not simulated ones")
      }
      bound = report.reportData
    case .sgx(let quote): bound = (try? SGXQuote(quote))?.report.reportData
    }
    let digest = policy.digest
    guard
      let nonce = challenges.first(where: {
        EnclaveEvidence.reportData(
          signingKey: evidence.signingKey, encryptionKey: evidence.encryptionKey,
          groupKey: evidence.groupKey, policy: digest, nonce: $0) == bound
      })
    else {
      throw .evidence(
        "it answers none of this enclave's open challenges under this enclave's policy: a replay, or an enclave started under another policy"
      )
    }
    challenges.remove(nonce)
    do {
      try evidence.verify(
        nonce: nonce, policy: policy, collateral: collateral, at: judgingTime)
    } catch {
      throw .evidence("\(error)")
    }
  }

  /// Admits a joining enclave: checks its evidence against a challenge this enclave issued,
  /// then seals the group key to it, signed, with evidence of its own for `joinerChallenge`.
  public func admit(_ joiner: EnclaveEvidence, joinerChallenge: [UInt8], network: [UInt8])
    throws(EnclaveError) -> GroupKeyGrant
  {
    guard let groupKey else { throw .groupKey("this enclave holds none to share") }
    try check(joiner)
    let groupPublic = Array(groupKey.publicKey.rawRepresentation)
    do {
      let recipient = try Curve25519.KeyAgreement.PublicKey(
        rawRepresentation: joiner.encryptionKey)
      var sender = try HPKE.Sender(
        recipientKey: recipient, ciphersuite: Self.ciphersuite,
        info: Data(
          GroupKeyGrant.context(
            network: network, joinerSigning: joiner.signingKey,
            joinerEncryption: joiner.encryptionKey, groupPublicKey: groupPublic)))
      let sealed = try sender.seal(groupKey.rawRepresentation)
      var grant = GroupKeyGrant(
        network: network, granter: try evidence(nonce: joinerChallenge),
        groupPublicKey: groupPublic,
        encapsulatedKey: Array(sender.encapsulatedKey), ciphertext: Array(sealed), signature: [])
      grant.signature = Array(
        try signingKey.signature(
          for: grant.signedBytes(
            joinerSigning: joiner.signingKey, joinerEncryption: joiner.encryptionKey)))
      return grant
    } catch let error as EnclaveError {
      throw error
    } catch {
      throw .groupKey("cannot seal the group key to the joiner: \(error)")
    }
  }

  /// Takes the group key from `grant` after checking the granting enclave's evidence against
  /// a challenge this enclave issued (mutual attestation), its signature over the grant, the
  /// network, and that the key is the one the grant names. An enclave holding a group key
  /// refuses another.
  public func accept(_ grant: GroupKeyGrant, network: [UInt8]) throws(EnclaveError) {
    guard groupKey == nil else { throw .groupKey("this enclave already holds one") }
    guard grant.network == network else { throw .groupKey("the grant is for another network") }
    try check(grant.granter)
    let mySigning = signingPublicKey
    let myEncryption = Array(encryptionKey.publicKey.rawRepresentation)
    guard
      let granterKey = try? Curve25519.Signing.PublicKey(
        rawRepresentation: grant.granter.signingKey),
      granterKey.isValidSignature(
        grant.signature,
        for: grant.signedBytes(joinerSigning: mySigning, joinerEncryption: myEncryption))
    else { throw .groupKey("the grant is not signed by the attested granting enclave") }
    do {
      var recipient = try HPKE.Recipient(
        privateKey: encryptionKey, ciphersuite: Self.ciphersuite,
        info: Data(
          GroupKeyGrant.context(
            network: network, joinerSigning: mySigning, joinerEncryption: myEncryption,
            groupPublicKey: grant.groupPublicKey)),
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

  static let sealedVersion: UInt8 = 6

  /// The enclave's state (keys, group key, last endorsed round and statement, policy, time
  /// floor) encrypted with a key only this platform and this measurement derive.
  public func seal() throws(EnclaveError) -> [UInt8] {
    var w = CanonicalWriter()
    w.u8(Self.sealedVersion)
    w.fixed(signingKey.rawRepresentation)
    w.fixed(encryptionKey.rawRepresentation)
    w.optional(groupKey) { $0.fixed($1.rawRepresentation) }
    w.u64(lastEndorsedRound)
    w.optional(lastStatement) { $0.fixed($1.bytes) }
    w.u64(lastCombinedRound)
    w.optional(lastMetric) { $0.fixed($1.bytes) }
    policy.encode(to: &w)
    // A floor before 1970 (collateral under a test root) clamps to 0 rather than trapping.
    w.optional(timeFloor) { $0.u64(UInt64(clamping: Int64($1.timeIntervalSince1970))) }
    let box = try! ChaChaPoly.seal(
      w.bytes, using: try Self.sealingKey(platform: platform, measurement: measurement),
      authenticating: measurement)
    return Array(box.combined)
  }

  /// Restores a sealed enclave; fails on another platform, another measurement, any changed
  /// byte, or a policy other than the sealed one.
  public init(
    unsealing bytes: [UInt8], measurement: [UInt8], platform: any EnclavePlatform,
    policy expected: EnclavePolicy
  ) throws(EnclaveError) {
    let plain: [UInt8]
    let key = try Self.sealingKey(platform: platform, measurement: measurement)
    do {
      let box = try ChaChaPoly.SealedBox(combined: bytes)
      plain = Array(
        try ChaChaPoly.open(
          box, using: key,
          authenticating: measurement))
    } catch {
      throw .sealed("does not open: another platform or measurement, or altered")
    }
    let state:
      (
        signing: [UInt8], encryption: [UInt8], group: [UInt8]?, round: UInt64,
        statement: Hash256?, combined: UInt64, metric: Hash256?, policy: EnclavePolicy,
        floor: UInt64?
      )
    do throws(CanonicalDecodingError) {
      var r = CanonicalReader(plain)
      let version = try r.u8("sealed version")
      guard version == Self.sealedVersion else {
        throw .unknownVersion(field: "sealed version", version: Int(version))
      }
      let signing = try r.fixed(32, "sealed signing key")
      let encryption = try r.fixed(32, "sealed encryption key")
      let group = try r.optional("sealed group key") { r throws(CanonicalDecodingError) in
        try r.fixed(32, "sealed group key")
      }
      let round = try r.u64("sealed round")
      let statement = try r.optional("sealed statement") { r throws(CanonicalDecodingError) in
        Hash256(bytes: try r.fixed(32, "sealed statement"))!
      }
      let combined = try r.u64("sealed combined round")
      let metric = try r.optional("sealed metric") { r throws(CanonicalDecodingError) in
        Hash256(bytes: try r.fixed(32, "sealed metric"))!
      }
      let policy = try EnclavePolicy(from: &r)
      let floor = try r.optional("sealed time floor") { r throws(CanonicalDecodingError) in
        try r.u64("sealed time floor")
      }
      try r.finish()
      state = (signing, encryption, group, round, statement, combined, metric, policy, floor)
    } catch {
      throw .sealed("\(error)")
    }
    guard state.policy == expected else {
      throw .sealed(
        "it was sealed under another policy than the one given: a host cannot change it after first start"
      )
    }
    policy = state.policy
    lastStatement = state.statement
    lastCombinedRound = state.combined
    lastMetric = state.metric
    timeFloor = state.floor.map { Date(timeIntervalSince1970: Double($0)) }
    self.measurement = measurement
    self.platform = platform
    signingKey = try! Curve25519.Signing.PrivateKey(rawRepresentation: state.signing)
    encryptionKey = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: state.encryption)
    groupKey = state.group.map {
      try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: $0)
    }
    lastEndorsedRound = state.round
  }

  static func sealingKey(platform: any EnclavePlatform, measurement: [UInt8])
    throws(EnclaveError) -> SymmetricKey
  {
    HKDF<SHA256>.deriveKey(
      inputKeyMaterial: try platform.sealingSecret(), salt: measurement,
      info: Array("fedledger/seal/v1".utf8), outputByteCount: 32)
  }
}
