import Attestation
import Canonical
import Crypto
import Enclave
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

  /// The whole handshake: each side challenges the other, evidence answers, the grant moves.
  func join(_ joiner: Enclave, from first: Enclave) throws -> GroupKeyGrant {
    let c1 = first.challenge()
    let c2 = joiner.challenge()
    return try first.admit(
      joiner.evidence(nonce: c1), joinerChallenge: c2, network: network, policy: policy)
  }

  func testAJoiningEnclaveGetsTheGroupKeyOnlyAfterMutualAttestation() throws {
    let first = Enclave(measurement: measurement, platform: platformA)
    try first.createGroupKey()
    let joiner = Enclave(measurement: measurement, platform: platformB)
    let grant = try join(joiner, from: first)
    // Through its bytes, as it would cross the host.
    try joiner.accept(
      try GroupKeyGrant(canonical: grant.canonicalBytes), network: network, policy: policy)
    XCTAssertEqual(joiner.groupPublicKey, first.groupPublicKey)
    XCTAssertNotNil(joiner.groupPublicKey)
    // A second grant is refused: an enclave never swaps its group key.
    let again = try join(joiner, from: first)
    XCTAssertThrowsError(try joiner.accept(again, network: network, policy: policy)) {
      XCTAssertEqual($0 as? EnclaveError, .groupKey("this enclave already holds one"))
    }
  }

  func testEvidenceIsRefusedForAnUntrustedPlatformMeasurementStaleNonceOrSwappedKey() throws {
    let first = Enclave(measurement: measurement, platform: platformA)
    try first.createGroupKey()
    func refused(
      _ e: (([UInt8]) throws -> EnclaveEvidence), _ text: String, nonce: [UInt8]? = nil
    ) throws {
      let c = first.challenge()
      let evidence = try e(nonce ?? c)
      XCTAssertThrowsError(
        try first.admit(evidence, joinerChallenge: [], network: network, policy: policy)
      ) { XCTAssert("\($0)".contains(text), "\($0) does not contain \(text)") }
    }
    let rogue = Enclave(measurement: measurement, platform: SimulatedPlatform())
    try refused(rogue.evidence(nonce:), "is not trusted")
    let other = Enclave(measurement: Array(SHA256.hash(data: [1])), platform: platformB)
    try refused(other.evidence(nonce:), "measurement")
    let honest = Enclave(measurement: measurement, platform: platformB)
    // Evidence for a nonce this enclave never issued (an old one, replayed).
    try refused(
      honest.evidence(nonce:), "REPORTDATA does not bind", nonce: [UInt8](repeating: 7, count: 32))
    // A host swapping in its own encryption key breaks the binding.
    try refused(
      { n in
        var e = try honest.evidence(nonce: n)
        e.encryptionKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
        return e
      }, "REPORTDATA does not bind")
    // A changed report byte breaks the platform's signature.
    try refused(
      { n in
        var e = try honest.evidence(nonce: n)
        guard case .simulated(var report) = e.report else { throw EnclaveError.request("") }
        report.measurement[0] ^= 1
        e.report = .simulated(report)
        return e
      }, "not signed by its platform key")
    // An empty allow-list admits nothing.
    let empty = EnclavePolicy(trustedPlatforms: [platformB.publicKey], measurements: [])
    let c = first.challenge()
    XCTAssertThrowsError(
      try first.admit(
        honest.evidence(nonce: c), joinerChallenge: [], network: network, policy: empty))
    XCTAssert(SimulatedReport.label.contains("NO HARDWARE PROTECTION"))
  }

  func testTheJoinerChecksTheGranterItsSignatureAndTheNetwork() throws {
    let joiner = Enclave(measurement: measurement, platform: platformB)
    // An untrusted granter.
    let rogue = Enclave(measurement: measurement, platform: SimulatedPlatform())
    try rogue.createGroupKey()
    let lax = EnclavePolicy(trustedPlatforms: [platformB.publicKey], measurements: [measurement])
    let c1 = rogue.challenge()
    let c2 = joiner.challenge()
    let grant = try rogue.admit(
      joiner.evidence(nonce: c1), joinerChallenge: c2, network: network, policy: lax)
    XCTAssertThrowsError(try joiner.accept(grant, network: network, policy: policy)) {
      XCTAssert("\($0)".contains("is not trusted"), "\($0)")
    }
    // A host pairing a genuine enclave's evidence with a key of its own: the granter's
    // signature does not cover it.
    let first = Enclave(measurement: measurement, platform: platformA)
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
    XCTAssertThrowsError(try joiner.accept(planted, network: network, policy: policy)) {
      XCTAssertEqual(
        $0 as? EnclaveError, .groupKey("the grant is not signed by the attested granting enclave"))
    }
    XCTAssertNil(joiner.groupPublicKey)
    // A grant for another network, and one meant for another enclave.
    let elsewhere = try join(joiner, from: first)
    XCTAssertThrowsError(
      try joiner.accept(elsewhere, network: Array(SHA256.hash(data: [9])), policy: policy))
    let bystander = Enclave(measurement: measurement, platform: platformB)
    _ = bystander.challenge()
    XCTAssertThrowsError(try bystander.accept(elsewhere, network: network, policy: policy))
  }

  func testSealedStateOpensOnlyOnItsPlatformAndMeasurement() throws {
    let e = Enclave(measurement: measurement, platform: platformA)
    try e.createGroupKey()
    let sealed = try e.seal()
    let back = try Enclave(unsealing: sealed, measurement: measurement, platform: platformA)
    XCTAssertEqual(back.groupPublicKey, e.groupPublicKey)
    XCTAssertEqual(back.signingPublicKey, e.signingPublicKey)
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: measurement, platform: platformB))
    XCTAssertThrowsError(
      try Enclave(
        unsealing: sealed, measurement: Array(SHA256.hash(data: [2])), platform: platformA))
    for i in stride(from: 0, to: sealed.count, by: 7) {
      var bad = sealed
      bad[i] ^= 1
      XCTAssertThrowsError(
        try Enclave(unsealing: bad, measurement: measurement, platform: platformA), "byte \(i)")
    }
    let restored = try SimulatedPlatform(secret: platformA.secret)
    XCTAssertEqual(restored.publicKey, platformA.publicKey)
    XCTAssertNoThrow(try Enclave(unsealing: sealed, measurement: measurement, platform: restored))
  }
}
