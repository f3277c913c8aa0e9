import Attestation
import Crypto
import Enclave
import Federation
import Gateway
import Ledger
import Protection
import Records
import RecordsJSON
import UpdateSealing
import XCTest

/// A cluster trusts a group key only after its own check of an enclave, and what leaves it is
/// only the protected payload and its signed commitment.
final class ClusterAgentTests: XCTestCase {
  let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
  let platform = SimulatedPlatform()
  let node = SigningKey()
  let member = SigningKey()
  var policy: EnclavePolicy {
    EnclavePolicy(trustedPlatforms: [platform.publicKey], measurements: [measurement])
  }

  /// A network's genesis: enclaves endorse (mode tee), or node keys do (mode none).
  func genesis(enclaves: Bool) -> Genesis {
    Genesis(
      network: "gateway-test", createdAt: "2026-12-07T00:00:00Z",
      members: [.init(name: "member-0", key: member.publicKey)],
      nodes: [.init(name: "node-0", member: "member-0", key: node.publicKey)],
      endorsers: enclaves
        ? [
          .init(name: "node-0", kind: .simulatedEnclave, key: PublicKey(bytes: platform.publicKey)!)
        ]
        : [.init(name: "node-0", key: node.publicKey)],
      endorsementThreshold: 1, initialModel: Hash256.of([0]), round: [],
      enclaveMeasurements: enclaves ? [Hash256(bytes: measurement)!] : [],
      rules: RoundRules(minimumCohort: 3), clustersPerMember: 1)
  }

  func enclaveWithGroupKey(_ platform: SimulatedPlatform? = nil) throws -> Enclave {
    let e = Enclave(measurement: measurement, platform: platform ?? self.platform, policy: policy)
    try e.createGroupKey()
    return e
  }

  func update(cluster: Int = 2) -> ClusterUpdate {
    ClusterUpdate(
      cluster: cluster, round: 4, baseModelHash: Hash256.of([0]).hex,
      delta: [1, 2, 3], sampleCount: 50, trainLoss: 0.3, simulatedSeconds: 2)
  }

  func testItSealsToTheLedgersGroupKeyAfterCheckingAnEnclave() throws {
    let g = genesis(enclaves: true)
    let enclave = try enclaveWithGroupKey()
    let agent = ClusterAgent(id: 2, name: "cluster-2", genesis: g)
    try agent.acceptBase(Hash256.of([0]), receipt: nil)
    let group = try XCTUnwrap(enclave.groupPublicKey)
    try agent.trustEnclaves(
      evidence: try enclave.evidence(nonce: agent.challenge()), policy: policy,
      ledgerGroupKey: group)
    let sent = try agent.submission(for: update())
    let plain = UpdatePayload(update()).encode()
    XCTAssertNotEqual(sent.payload, plain)
    XCTAssertNil(sent.payload.firstRange(of: plain.suffix(12)), "no plaintext leaves the cluster")
    let envelope = try UpdateEnvelope(canonical: sent.payload)
    XCTAssertEqual(envelope.cluster, "cluster-2")
    XCTAssertEqual(envelope.round, 4)
    XCTAssertEqual(envelope.baseModel, Hash256.of([0]).bytes)
    guard case .commitment(let c) = sent.commitment else { return XCTFail("a commitment") }
    XCTAssertEqual(c.payload, Hash256.of(sent.payload))
    XCTAssertEqual(c.payloadSize, UInt64(sent.payload.count))
    XCTAssertTrue(
      agent.publicKey.verifies(
        c.signature,
        over: UpdateCommitment.message(
          network: g.hash, round: 4, cluster: "cluster-2", payload: c.payload,
          payloadSize: c.payloadSize), for: .commitment))
    // Attack: the cluster's wiring hands it another cluster's update to sign as its own.
    XCTAssertThrowsError(try agent.submission(for: update(cluster: 3))) {
      XCTAssertEqual($0 as? ClusterAgentError, .notOurs(cluster: 3))
    }
  }

  /// Attack: a host shows a genuine enclave's evidence, but the ledger recorded another group
  /// key; or evidence made for another nonce (replayed); or an untrusted platform's. In mode
  /// tee nothing leaves the cluster, not even in the clear, until one check passes.
  func testItRefusesEvidenceThatDoesNotMatchTheLedgerOrItsNonce() throws {
    let enclave = try enclaveWithGroupKey()
    let agent = ClusterAgent(id: 2, name: "cluster-2", genesis: genesis(enclaves: true))
    let group = try XCTUnwrap(enclave.groupPublicKey)
    XCTAssertThrowsError(
      try agent.trustEnclaves(
        evidence: try enclave.evidence(nonce: agent.challenge()), policy: policy,
        ledgerGroupKey: Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation))
    ) { XCTAssertTrue("\($0)".contains("another group key than the ledger's"), "\($0)") }
    let replayed = try enclave.evidence(nonce: agent.challenge())
    _ = agent.challenge()
    XCTAssertThrowsError(
      try agent.trustEnclaves(evidence: replayed, policy: policy, ledgerGroupKey: group))
    let rogue = try enclaveWithGroupKey(SimulatedPlatform())
    XCTAssertThrowsError(
      try agent.trustEnclaves(
        evidence: try rogue.evidence(nonce: agent.challenge()), policy: policy,
        ledgerGroupKey: try XCTUnwrap(rogue.groupPublicKey)))
    XCTAssertThrowsError(try agent.submission(for: update())) {
      XCTAssertEqual($0 as? ClusterAgentError, .noTrustedGroupKey)
    }
  }

  /// The mode is genesis's: only where node keys endorse does an update go as it is.
  func testOnlyANetworkWithoutEnclavesGetsUpdatesInTheClear() throws {
    let clear = ClusterAgent(id: 2, name: "cluster-2", genesis: genesis(enclaves: false))
    try clear.acceptBase(Hash256.of([0]), receipt: nil)
    XCTAssertEqual(
      try clear.submission(for: update()).payload, UpdatePayload(update()).encode())
  }

  /// Attack: a host hands the cluster another base model than the ledger's (to have it train
  /// on a poisoned model, or to tell updates apart). Without a receipt only genesis's initial
  /// model is accepted, and no update goes out on a base the cluster did not accept.
  func testItTrainsOnlyOnABaseTheLedgerProves() throws {
    let agent = ClusterAgent(id: 2, name: "cluster-2", genesis: genesis(enclaves: false))
    XCTAssertThrowsError(try agent.acceptBase(Hash256.of([9]), receipt: nil)) {
      guard case .unprovenBase = $0 as? ClusterAgentError else { return XCTFail("\($0)") }
    }
    XCTAssertThrowsError(try agent.submission(for: update())) {
      guard case .unprovenBase = $0 as? ClusterAgentError else { return XCTFail("\($0)") }
    }
    try agent.acceptBase(Hash256.of([0]), receipt: nil)
    // Checking a model to judge it leaves the base it trains on as it was.
    XCTAssertThrowsError(try agent.check(Hash256.of([9]), receipt: nil))
    XCTAssertEqual(agent.base, Hash256.of([0]))
    var other = update()
    other.baseModelHash = Hash256.of([9]).hex
    XCTAssertThrowsError(try agent.submission(for: other))
    XCTAssertNoThrow(try agent.submission(for: update()))
  }
}
