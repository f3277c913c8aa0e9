import Attestation
import CollateralFiles
import Foundation
import X509
import XCTest

/// Full DCAP verification of the two real quotes with their collateral.
final class DCAPVerifierTests: XCTestCase {
  func path(_ p: String) throws -> String {
    try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
      .appendingPathComponent(p).path
  }
  func quote(_ p: String) throws -> SGXQuote {
    try SGXQuote(Array(try Data(contentsOf: URL(fileURLWithPath: try path(p)))))
  }
  func date(_ s: String) -> Date { ISO8601DateFormatter().date(from: s)! }
  func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

  func testPhalaQuoteVerifiesWithItsValues() async throws {
    var policy = AttestationPolicy()
    policy.acceptedTCBStatuses.insert("ConfigurationAndSWHardeningNeeded")
    policy.reportDataPrefix = Array("Hello, world!".utf8)
    policy.mrSigners = [
      hexBytes("815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6")
    ]
    let verdict = try await DCAPVerifier(policy: policy).verify(
      try quote("phala-dcap-qvl/sgx_quote"),
      collateral: try Collateral.load(path: try path("phala-dcap-qvl/sgx_quote_collateral.json")),
      at: date("2025-06-20T00:00:00Z"))
    XCTAssertEqual(
      hex(verdict.identity.mrEnclave),
      "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
    XCTAssertEqual(verdict.tcbStatus, "ConfigurationAndSWHardeningNeeded")
    XCTAssertEqual(verdict.advisoryIDs, ["INTEL-SA-00289", "INTEL-SA-00615"])
    XCTAssertEqual(hex(verdict.fmspc), "00a067110000")
    XCTAssertEqual(hex(verdict.ppid), "d04ec06d4e6d92dc90d0ad3cf5ee2ddf")
    XCTAssertEqual(verdict.notes, [])
  }

  func testMobilecoinQuoteVerifiesAndItsStaleCRLIsReportedAsSuch() async throws {
    let q = try quote("mobilecoin-2023-07-12/hw_quote.dat")
    let collateral = try Collateral.load(path: try path("mobilecoin-2023-07-12"))
    let time = date("2023-07-12T20:48:25Z")
    // Strict: the processor CRL ran out on 2023-05-21.
    do {
      _ = try await DCAPVerifier().verify(q, collateral: collateral, at: time)
      XCTFail("a stale CRL was accepted by the strict policy")
    } catch {
      XCTAssert("\(error)".contains("stale CRL: the PCK CRL is stale"), "\(error)")
    }
    // Stale CRLs are accepted only within a limit.
    var capped = AttestationPolicy()
    capped.acceptStaleCRLs = true
    capped.allowAnyEnclave = true
    capped.maxCRLStaleness = 30 * 86_400
    do {
      _ = try await DCAPVerifier(policy: capped).verify(q, collateral: collateral, at: time)
      XCTFail("a CRL 52 days stale was accepted with a 30-day limit")
    } catch {
      XCTAssert("\(error)".contains("stale CRL"), "\(error)")
    }
    var policy = AttestationPolicy()
    policy.acceptStaleCRLs = true
    policy.mrEnclaves = [
      hexBytes("840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4")
    ]
    let verdict = try await DCAPVerifier(policy: policy).verify(q, collateral: collateral, at: time)
    XCTAssertEqual(
      hex(verdict.identity.mrSigner),
      "9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf")
    XCTAssertEqual(verdict.tcbStatus, "SWHardeningNeeded")
    XCTAssertEqual(verdict.advisoryIDs, ["INTEL-SA-00334", "INTEL-SA-00615"])
    XCTAssertEqual(verdict.notes.count, 1)
    XCTAssert(verdict.notes[0].contains("stale PCK CRL"), verdict.notes[0])
  }

  /// Every byte of both CRLs and of the TCB info and QE identity signatures: any change is
  /// refused (the real quote and collateral, at a time they verify).
  func testEveryChangedByteOfTheCRLsAndCollateralSignaturesIsRejected() async throws {
    let (q, collateral, policy) = try phala()
    let verifier = DCAPVerifier(policy: policy)
    let time = date("2025-06-20T00:00:00Z")
    _ = try await verifier.verify(q, collateral: collateral, at: time)
    func accepted(_ c: Collateral) async -> Bool {
      (try? await verifier.verify(q, collateral: c, at: time)) != nil
    }
    var missed: [String] = []
    for (name, crl) in [("root CRL", collateral.rootCRL), ("PCK CRL", collateral.pckCRL)] {
      for offset in crl.derEncoded.indices {
        var der = crl.derEncoded
        der[offset] ^= 0x01
        guard let changed = try? CertificateRevocationList(derEncoded: der) else { continue }
        var c = collateral
        if name == "root CRL" { c.rootCRL = changed } else { c.pckCRL = changed }
        if await accepted(c) { missed.append("\(name) byte \(offset)") }
      }
    }
    for offset in 0..<64 {
      var tcb = collateral
      tcb.tcbInfo.signature[offset] ^= 0x01
      if await accepted(tcb) { missed.append("TCB info signature byte \(offset)") }
      var qe = collateral
      qe.qeIdentity.signature[offset] ^= 0x01
      if await accepted(qe) { missed.append("QE identity signature byte \(offset)") }
    }
    XCTAssertEqual(missed, [])
  }

  /// The Phala quote, its collateral, and a policy it meets (any enclave, its TCB status).
  func phala() throws -> (SGXQuote, Collateral, AttestationPolicy) {
    var policy = AttestationPolicy()
    policy.acceptedTCBStatuses.insert("ConfigurationAndSWHardeningNeeded")
    policy.allowAnyEnclave = true
    return (
      try quote("phala-dcap-qvl/sgx_quote"),
      try Collateral.load(path: try path("phala-dcap-qvl/sgx_quote_collateral.json")), policy
    )
  }

  func testCollateralOutsideItsWindowAndPolicyViolationsAreRejected() async throws {
    let (q, collateral, policy) = try phala()
    func fails(_ p: AttestationPolicy, at time: String, _ text: String, _ c: Collateral? = nil)
      async
    {
      do {
        _ = try await DCAPVerifier(policy: p).verify(q, collateral: c ?? collateral, at: date(time))
        XCTFail("accepted; expected \(text)")
      } catch {
        XCTAssert("\(error)".contains(text), "\(error) does not contain \(text)")
      }
    }
    await fails(policy, at: "2025-07-25T00:00:00Z", "stale")
    await fails(policy, at: "2025-06-19T10:30:00Z", "not yet valid")
    var strict = AttestationPolicy()
    strict.allowAnyEnclave = true
    await fails(strict, at: "2025-06-20T00:00:00Z", "is not accepted")
    await fails(AttestationPolicy(), at: "2025-06-20T00:00:00Z", "allow-lists are empty")
    var wrongEnclave = policy
    wrongEnclave.mrEnclaves = [[UInt8](repeating: 1, count: 32)]
    await fails(wrongEnclave, at: "2025-06-20T00:00:00Z", "MRENCLAVE 33d8736d")
    var wrongData = policy
    wrongData.reportDataPrefix = Array("Goodbye".utf8)
    await fails(wrongData, at: "2025-06-20T00:00:00Z", "REPORTDATA does not bind")
    // One changed byte in the signed TCB info or QE identity breaks Intel's signature.
    var tcb = collateral
    tcb.tcbInfo.body[40] ^= 1
    await fails(policy, at: "2025-06-20T00:00:00Z", "TCB info is not signed", tcb)
    var qe = collateral
    qe.qeIdentity.body[30] ^= 1
    await fails(policy, at: "2025-06-20T00:00:00Z", "QE identity is not signed", qe)
    // The root CA CRL passed off as the PCK CRL (so the PCK certificate is never checked).
    var swapped = collateral
    swapped.pckCRL = collateral.rootCRL
    await fails(policy, at: "2025-06-20T00:00:00Z", "the PCK CRL is not issued and signed", swapped)
    // TCB info signed by a certificate under the root that is not Intel's TCB signer: the
    // quote's own PCK chain stands in as the issuer chain.
    var pckSigned = collateral
    pckSigned.tcbInfoIssuerChain = try QuoteVerifierChain.pem(q)
    await fails(
      policy, at: "2025-06-20T00:00:00Z", "not by a TCB signing certificate", pckSigned)
  }

  func testTheDebugBitIsRefusedUnlessAllowed() throws {
    var bytes = Array(
      try Data(contentsOf: URL(fileURLWithPath: try path("phala-dcap-qvl/sgx_quote"))))
    let report = try SGXQuote(bytes).report
    var anyEnclave = AttestationPolicy()
    anyEnclave.allowAnyEnclave = true
    XCTAssertNoThrow(
      try anyEnclave.check(report, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate"))
    XCTAssertThrowsError(
      try AttestationPolicy().check(report, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate"))
    bytes[48 + 48] |= 0b10  // the DEBUG attribute
    let debug = try SGXQuote(bytes).report
    XCTAssertTrue(debug.isDebug)
    XCTAssertThrowsError(
      try anyEnclave.check(debug, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate")
    ) { XCTAssert("\($0)".contains("debug mode"), "\($0)") }
    var lax = anyEnclave
    lax.allowDebug = true
    XCTAssertNoThrow(try lax.check(debug, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate"))
  }

  /// The real quotes' attributes, read from their bytes: what the default policy must keep
  /// accepting. Both are production enclaves with flags INIT | MODE64BIT (no PROVISIONKEY, no
  /// KSS, CONFIGID zero), XFRM 0xe7 (x87, SSE, AVX, AVX-512) and 0x07 (x87, SSE, AVX). Setting
  /// PROVISIONKEY, KSS or an XFRM bit outside the default mask in one makes the policy refuse it.
  func testTheRealQuotesMeetTheDefaultAttributeChecks() throws {
    var anyEnclave = AttestationPolicy()
    anyEnclave.allowAnyEnclave = true
    let fixtures: [(String, UInt64)] = [
      ("phala-dcap-qvl/sgx_quote", 0xe7), ("mobilecoin-2023-07-12/hw_quote.dat", 0x07),
    ]
    for (file, xfrm) in fixtures {
      let report = try quote(file).report
      XCTAssertEqual(report.attributeFlags, 0x05, file)
      XCTAssertEqual(report.xfrm, xfrm, file)
      XCTAssertFalse(report.hasProvisionKey, file)
      XCTAssertFalse(report.hasKSS, file)
      XCTAssertEqual(report.xfrm & ~AttestationPolicy.defaultAllowedXFRM, 0, file)
      XCTAssertEqual(report.configID, [UInt8](repeating: 0, count: 64), file)
      XCTAssertNoThrow(
        try anyEnclave.check(report, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate"), file)
    }
    let bytes = Array(
      try Data(contentsOf: URL(fileURLWithPath: try path("phala-dcap-qvl/sgx_quote"))))
    let changes: [(offset: Int, bits: UInt8, reason: String)] = [
      (48 + 48, 0x10, "PROVISIONKEY"),  // flags bit 4
      (48 + 48, 0x80, "KSS"),  // flags bit 7
      (48 + 56, 0x08, "XFRM 0xef"),  // XFRM bit 3, MPX
      (48 + 57, 0x02, "XFRM 0x2e7"),  // XFRM bit 9, PKRU
    ]
    for change in changes {
      var changed = bytes
      changed[change.offset] |= change.bits
      let report = try SGXQuote(changed).report
      XCTAssertThrowsError(
        try anyEnclave.check(report, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate")
      ) { XCTAssert("\($0)".contains(change.reason), "\($0)") }
    }
  }
}

func hexBytes(_ s: String) -> [UInt8] {
  stride(from: 0, to: s.count, by: 2).map {
    let i = s.index(s.startIndex, offsetBy: $0)
    return UInt8(s[i..<s.index(i, offsetBy: 2)], radix: 16)!
  }
}

/// The certificates a quote carries, parsed as the verifier does.
enum QuoteVerifierChain {
  static func pem(_ q: SGXQuote) throws -> [Certificate] {
    q.certificationPEM.components(separatedBy: "-----END CERTIFICATE-----")
      .filter { $0.contains("BEGIN") }
      .map { try! Certificate(pemEncoded: $0 + "-----END CERTIFICATE-----") }
  }
}
