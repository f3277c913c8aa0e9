import Aggregation
import Attestation
import Canonical
import Crypto
import Enclave
import EnclaveMessages
import Foundation
import Ledger
import Records
import SGXTestSupport
import SwiftASN1
import X509
import XCTest

/// The CPU's part, for tests on a machine without SGX: quotes from one platform of a synthetic
/// DCAP PKI (test keys, not Intel's) for one MRENCLAVE, and one sealing key.
struct SyntheticQuoting: SGXQuoting {
  let sgx: SyntheticSGX
  let mrEnclave: [UInt8]
  let key: [UInt8]
  var debug = false
  var platform = 0

  func quote(reportData: [UInt8]) throws -> [UInt8] {
    sgx.quote(
      mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32), reportData: reportData,
      debug: debug, platform: platform)
  }

  func sealingKey() throws -> [UInt8] { key }
}

/// The `sgx` backend: enclaves whose evidence is a DCAP quote, checked with collateral, and whose
/// state is sealed with the CPU's key.
final class SGXBackendTests: XCTestCase {
  static let sgx = SyntheticSGX(notBefore: Date() - 86_400, notAfter: Date() + 30 * 86_400)
  let mrEnclave = Array(SHA256.hash(data: Array("fedledger-enclave under gramine".utf8)))
  let network = Array(SHA256.hash(data: Array("genesis".utf8)))

  var root: [UInt8] {
    var s = DER.Serializer()
    try! s.serialize(Self.sgx.root)
    return s.serializedBytes
  }

  /// The ledger's one node.
  static let node = SigningKey()

  /// Machines 0 and 1 of the synthetic PKI are the network's; machine 2 is a stranger's.
  var policy: EnclavePolicy {
    EnclavePolicy(
      trustedPlatforms: [],
      sgxPlatforms: [SyntheticSGX.ppid(platform: 0), SyntheticSGX.ppid(platform: 1)],
      measurements: [mrEnclave], sgxRoot: root, ledgerNodes: [Self.node.publicKey.bytes])
  }

  /// SGX on machine `machine` of the synthetic PKI, with sealing key `key`.
  func platform(
    key: UInt8, debug: Bool = false, mrEnclave: [UInt8]? = nil, sgx: SyntheticSGX = sgx,
    machine: Int = 0
  ) throws -> SGXPlatform {
    try SGXPlatform(
      source: SyntheticQuoting(
        sgx: sgx, mrEnclave: mrEnclave ?? self.mrEnclave,
        key: [UInt8](repeating: key, count: 16), debug: debug, platform: machine))
  }

  func enclave(
    key: UInt8, debug: Bool = false, collateral: Bool = true, policy: EnclavePolicy? = nil,
    machine: Int = 0
  ) throws -> Enclave {
    let p = try platform(key: key, debug: debug, machine: machine)
    let e = Enclave(measurement: p.measurement, platform: p, policy: policy ?? self.policy)
    if collateral { try e.supply(Self.sgx.collateral) }
    return e
  }

  func testTwoSGXEnclavesShareTheGroupKeyOnlyAfterCheckingEachOthersQuotes() throws {
    let first = try enclave(key: 1)
    try first.createGroupKey()
    let joiner = try enclave(key: 2)
    let c1 = first.challenge()
    let c2 = joiner.challenge()
    let evidence = try joiner.evidence(nonce: c1)
    guard case .sgx = evidence.report else { return XCTFail("SGX evidence is a quote") }
    let grant = try first.admit(evidence, joinerChallenge: c2, network: network)
    try joiner.accept(try GroupKeyGrant(canonical: grant.canonicalBytes), network: network)
    XCTAssertNotNil(joiner.groupPublicKey)
    XCTAssertEqual(joiner.groupPublicKey, first.groupPublicKey)
  }

