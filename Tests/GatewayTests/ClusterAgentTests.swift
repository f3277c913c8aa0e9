import Attestation
import Crypto
import Enclave
import Federation
import Gateway
import Ledger
import Protection
import XCTest

/// A cluster trusts a group key only after its own check of an enclave, and what leaves it is
/// only the protected payload and its signed commitment.
final class ClusterAgentTests: XCTestCase {
  let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
  let network = Hash256.of(Array("gateway tests".utf8))
  let platform = SimulatedPlatform()
  var policy: EnclavePolicy {
    EnclavePolicy(trustedPlatforms: [platform.publicKey], measurements: [measurement])
  }

  func enclaveWithGroupKey(_ platform: SimulatedPlatform? = nil) throws -> Enclave {
    let e = Enclave(measurement: measurement, platform: platform ?? self.platform, policy: policy)
    try e.createGroupKey()
    return e
  }

  func update() -> ClusterUpdate {
    ClusterUpdate(
      cluster: 2, round: 4, baseModelHash: String(repeating: "ab", count: 32),
      delta: [1, 2, 3], sampleCount: 50, trainLoss: 0.3, simulatedSeconds: 2)
  }

  func testItSealsToTheLedgersGroupKeyAfterCheckingAnEnclave() throws {
    let enclave = try enclaveWithGroupKey()
    let agent = ClusterAgent(id: 2, name: "cluster-2", network: network, mode: EnclavePrivacy.self)
    let group = try XCTUnwrap(enclave.groupPublicKey)
    let nonce = ClusterAgent.challenge()
    try agent.trustEnclaves(
      evidence: try enclave.evidence(nonce: nonce), nonce: nonce, policy: policy,
      ledgerGroupKey: group)
    let base = Hash256.of([9])
    let sent = try agent.submission(for: update(), baseModel: base)
    let plain = UpdatePayload(update()).encode()
    XCTAssertNotEqual(sent.payload, plain)
    XCTAssertNil(sent.payload.firstRange(of: plain.suffix(12)), "no plaintext leaves the cluster")
    let envelope = try UpdateEnvelope(canonical: sent.payload)
    XCTAssertEqual(envelope.cluster, "cluster-2")
    XCTAssertEqual(envelope.round, 4)
    guard case .commitment(let c) = sent.commitment else { return XCTFail("a commitment") }
    XCTAssertEqual(c.payload, Hash256.of(sent.payload))
    XCTAssertEqual(c.payloadSize, UInt64(sent.payload.count))
    XCTAssertTrue(
      agent.publicKey.verifies(
        c.signature,
        over: UpdateCommitment.message(
          network: network, round: 4, cluster: "cluster-2", payload: c.payload,
          payloadSize: c.payloadSize), for: .commitment))
  }

  /// Attack: a host shows a genuine enclave's evidence, but the ledger recorded another group
  /// key (or the evidence answers another nonce, or comes from an untrusted platform).
  func testItRefusesEvidenceThatDoesNotMatchTheLedgerOrItsNonce() throws {
    let enclave = try enclaveWithGroupKey()
    let agent = ClusterAgent(id: 0, name: "cluster-0", network: network, mode: EnclavePrivacy.self)
    let group = try XCTUnwrap(enclave.groupPublicKey)
    let nonce = ClusterAgent.challenge()
    let evidence = try enclave.evidence(nonce: nonce)
    XCTAssertThrowsError(
      try agent.trustEnclaves(
        evidence: evidence, nonce: nonce, policy: policy,
        ledgerGroupKey: Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation))
    ) { XCTAssertTrue("\($0)".contains("another group key than the ledger's"), "\($0)") }
    XCTAssertThrowsError(
      try agent.trustEnclaves(
        evidence: evidence, nonce: ClusterAgent.challenge(), policy: policy,
        ledgerGroupKey: group))
    let rogue = try enclaveWithGroupKey(SimulatedPlatform())
    XCTAssertThrowsError(
      try agent.trustEnclaves(
        evidence: try rogue.evidence(nonce: nonce), nonce: nonce, policy: policy,
        ledgerGroupKey: try XCTUnwrap(rogue.groupPublicKey)))
    // Refused every time: in mode tee nothing leaves the cluster, not even in the clear.
    XCTAssertThrowsError(try agent.submission(for: update(), baseModel: .zero)) {
      XCTAssertEqual($0 as? ClusterAgentError, .noTrustedGroupKey)
    }
    let clear = ClusterAgent(id: 0, name: "cluster-0", network: network, mode: NoPrivacy.self)
    XCTAssertEqual(
      try clear.submission(for: update(), baseModel: .zero).payload,
      UpdatePayload(update()).encode(), "mode none sends the update as it is")
  }
}
