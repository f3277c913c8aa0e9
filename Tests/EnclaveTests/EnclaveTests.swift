import Attestation
import Canonical
import Crypto
import Enclave
import XCTest

final class EnclaveTests: XCTestCase {
  let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
  let platformA = SimulatedPlatform()
  let platformB = SimulatedPlatform()

  var policy: EnclavePolicy {
    EnclavePolicy(
      trustedPlatforms: [platformA.publicKey, platformB.publicKey], measurements: [measurement])
  }

  func nonce() -> [UInt8] { (0..<32).map { _ in UInt8.random(in: 0...255) } }

  func testAJoiningEnclaveGetsTheGroupKeyOnlyAfterMutualAttestation() throws {
    let first = Enclave(measurement: measurement, platform: platformA)
    try first.createGroupKey()
    let joiner = Enclave(measurement: measurement, platform: platformB)
    let (n1, n2) = (nonce(), nonce())
    let grant = try first.admit(
      joiner.evidence(nonce: n1), nonce: n1, joinerNonce: n2, policy: policy)
    // Through its bytes, as it would cross the host.
    let wire = try GroupKeyGrant(canonical: grant.canonicalBytes)
    try joiner.accept(wire, nonce: n2, policy: policy)
    XCTAssertEqual(joiner.groupPublicKey, first.groupPublicKey)
    XCTAssertNotNil(joiner.groupPublicKey)
  }

  func testEvidenceIsRefusedForAnUntrustedPlatformMeasurementNonceOrSwappedKey() throws {
    let first = Enclave(measurement: measurement, platform: platformA)
    try first.createGroupKey()
    let n = nonce()
    func refused(_ e: EnclaveEvidence, nonce: [UInt8], _ text: String) {
      XCTAssertThrowsError(try first.admit(e, nonce: nonce, joinerNonce: n, policy: policy)) {
        XCTAssert("\($0)".contains(text), "\($0) does not contain \(text)")
      }
    }
    let rogue = Enclave(measurement: measurement, platform: SimulatedPlatform())
    refused(rogue.evidence(nonce: n), nonce: n, "is not trusted")
    let other = Enclave(
      measurement: Array(SHA256.hash(data: [1])), platform: platformB)
    refused(other.evidence(nonce: n), nonce: n, "measurement")
    let honest = Enclave(measurement: measurement, platform: platformB)
    refused(honest.evidence(nonce: n), nonce: nonce(), "REPORTDATA does not bind")
    // A host swapping in its own encryption key breaks the binding.
    var swapped = honest.evidence(nonce: n)
    swapped.encryptionKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
    refused(swapped, nonce: n, "REPORTDATA does not bind")
    // A changed report byte breaks the platform's signature.
    var forged = honest.evidence(nonce: n)
    forged.report.measurement[0] ^= 1
    refused(forged, nonce: n, "not signed by its platform key")
    // Evidence says what it is, wherever it is shown.
    XCTAssert(SimulatedReport.label.contains("NO HARDWARE PROTECTION"))
  }

  func testTheJoinerChecksTheGranterToo() throws {
    let rogue = Enclave(measurement: measurement, platform: SimulatedPlatform())
    try rogue.createGroupKey()
    let joiner = Enclave(measurement: measurement, platform: platformB)
    let (n1, n2) = (nonce(), nonce())
    // The rogue's own policy trusts everyone; the joiner's does not trust the rogue.
    let lax = EnclavePolicy(trustedPlatforms: [platformB.publicKey], measurements: [])
    let grant = try rogue.admit(joiner.evidence(nonce: n1), nonce: n1, joinerNonce: n2, policy: lax)
    XCTAssertThrowsError(try joiner.accept(grant, nonce: n2, policy: policy)) {
      XCTAssert("\($0)".contains("is not trusted"), "\($0)")
    }
    XCTAssertNil(joiner.groupPublicKey)
    // A grant meant for another enclave does not open.
    let first = Enclave(measurement: measurement, platform: platformA)
    try first.createGroupKey()
    let bystander = Enclave(measurement: measurement, platform: platformB)
    let g = try first.admit(joiner.evidence(nonce: n1), nonce: n1, joinerNonce: n2, policy: policy)
    XCTAssertThrowsError(try bystander.accept(g, nonce: n2, policy: policy)) {
      XCTAssertEqual($0 as? EnclaveError, .groupKey("the grant does not open for this enclave"))
    }
  }

  func testSealedStateOpensOnlyOnItsPlatformAndMeasurement() throws {
    let e = Enclave(measurement: measurement, platform: platformA)
    try e.createGroupKey()
    let sealed = e.seal()
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
    // The platform itself round-trips through its secret.
    let restored = try SimulatedPlatform(secret: platformA.secret)
    XCTAssertEqual(restored.publicKey, platformA.publicKey)
    XCTAssertNoThrow(try Enclave(unsealing: sealed, measurement: measurement, platform: restored))
  }
}
