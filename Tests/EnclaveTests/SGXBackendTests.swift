import Aggregation
import Attestation
import Canonical
import Crypto
import Enclave
import Foundation
import Ledger
import SGXTestSupport
import SwiftASN1
import X509
import XCTest

/// The CPU's part, for tests on a machine without SGX: quotes from a synthetic DCAP PKI (test
/// keys, not Intel's) for one MRENCLAVE, and one sealing key.
struct SyntheticQuoting: SGXQuoting {
  let sgx: SyntheticSGX
  let mrEnclave: [UInt8]
  let key: [UInt8]
  var debug = false

  func quote(reportData: [UInt8]) throws -> [UInt8] {
    sgx.quote(
      mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32), reportData: reportData,
      debug: debug)
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

  var policy: EnclavePolicy {
    EnclavePolicy(trustedPlatforms: [], measurements: [mrEnclave], sgxRoot: root)
  }

  func platform(key: UInt8, debug: Bool = false, mrEnclave: [UInt8]? = nil) throws -> SGXPlatform {
    try SGXPlatform(
      source: SyntheticQuoting(
        sgx: Self.sgx, mrEnclave: mrEnclave ?? self.mrEnclave,
        key: [UInt8](repeating: key, count: 16), debug: debug))
  }

  func enclave(key: UInt8, debug: Bool = false) throws -> Enclave {
    let p = try platform(key: key, debug: debug)
    let e = Enclave(measurement: p.measurement, platform: p)
    e.collateral = Self.sgx.collateral
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
    let grant = try first.admit(evidence, joinerChallenge: c2, network: network, policy: policy)
    try joiner.accept(
      try GroupKeyGrant(canonical: grant.canonicalBytes), network: network, policy: policy)
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
    let bare = try enclave(key: 4)
    bare.collateral = nil
    try bare.createGroupKey()
    let c = bare.challenge()
    XCTAssertThrowsError(
      try bare.admit(
        try e.evidence(nonce: c), joinerChallenge: [], network: network, policy: policy)
    ) { XCTAssert("\($0)".contains("collateral"), "\($0)") }
  }