  func testSGXEvidenceIsRefusedWithoutCollateralForAnotherEnclaveADebugOneOrAnotherRoot() throws {
    let e = try enclave(key: 1)
    let nonce = [UInt8](repeating: 4, count: 32)
    let evidence = try e.evidence(nonce: nonce)
    let collateral = Self.sgx.collateral
    XCTAssertEqual(
      try evidence.verify(nonce: nonce, policy: policy, collateral: collateral), mrEnclave)
    func refused(
      _ evidence: EnclaveEvidence, _ text: String, nonce: [UInt8]? = nil,
      policy: EnclavePolicy? = nil, collateral: Collateral? = SGXBackendTests.sgx.collateral,
      line: UInt = #line
    ) {
      XCTAssertThrowsError(
        try evidence.verify(
          nonce: nonce ?? [UInt8](repeating: 4, count: 32), policy: policy ?? self.policy,
          collateral: collateral), line: line
      ) { XCTAssert("\($0)".contains(text), "\($0) does not contain \(text)", line: line) }
    }
    refused(evidence, "without DCAP collateral", collateral: nil)
    refused(evidence, "REPORTDATA", nonce: [UInt8](repeating: 5, count: 32))
    refused(
      evidence, "MRENCLAVE",
      policy: EnclavePolicy(trustedPlatforms: [], measurements: [network], sgxRoot: root))
    // The default policy pins Intel's root, which signed none of the synthetic chain.
    refused(
      evidence, "does not chain",
      policy: EnclavePolicy(trustedPlatforms: [], measurements: [mrEnclave]))
    refused(
      evidence, "TCB status",
      policy: EnclavePolicy(
        trustedPlatforms: [], measurements: [mrEnclave], acceptedTCBStatuses: ["Revoked"],
        sgxRoot: root))
    refused(evidence, "revoked", collateral: Self.sgx.collateral(revokingPCK: true))
    // A genuine enclave of an allowed build on a machine the network does not list.
    let stranger = try enclave(key: 7, machine: 2)
    refused(
      try stranger.evidence(nonce: [UInt8](repeating: 4, count: 32)),
      "from SGX platform PPID \(Hex.encode(SyntheticSGX.ppid(platform: 2))), which the network does not list"
    )
    // A host swapping in its own encryption key breaks the REPORTDATA binding.
    var swapped = evidence
    swapped.encryptionKey = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
    refused(swapped, "REPORTDATA")
    // Any changed byte of the quote's signed part or signatures.
    guard case .sgx(let quote) = evidence.report else { return XCTFail() }
    let signature = 48 + 384 + 4
    for (offset, text) in [
      (100, "not signed by its attestation key"),  // MRENCLAVE in the report body
      (48 + 320 + 1, "not signed by its attestation key"),  // REPORTDATA
      (signature + 10, "not signed by its attestation key"),
      (signature + 64 + 10, "QE report's REPORTDATA"),  // the attestation key
      (signature + 128 + 200, "QE report is not signed by the PCK key"),
      (signature + 128 + 384 + 10, "QE report is not signed by the PCK key"),
    ] {
      var bad = quote
      bad[offset] ^= 1
      var tampered = evidence
      tampered.report = .sgx(quote: bad)
      refused(tampered, text)
    }
    // A debug enclave: its memory is open to the host.
    let debug = try enclave(key: 3, debug: true)
    refused(try debug.evidence(nonce: nonce), "debug mode")
    // An enclave without collateral refuses SGX evidence, saying why.
    let bare = try enclave(key: 4, collateral: false)
    try bare.createGroupKey()
    let c = bare.challenge()
    XCTAssertThrowsError(
      try bare.admit(try e.evidence(nonce: c), joinerChallenge: [], network: network)
    ) { XCTAssert("\($0)".contains("collateral"), "\($0)") }
  }

