import Attestation
import Canonical
import Crypto
import Enclave
import EnclaveMessages
import XCTest

final class EnclaveTests: XCTestCase {
  let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
  let network = Array(SHA256.hash(data: Array("genesis".utf8)))
  let platformA = SimulatedPlatform()
  let platformB = SimulatedPlatform()

  var policy: EnclavePolicy {
    EnclavePolicy(
      trustedPlatforms: [platformA.publicKey, platformB.publicKey], measurements: [measurement])
  }

  func enclave(_ platform: SimulatedPlatform, measurement: [UInt8]? = nil) -> Enclave {
    Enclave(measurement: measurement ?? self.measurement, platform: platform, policy: policy)
  }

  /// The whole handshake: each side challenges the other, evidence answers, the grant moves.
  func join(_ joiner: Enclave, from first: Enclave) throws -> GroupKeyGrant {
    let c1 = first.challenge()
    let c2 = joiner.challenge()
    return try first.admit(joiner.evidence(nonce: c1), joinerChallenge: c2, network: network)
  }

  func testAJoiningEnclaveGetsTheGroupKeyOnlyAfterMutualAttestation() throws {
    let first = enclave(platformA)
    try first.createGroupKey()
    let joiner = enclave(platformB)
    let grant = try join(joiner, from: first)
    // Through its bytes, as it would cross the host.
    try joiner.accept(try GroupKeyGrant(canonical: grant.canonicalBytes), network: network)
    XCTAssertEqual(joiner.groupPublicKey, first.groupPublicKey)
    XCTAssertNotNil(joiner.groupPublicKey)
    // A second grant is refused: an enclave never swaps its group key.
    let again = try join(joiner, from: first)
    XCTAssertThrowsError(try joiner.accept(again, network: network)) {
      XCTAssertEqual($0 as? EnclaveError, .groupKey("this enclave already holds one"))
    }
  }

  func testEvidenceIsRefusedForAnUntrustedPlatformMeasurementStaleNonceOrSwappedKey() throws {
    let first = enclave(platformA)
    try first.createGroupKey()
    func refused(
      _ e: (([UInt8]) throws -> EnclaveEvidence), _ text: String, nonce: [UInt8]? = nil
    ) throws {
      let c = first.challenge()
      let evidence = try e(nonce ?? c)
      XCTAssertThrowsError(
        try first.admit(evidence, joinerChallenge: [], network: network)
      ) { XCTAssert("\($0)".contains(text), "\($0) does not contain \(text)") }
    }
    let rogue = enclave(SimulatedPlatform())
    try refused(rogue.evidence(nonce:), "is not trusted")
    let other = enclave(platformB, measurement: Array(SHA256.hash(data: [1])))
    try refused(other.evidence(nonce:), "measurement")
    let honest = enclave(platformB)
    // Evidence for a nonce this enclave never issued (an old one, replayed).
    try refused(
      honest.evidence(nonce:), "answers none of this enclave's open challenges",
      nonce: [UInt8](repeating: 7, count: 32))
    // A host swapping in its own encryption key breaks the binding.
    try refused(
      { n in
        var e = try honest.evidence(nonce: n)
        e.encryptionKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        return e
      }, "answers none of this enclave's open challenges")
    // A changed report byte breaks the platform's signature.
    try refused(
      { n in
        var e = try honest.evidence(nonce: n)
        guard case .simulated(var report) = e.report else {
          throw EnclaveError.platform("not a simulated report")
        }
        report.measurement[0] ^= 1
        e.report = .simulated(report)
        return e
      }, "not signed by its platform key")
    // An empty allow-list admits nothing.
    let empty = EnclavePolicy(trustedPlatforms: [platformB.publicKey], measurements: [])
    let strict = Enclave(measurement: measurement, platform: platformA, policy: empty)
    try strict.createGroupKey()
    let c = strict.challenge()
    let bound = Enclave(measurement: measurement, platform: platformB, policy: empty)
    XCTAssertThrowsError(
      try strict.admit(bound.evidence(nonce: c), joinerChallenge: [], network: network)
    ) {
      XCTAssert("\($0)".contains("is not allowed"), "\($0)")
    }
    XCTAssert(SimulatedReport.label.contains("NO HARDWARE PROTECTION"))
  }