  func testSGXStateIsSealedWithTheCPUsKeyAndOpensOnlyWithIt() throws {
    let e = try enclave(key: 1)
    try e.createGroupKey()
    let sealed = try e.seal()
    let same = try platform(key: 1)
    let back = try Enclave(unsealing: sealed, measurement: mrEnclave, platform: same)
    XCTAssertEqual(back.groupPublicKey, e.groupPublicKey)
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: mrEnclave, platform: try platform(key: 2)))
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: network, platform: same))
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
    XCTAssertEqual(info.backend, "sgx")
    XCTAssertEqual(info.measurement, mrEnclave)
    guard case .info = try ask(.collateral(Self.sgx.collateral)) else { return XCTFail() }
    XCTAssertEqual(service.enclave?.collateral, Self.sgx.collateral)
    let nonce = [UInt8](repeating: 8, count: 32)
    guard case .evidence(let e) = try ask(.evidence(nonce: nonce)) else { return XCTFail() }
    XCTAssertEqual(
      try e.verify(nonce: nonce, policy: policy, collateral: Self.sgx.collateral), mrEnclave)
  }

  func testSGXEnclavesEndorseWithQuoteAndCollateralThatTheLedgerAccepts() throws {
    let a = try enclave(key: 1)
    let b = try enclave(key: 2)
    let genesis = Genesis(
      network: "sgx-test", createdAt: "2026-11-26T12:00:00Z",
      members: [.init(name: "m", key: SigningKey().publicKey)],
      nodes: [.init(name: "node-0", member: "m", key: SigningKey().publicKey)],
      endorsers: [
        .init(name: "node-0", kind: .sgxEnclave, key: PublicKey(bytes: a.signingPublicKey)!),
        .init(name: "node-1", kind: .sgxEnclave, key: PublicKey(bytes: b.signingPublicKey)!),
      ],
      endorsementThreshold: 2, enclaveMeasurements: [Hash256(bytes: mrEnclave)!], sgxRootCA: root)
    try genesis.validate()
    try a.createGroupKey()
    let c1 = a.challenge()
    let c2 = b.challenge()
    let grant = try a.admit(
      try b.evidence(nonce: c1), joinerChallenge: c2, network: genesis.hash.bytes, policy: policy)
    try b.accept(grant, network: genesis.hash.bytes, policy: policy)
    let request = AggregateRequest(
      network: genesis.hash.bytes, round: 1,
      baseModel: EnclaveRoundTests.modelFile([Float](repeating: 0, count: 8)),
      aggregation: FixedPointAggregation(), updates: [])
    let ea = try Endorsement(canonical: try a.aggregate(request).endorsement)
    let eb = try Endorsement(canonical: try b.aggregate(request).endorsement)
    XCTAssertEqual(ea.statement, eb.statement)
    XCTAssertEqual(ea.evidence.kind, .sgxDCAP)
    XCTAssertEqual(try genesis.endorser(of: ea, at: Date()).get().name, "node-0")
    XCTAssertEqual(try genesis.endorser(of: eb, at: Date()).get().name, "node-1")
    // Judged at a time past the collateral's window, it counts for no one.
    XCTAssertThrowsError(try genesis.endorser(of: ea, at: Date() + 90 * 86_400).get())
    // Without collateral to carry, an SGX enclave does not endorse.
    let bare = try enclave(key: 3)
    bare.collateral = nil
    try bare.createGroupKey()
    XCTAssertThrowsError(try bare.aggregate(request)) {
      XCTAssert("\($0)".contains("collateral"), "\($0)")
    }
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
    let e = Enclave(measurement: p.measurement, platform: p)
    let nonce = [UInt8](repeating: 6, count: 32)
    let reportData = EnclaveEvidence.reportData(
      signingKey: e.signingPublicKey, encryptionKey: e.encryptionPublicKey, groupKey: nil,
      nonce: nonce)
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
    XCTAssertNoThrow(try Enclave(unsealing: sealed, measurement: mrEnclave, platform: p))
    XCTAssertThrowsError(
      try Enclave(unsealing: sealed, measurement: mrEnclave, platform: try platform(key: 9)))
  }

  func testTheProgramRunsTheSGXBackendAndSaysWhatIsWrongWithoutGramine() throws {
    let program = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("fedledger-enclave").path
    let products = Bundle.main.bundleURL.appendingPathComponent("fedledger-enclave").path
    let found = try XCTUnwrap(
      [program, products].first { FileManager.default.isExecutableFile(atPath: $0) },
      "fedledger-enclave is built beside the tests")
    let dir = try fakeDevAttestation(
      quote: Self.sgx.quote(
        mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32),
        reportData: [UInt8](repeating: 0, count: 64)))
    defer { try? FileManager.default.removeItem(at: dir) }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: found)
    process.arguments = ["--backend", "sgx", "--attestation", dir.path]
    let input = Pipe()
    let output = Pipe()
    let log = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = log
    try process.run()
    func ask(_ r: EnclaveRequest) throws -> EnclaveResponse {
      try Frames.write(r.canonicalBytes, to: input.fileHandleForWriting.fileDescriptor)
      return try EnclaveResponse(
        canonical: try XCTUnwrap(try Frames.read(from: output.fileHandleForReading.fileDescriptor)))
    }
    guard case .info(let info) = try ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.backend, "sgx")
    XCTAssertEqual(info.measurement, mrEnclave)
    guard case .info = try ask(.collateral(Self.sgx.collateral)) else { return XCTFail() }
    guard case .sealed(let sealed) = try ask(.seal) else { return XCTFail() }
    XCTAssertFalse(sealed.isEmpty)
    // The fake directory cannot quote afresh, so the program refuses the stale quote.
    guard case .failure(let why) = try ask(.evidence(nonce: [UInt8](repeating: 1, count: 32)))
    else { return XCTFail() }
    XCTAssert(why.contains("not the one just written"), why)
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0)
    let said = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssert(said.contains("SGX enclave"), said)
    XCTAssert(said.contains(Hex.encode(mrEnclave)), said)
    XCTAssertFalse(said.contains("SIMULATED"), said)

    // Outside Gramine there is no /dev/attestation: the program stops and names the path.
    let missing = Process()
    missing.executableURL = URL(fileURLWithPath: found)
    missing.arguments = ["--backend", "sgx", "--attestation", dir.path + "-absent"]
    let missingLog = Pipe()
    missing.standardError = missingLog
    missing.standardInput = Pipe()
    try missing.run()
    missing.waitUntilExit()
    XCTAssertEqual(missing.terminationStatus, 2)
    let complaint = String(
      decoding: missingLog.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssert(complaint.contains(dir.path + "-absent"), complaint)
  }
}