  func testSGXStateIsSealedWithTheCPUsKeyAndOpensOnlyWithIt() throws {
    let e = try enclave(key: 1)
    try e.createGroupKey()
    let sealed = try e.seal()
    let same = try platform(key: 1)
    let back = try Enclave(
      unsealing: sealed, measurement: mrEnclave, platform: same, policy: policy)
    XCTAssertEqual(back.groupPublicKey, e.groupPublicKey)
    XCTAssertEqual(back.timeFloor, e.timeFloor)
    XCTAssertNotNil(back.timeFloor)
    XCTAssertThrowsError(
      try Enclave(
        unsealing: sealed, measurement: mrEnclave, platform: try platform(key: 2), policy: policy))
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: network, platform: same, policy: policy))
  }

  func testTheServiceTakesCollateralAndAnswersWithQuotes() throws {
    let p = try platform(key: 1)
    let service = EnclaveService(measurement: p.measurement, platform: p)
    func ask(_ r: EnclaveRequest) throws -> EnclaveResponse {
      // Through bytes, as across the host.
      try EnclaveResponse(
        canonical: service.handle(try EnclaveRequest(canonical: r.canonicalBytes).canonicalBytes))
    }
    guard case .info(let info) = try ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.backend, .sgx)
    XCTAssertEqual(info.measurement, mrEnclave)
    XCTAssertEqual(p.ppid, SyntheticSGX.ppid(platform: 0))
    guard case .info = try ask(.collateral(Self.sgx.collateral)) else { return XCTFail() }
    XCTAssertEqual(service.enclave?.collateral, Self.sgx.collateral)
    let nonce = [UInt8](repeating: 8, count: 32)
    guard case .evidence(let e) = try ask(.evidence(nonce: nonce)) else { return XCTFail() }
    XCTAssertEqual(
      try e.verify(nonce: nonce, policy: policy, collateral: Self.sgx.collateral), mrEnclave)
  }

  func testSGXEnclavesEndorseWithQuoteAndCollateralThatTheLedgerAccepts() throws {
    let a = try enclave(key: 1, machine: 0)
    let b = try enclave(key: 2, machine: 1)
    // Genesis names the machines by PPID; the enclaves' keys are their own business.
    let genesis = Genesis(
      network: "sgx-test", createdAt: "2026-11-26T12:00:00Z",
      members: [.init(name: "m", key: SigningKey().publicKey)],
      nodes: [.init(name: "node-0", member: "m", key: Self.node.publicKey)],
      endorsers: (0..<2).map {
        .init(name: "node-\($0)", sgxPlatform: PPID(bytes: SyntheticSGX.ppid(platform: $0))!)
      },
      endorsementThreshold: 2, enclaveMeasurements: [Hash256(bytes: mrEnclave)!], sgxRootCA: root,
      clustersPerMember: 1)
    try genesis.validate()
    try a.createGroupKey()
    let c1 = a.challenge()
    let c2 = b.challenge()
    // The enclaves run under the policy genesis implies.
    XCTAssertEqual(genesis.enclavePolicy(), policy)
    let grant = try a.admit(
      try b.evidence(nonce: c1), joinerChallenge: c2, network: genesis.hash.bytes)
    try b.accept(grant, network: genesis.hash.bytes)
    // A round of one update sealed to `e`'s group key (the fresh enclaves below make their
    // own), proven by the ledger's node.
    let baseFile = EnclaveRoundTests.modelFile([Float](repeating: 0, count: 8))
    func sealedRound(for e: Enclave) throws -> AggregateRequest {
      .proven(
        network: genesis.hash.bytes, round: 1, baseModel: baseFile,
        updates: [
          try TestUpdate.sealed(
            cluster: 0, key: Curve25519.Signing.PrivateKey(), network: genesis.hash.bytes,
            round: 1, base: Array(baseFile.suffix(32)), group: try XCTUnwrap(e.groupPublicKey),
            values: [Float](repeating: 0.25, count: 8))
        ], node: Self.node)
    }
    let request = try sealedRound(for: a)
    let ea = try Endorsement(canonical: try a.aggregate(request).endorsement)
    let eb = try Endorsement(canonical: try b.aggregate(request).endorsement)
    XCTAssertEqual(ea.statement, eb.statement)
    XCTAssertEqual(ea.evidence.kind, .sgxDCAP)
    XCTAssertEqual(try genesis.endorser(of: ea, at: Date()).get().name, "node-0")
    XCTAssertEqual(try genesis.endorser(of: eb, at: Date()).get().name, "node-1")
    // An enclave started afresh on machine 1 (new keys: lost sealed state, a TCB recovery)
    // still counts for node-1, the machine.
    let fresh = try enclave(key: 9, machine: 1)
    try fresh.createGroupKey()
    let ef = try Endorsement(
      canonical: try fresh.aggregate(try sealedRound(for: fresh)).endorsement)
    XCTAssertNotEqual(ef.endorser, eb.endorser)
    XCTAssertEqual(try genesis.endorser(of: ef, at: Date()).get().name, "node-1")
    // Judged at a time past the collateral's window, it counts for no one.
    XCTAssertThrowsError(try genesis.endorser(of: ea, at: Date() + 90 * 86_400).get())
    // Without collateral to carry, an SGX enclave does not endorse.
    let bare = try enclave(key: 3, collateral: false)
    try bare.createGroupKey()
    XCTAssertThrowsError(try bare.aggregate(try sealedRound(for: bare))) {
      XCTAssert("\($0)".contains("collateral"), "\($0)")
    }
    // Nor with collateral that no longer holds: it checks its own evidence first, so the round
    // is not used up, and it endorses once the host brings it the time back into the window.
    let late = try enclave(key: 5)
    try late.createGroupKey()
    late.hostClock = { Date() + 60 * 86_400 }
    let lateRequest = try sealedRound(for: late)
    XCTAssertThrowsError(try late.aggregate(lateRequest)) {
      XCTAssert("\($0)".contains("own evidence does not verify"), "\($0)")
    }
    XCTAssertEqual(late.lastEndorsedRound, 0)
    late.hostClock = { Date() }
    XCTAssertNoThrow(try late.aggregate(lateRequest))
  }

  // MARK: Through Gramine's files

  func fakeDevAttestation(quote: [UInt8]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-sgx-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: dir.appendingPathComponent("keys"), withIntermediateDirectories: true)
    try Data("dcap".utf8).write(to: dir.appendingPathComponent("attestation_type"))
    try Data().write(to: dir.appendingPathComponent("user_report_data"))
    try Data(quote).write(to: dir.appendingPathComponent("quote"))
    try Data(repeating: 0x3c, count: 16).write(
      to: dir.appendingPathComponent("keys/_sgx_mrenclave"))
    return dir
  }

  func testAnEnclaveOnDevAttestationQuotesItsKeysAndSealsWithTheCPUKey() throws {
    let zeros = [UInt8](repeating: 0, count: 64)
    let dir = try fakeDevAttestation(
      quote: Self.sgx.quote(
        mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32), reportData: zeros))
    defer { try? FileManager.default.removeItem(at: dir) }
    let p = try SGXPlatform(source: DevAttestation(directory: dir.path))
    XCTAssertEqual(p.measurement, mrEnclave)
    XCTAssertFalse(p.isDebug)
    let e = Enclave(measurement: p.measurement, platform: p, policy: policy)
    let nonce = [UInt8](repeating: 6, count: 32)
    let reportData = EnclaveEvidence.reportData(
      signingKey: e.signingPublicKey, encryptionKey: e.encryptionPublicKey, groupKey: nil,
      policy: policy.digest, nonce: nonce)
    // The quote file still holds the start-up quote: Gramine would make a fresh one when it is
    // opened; a stale one is refused.
    XCTAssertThrowsError(try e.evidence(nonce: nonce)) {
      XCTAssert("\($0)".contains("not the one just written"), "\($0)")
    }
    // What Gramine would produce after the write.
    try Data(
      Self.sgx.quote(
        mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32),
        reportData: reportData)
    ).write(to: dir.appendingPathComponent("quote"))
    let evidence = try e.evidence(nonce: nonce)
    XCTAssertEqual(
      Array(try Data(contentsOf: dir.appendingPathComponent("user_report_data"))), reportData)
    XCTAssertEqual(
      try evidence.verify(nonce: nonce, policy: policy, collateral: Self.sgx.collateral),
      mrEnclave)
    // Sealed with keys/_sgx_mrenclave through HKDF: a platform with another CPU key fails.
    let sealed = try e.seal()
    XCTAssertNoThrow(
      try Enclave(unsealing: sealed, measurement: mrEnclave, platform: p, policy: policy))
    XCTAssertThrowsError(
      try Enclave(
        unsealing: sealed, measurement: mrEnclave, platform: try platform(key: 9), policy: policy))
  }

  func testTheProgramRunsTheSGXBackendAndSaysWhatIsWrongWithoutGramine() throws {
    let dir = try fakeDevAttestation(
      quote: Self.sgx.quote(
        mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32),
        reportData: [UInt8](repeating: 0, count: 64)))
    defer { try? FileManager.default.removeItem(at: dir) }

    let program = try EnclaveProgram(["--backend", "sgx", "--attestation", dir.path])
    guard case .info(let info) = try program.ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.backend, .sgx)
    XCTAssertEqual(info.measurement, mrEnclave)
    guard case .info = try program.ask(.collateral(Self.sgx.collateral)) else { return XCTFail() }
    guard case .sealed(let sealed) = try program.ask(.seal) else { return XCTFail() }
    XCTAssertFalse(sealed.isEmpty)
    // The fake directory cannot quote afresh, so the program refuses the stale quote.
    guard
      case .failure(let why) = try program.ask(.evidence(nonce: [UInt8](repeating: 1, count: 32)))
    else { return XCTFail() }
    XCTAssert(why.contains("not the one just written"), why)
    XCTAssert(why.hasPrefix("platform:"), why)
    let (status, said) = try program.finish()
    XCTAssertEqual(status, 0)
    XCTAssert(said.contains("SGX enclave"), said)
    XCTAssert(said.contains(Hex.encode(mrEnclave)), said)
    XCTAssertFalse(said.contains("SIMULATED"), said)

    // Outside Gramine there is no /dev/attestation: the program stops and names the path.
    let (code, complaint) = try EnclaveProgram(
      ["--backend", "sgx", "--attestation", dir.path + "-absent"]
    ).finish()
    XCTAssertEqual(code, 2)
    XCTAssert(complaint.contains(dir.path + "-absent"), complaint)
  }

  // MARK: Time, collateral and peers

  /// The enclave judges evidence at its host's clock, but never before the newest time signed
  /// into collateral it accepted: a host that turns its clock back cannot bring back
  /// collateral that has expired since.
  func testAHostTurningItsClockBackCannotReviveExpiredCollateral() throws {
    let now = Date()
    let sgx = SyntheticSGX(notBefore: now - 60 * 86_400, notAfter: now + 60 * 86_400)
    var policy = self.policy
    var s = DER.Serializer()
    try s.serialize(sgx.root)
    policy.sgxRoot = s.serializedBytes
    let old = sgx.collateral(issued: now - 20 * 86_400, until: now - 5 * 86_400)
    let fresh = sgx.collateral(issued: now - 3_600, until: now + 30 * 86_400)

    let p = try platform(key: 1, sgx: sgx)
    let e = Enclave(measurement: p.measurement, platform: p, policy: policy)
    try e.supply(fresh)
    XCTAssertEqual(
      e.timeFloor?.timeIntervalSince1970, (now - 3_600).timeIntervalSince1970.rounded(.up))
    // The host says it is ten days ago, when the old collateral was current, and offers it.
    e.hostClock = { now - 10 * 86_400 }
    XCTAssertGreaterThanOrEqual(e.judgingTime, now - 3_600)
    XCTAssertThrowsError(try e.supply(old)) {
      XCTAssert("\($0)".contains("collateral is refused"), "\($0)")
    }
    XCTAssertEqual(e.collateral, fresh)
    // An enclave that never saw fresher collateral would take it: the floor is what refuses.
    let naive = Enclave(measurement: p.measurement, platform: p, policy: policy)
    naive.hostClock = { now - 10 * 86_400 }
    XCTAssertNoThrow(try naive.supply(old))
    // The floor is sealed with the state.
    let back = try Enclave(
      unsealing: try e.seal(), measurement: p.measurement, platform: p, policy: policy)
    XCTAssertEqual(back.timeFloor, e.timeFloor)
    // Collateral under another root is refused on arrival, and the last good one stays.
    XCTAssertThrowsError(try e.supply(Self.sgx.collateral)) {
      XCTAssert("\($0)".contains("not issued and signed by the pinned SGX root"), "\($0)")
    }
    XCTAssertEqual(e.collateral, fresh)
  }

  /// A simulated enclave has no hardware protection: an SGX enclave never hands it the group
  /// key, nor takes one from it, even under a policy that trusts its platform.
  func testAnSGXEnclaveSharesTheGroupKeyOnlyWithSGXEnclaves() throws {
    let simulatedPlatform = SimulatedPlatform()
    var mixed = policy
    mixed.trustedPlatforms = [simulatedPlatform.publicKey]
    let sgxEnclave = try enclave(key: 1, policy: mixed)
    try sgxEnclave.createGroupKey()
    let simulated = Enclave(measurement: mrEnclave, platform: simulatedPlatform, policy: mixed)
    let c1 = sgxEnclave.challenge()
    let c2 = simulated.challenge()
    XCTAssertThrowsError(
      try sgxEnclave.admit(simulated.evidence(nonce: c1), joinerChallenge: c2, network: network)
    ) { XCTAssert("\($0)".contains("only with SGX enclaves"), "\($0)") }
    try simulated.createGroupKey()
    try simulated.supply(Self.sgx.collateral)
    let joiner = try enclave(key: 2, policy: mixed)
    let c3 = simulated.challenge()
    let c4 = joiner.challenge()
    let grant = try simulated.admit(
      joiner.evidence(nonce: c3), joinerChallenge: c4, network: network)
    XCTAssertThrowsError(try joiner.accept(grant, network: network)) {
      XCTAssert("\($0)".contains("only with SGX enclaves"), "\($0)")
    }
  }
}