  func testTheJoinerChecksTheGranterItsSignatureAndTheNetwork() throws {
    let joiner = enclave(platformB)
    // An untrusted granter.
    let rogue = enclave(SimulatedPlatform())
    try rogue.createGroupKey()
    let c1 = rogue.challenge()
    let c2 = joiner.challenge()
    let grant = try rogue.admit(joiner.evidence(nonce: c1), joinerChallenge: c2, network: network)
    XCTAssertThrowsError(try joiner.accept(grant, network: network)) {
      XCTAssert("\($0)".contains("is not trusted"), "\($0)")
    }
    // A host pairing a genuine enclave's evidence with a key of its own: the granter's
    // signature does not cover it.
    let first = enclave(platformA)
    try first.createGroupKey()
    var planted = try join(joiner, from: first)
    let attackerKey = Curve25519.KeyAgreement.PrivateKey()
    var sender = try HPKE.Sender(
      recipientKey: try Curve25519.KeyAgreement.PublicKey(
        rawRepresentation: try joiner.evidence(nonce: []).encryptionKey),
      ciphersuite: .Curve25519_SHA256_ChachaPoly, info: Data())
    planted.ciphertext = Array(try sender.seal(attackerKey.rawRepresentation))
    planted.encapsulatedKey = Array(sender.encapsulatedKey)
    planted.groupPublicKey = Array(attackerKey.publicKey.rawRepresentation)
    XCTAssertThrowsError(try joiner.accept(planted, network: network)) {
      XCTAssertEqual(
        $0 as? EnclaveError, .groupKey("the grant is not signed by the attested granting enclave"))
    }
    XCTAssertNil(joiner.groupPublicKey)
    // A grant for another network, and one meant for another enclave.
    let elsewhere = try join(joiner, from: first)
    XCTAssertThrowsError(try joiner.accept(elsewhere, network: Array(SHA256.hash(data: [9])))) {
      XCTAssertEqual($0 as? EnclaveError, .groupKey("the grant is for another network"))
    }
    let bystander = enclave(platformB)
    _ = bystander.challenge()
    XCTAssertThrowsError(try bystander.accept(elsewhere, network: network))
  }

  func testSealedStateOpensOnlyOnItsPlatformAndMeasurement() throws {
    let e = enclave(platformA)
    try e.createGroupKey()
    let sealed = try e.seal()
    let back = try Enclave(
      unsealing: sealed, measurement: measurement, platform: platformA, policy: policy)
    XCTAssertEqual(back.groupPublicKey, e.groupPublicKey)
    XCTAssertEqual(back.signingPublicKey, e.signingPublicKey)
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: measurement, platform: platformB, policy: policy))
    XCTAssertThrowsError(
      try Enclave(
        unsealing: sealed, measurement: Array(SHA256.hash(data: [2])), platform: platformA,
        policy: policy))
    // A host cannot restart it under a looser policy.
    var looser = policy
    looser.trustedPlatforms.insert(SimulatedPlatform().publicKey)
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: measurement, platform: platformA, policy: looser)
    ) { XCTAssert("\($0)".contains("sealed under another policy"), "\($0)") }
    for i in stride(from: 0, to: sealed.count, by: 7) {
      var bad = sealed
      bad[i] ^= 1
      XCTAssertThrowsError(
        try Enclave(
          unsealing: bad, measurement: measurement, platform: platformA, policy: policy),
        "byte \(i)")
    }
    let restored = try SimulatedPlatform(secret: platformA.secret)
    XCTAssertEqual(restored.publicKey, platformA.publicKey)
    XCTAssertNoThrow(
      try Enclave(unsealing: sealed, measurement: measurement, platform: restored, policy: policy))
  }

  /// A host that starts a genuine enclave (trusted platform, allowed measurement) under a
  /// policy of its own (here trusting a platform key it holds, so it could forge a joiner)
  /// gets an enclave no honest party deals with: its evidence binds the other policy.
  func testAnEnclaveStartedUnderAnotherPolicyIsAStrangerToTheNetwork() throws {
    let forger = SimulatedPlatform()
    var own = policy
    own.trustedPlatforms.insert(forger.publicKey)
    let captured = Enclave(measurement: measurement, platform: platformB, policy: own)
    let first = enclave(platformA)
    try first.createGroupKey()

    // The honest enclave does not admit it...
    let c1 = first.challenge()
    let c2 = captured.challenge()
    XCTAssertThrowsError(
      try first.admit(captured.evidence(nonce: c1), joinerChallenge: c2, network: network)
    ) {
      XCTAssert("\($0)".contains("started under another policy"), "\($0)")
    }
    XCTAssertNil(captured.groupPublicKey)
    // ...and it, in turn, would admit only enclaves under its own policy (a forger's), never
    // an honest one: no key it makes reaches the network's enclaves.
    try captured.createGroupKey()
    let joiner = enclave(platformB)
    let c3 = captured.challenge()
    XCTAssertThrowsError(
      try captured.admit(joiner.evidence(nonce: c3), joinerChallenge: c2, network: network)
    ) { XCTAssert("\($0)".contains("started under another policy"), "\($0)") }
    // A cluster or node checking against the network's policy refuses its evidence too.
    let nonce = [UInt8](repeating: 5, count: 32)
    XCTAssertThrowsError(try captured.evidence(nonce: nonce).verify(nonce: nonce, policy: policy)) {
      XCTAssert("\($0)".contains("REPORTDATA does not bind"), "\($0)")
    }
    XCTAssertNoThrow(try first.evidence(nonce: nonce).verify(nonce: nonce, policy: policy))
    // The policy's digest covers every field.
    var other = policy
    other.acceptedTCBStatuses.insert("OutOfDate")
    XCTAssertNotEqual(other.digest, policy.digest)
    other = policy
    other.sgxRoot = [1]
    XCTAssertNotEqual(other.digest, policy.digest)
  }
}
