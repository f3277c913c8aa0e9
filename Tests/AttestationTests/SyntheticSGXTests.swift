import Attestation
import Foundation
import SGXTestSupport
import XCTest

/// Quotes from the synthetic test PKI, verified by the real DCAP verifier given its root.
final class SyntheticSGXTests: XCTestCase {
  static let notBefore = ISO8601DateFormatter().date(from: "2025-01-01T00:00:00Z")!
  static let notAfter = ISO8601DateFormatter().date(from: "2026-01-01T00:00:00Z")!
  static let sgx = SyntheticSGX(notBefore: notBefore, notAfter: notAfter)
  static let inWindow = ISO8601DateFormatter().date(from: "2025-06-01T12:00:00Z")!

  let mrEnclave = [UInt8](repeating: 0xE1, count: 32)
  let mrSigner = [UInt8](repeating: 0x51, count: 32)
  let reportData = Array("bind: a key hash and a nonce".utf8)

  var policy: AttestationPolicy {
    var p = AttestationPolicy()
    p.mrEnclaves = [mrEnclave]
    return p
  }

  func quote(debug: Bool = false, sgx: SyntheticSGX = sgx) throws -> SGXQuote {
    try SGXQuote(
      sgx.quote(
        mrEnclave: mrEnclave, mrSigner: mrSigner, reportData: reportData, debug: debug,
        isvProdID: 3, isvSVN: 7))
  }

  /// Verification that must fail, with `text` in its error.
  func rejects(
    _ verifier: DCAPVerifier, _ q: SGXQuote, _ collateral: Collateral, at time: Date = inWindow,
    _ text: String, file: StaticString = #filePath, line: UInt = #line
  ) async {
    do {
      _ = try await verifier.verify(q, collateral: collateral, at: time)
      XCTFail("accepted; expected \(text)", file: file, line: line)
    } catch {
      XCTAssert(
        "\(error)".contains(text), "\(error) does not contain \(text)", file: file, line: line)
    }
  }

  func testASyntheticQuoteVerifiesUpToDateWithItsValues() async throws {
    let sgx = Self.sgx
    var p = policy
    p.reportDataPrefix = reportData
    let q = try quote()
    XCTAssertEqual(q.version, 3)
    let verdict = try await DCAPVerifier(policy: p, root: sgx.root).verify(
      q, collateral: sgx.collateral, at: Self.inWindow)
    XCTAssertEqual(verdict.tcbStatus, "UpToDate")
    XCTAssertEqual(verdict.qeTCBStatus, "UpToDate")
    XCTAssertEqual(verdict.advisoryIDs, [])
    XCTAssertEqual(verdict.notes, [])
    XCTAssertEqual(verdict.fmspc, SyntheticSGX.fmspc)
    XCTAssertEqual(verdict.ppid, SyntheticSGX.ppid(platform: 0))
    // Another machine of the PKI: its own PCK certificate, its own PPID.
    let other = try SGXQuote(
      sgx.quote(mrEnclave: mrEnclave, mrSigner: mrSigner, reportData: reportData, platform: 2))
    let otherVerdict = try await DCAPVerifier(policy: p, root: sgx.root).verify(
      other, collateral: sgx.collateral, at: Self.inWindow)
    XCTAssertEqual(otherVerdict.ppid, SyntheticSGX.ppid(platform: 2))
    XCTAssertNotEqual(otherVerdict.ppid, verdict.ppid)
    XCTAssertEqual(verdict.identity.mrEnclave, mrEnclave)
    XCTAssertEqual(verdict.identity.mrSigner, mrSigner)
    XCTAssertEqual(verdict.identity.isvProdID, 3)
    XCTAssertEqual(verdict.identity.isvSVN, 7)
    XCTAssertFalse(verdict.identity.isDebug)
    XCTAssertEqual(
      verdict.identity.reportData, reportData + [UInt8](repeating: 0, count: 64 - reportData.count)
    )
    // The window's ends are inside it.
    for time in [Self.notBefore, Self.notAfter] {
      let v = try await DCAPVerifier(policy: p, root: sgx.root).verify(
        q, collateral: sgx.collateral, at: time)
      XCTAssertEqual(v.tcbStatus, "UpToDate")
    }
  }

  /// Version 4 quotes (the QE data inside certification data of type 6) verify as version 3
  /// ones do, and a changed byte anywhere before their certificates is refused.
  func testAVersion4QuoteVerifiesAndRefusesEveryChangedByte() async throws {
    let sgx = Self.sgx
    var p = policy
    p.reportDataPrefix = reportData
    let bytes = sgx.quote(
      mrEnclave: mrEnclave, mrSigner: mrSigner, reportData: reportData, version: 4)
    let q = try SGXQuote(bytes)
    XCTAssertEqual(q.version, 4)
    let verifier = DCAPVerifier(policy: p, root: sgx.root)
    let verdict = try await verifier.verify(q, collateral: sgx.collateral, at: Self.inWindow)
    XCTAssertEqual(verdict.identity.mrEnclave, mrEnclave)
    XCTAssertEqual(verdict.ppid, SyntheticSGX.ppid(platform: 0))
    XCTAssertEqual(verdict.tcbStatus, "UpToDate")
    // The type-6 wrapper: another type is refused by name.
    let typeOffset = 48 + 384 + 4 + 64 + 64
    var other = bytes
    other[typeOffset] = 7
    XCTAssertThrowsError(try SGXQuote(other)) {
      XCTAssert("\($0)".contains("certification data type 7"), "\($0)")
    }
    let pemStart = bytes.count - q.certificationPEM.utf8.count - 1
    var accepted: [Int] = []
    for offset in 0..<pemStart {
      var bad = bytes
      bad[offset] ^= 0x01
      guard let changed = try? SGXQuote(bad) else { continue }
      if (try? await verifier.verify(changed, collateral: sgx.collateral, at: Self.inWindow))
        != nil
      {
        accepted.append(offset)
      }
    }
    XCTAssertEqual(accepted, [])
  }

  func testTheDebugBitIsRejectedByTheDefaultPolicy() async throws {
    let sgx = Self.sgx
    let q = try quote(debug: true)
    XCTAssertTrue(q.report.isDebug)
    await rejects(DCAPVerifier(policy: policy, root: sgx.root), q, sgx.collateral, "debug mode")
    var lax = policy
    lax.allowDebug = true
    let verdict = try await DCAPVerifier(policy: lax, root: sgx.root).verify(
      q, collateral: sgx.collateral, at: Self.inWindow)
    XCTAssertTrue(verdict.identity.isDebug)
  }

  /// The attributes a production enclave must not have (PROVISIONKEY, KSS, XFRM components
  /// outside the allowed mask), and the CONFIGID and minimum ISVSVN a policy may require: each
  /// refused with its reason, and allowed only when the policy says so.
  func testAttributesConfigIDAndISVSVNAreCheckedByThePolicy() async throws {
    let sgx = Self.sgx
    let collateral = sgx.collateral
    let verifier = DCAPVerifier(policy: policy, root: sgx.root)
    func make(
      extraFlags: UInt64 = 0, xfrm: UInt64 = 0x03, configID: [UInt8] = [], isvSVN: UInt16 = 7
    ) throws -> SGXQuote {
      try SGXQuote(
        sgx.quote(
          mrEnclave: mrEnclave, mrSigner: mrSigner, reportData: reportData, isvProdID: 3,
          isvSVN: isvSVN, extraFlags: extraFlags, xfrm: xfrm, configID: configID))
    }
    func accepts(
      _ verifier: DCAPVerifier, _ q: SGXQuote, file: StaticString = #filePath, line: UInt = #line
    ) async {
      do {
        _ = try await verifier.verify(q, collateral: collateral, at: Self.inWindow)
      } catch {
        XCTFail("refused: \(error)", file: file, line: line)
      }
    }

    // The default policy accepts the normal quote, and the XFRM Gramine gives enclaves on CPUs
    // with AVX-512 and AMX (x87, SSE, AVX, opmask, ZMM_Hi256, Hi16_ZMM, XTILECFG, XTILEDATA).
    await accepts(verifier, try make())
    await accepts(verifier, try make(xfrm: 0x600e7))

    let provision = try make(extraFlags: ReportBody.provisionKeyFlag)
    XCTAssertTrue(provision.report.hasProvisionKey)
    await rejects(verifier, provision, collateral, "PROVISIONKEY attribute")
    var allowProvision = policy
    allowProvision.allowProvisionKey = true
    await accepts(DCAPVerifier(policy: allowProvision, root: sgx.root), provision)

    let kss = try make(extraFlags: ReportBody.kssFlag)
    XCTAssertTrue(kss.report.hasKSS)
    await rejects(verifier, kss, collateral, "KSS attribute")
    var allowKSS = policy
    allowKSS.allowKSS = true
    await accepts(DCAPVerifier(policy: allowKSS, root: sgx.root), kss)

    // MPX (bit 3) and PKRU (bit 9), which Gramine's default manifests leave off.
    let mpx = try make(xfrm: 0x03 | 1 << 3)
    XCTAssertEqual(mpx.report.xfrm, 0x0b)
    await rejects(verifier, mpx, collateral, "XFRM 0xb has bits 0x8 outside the allowed mask")
    await rejects(verifier, try make(xfrm: 0x03 | 1 << 9), collateral, "XFRM 0x203 has bits 0x200")
    var allowMPX = policy
    allowMPX.allowedXFRM |= 1 << 3
    await accepts(DCAPVerifier(policy: allowMPX, root: sgx.root), mpx)

    // A CONFIGID the policy requires (a KSS enclave's launch configuration).
    let config = [UInt8](repeating: 0xC0, count: 64)
    var pinned = policy
    pinned.allowKSS = true
    pinned.configID = config
    let pinnedVerifier = DCAPVerifier(policy: pinned, root: sgx.root)
    let configured = try make(extraFlags: ReportBody.kssFlag, configID: config)
    XCTAssertEqual(configured.report.configID, config)
    await accepts(pinnedVerifier, configured)
    await rejects(
      pinnedVerifier,
      try make(extraFlags: ReportBody.kssFlag, configID: [UInt8](repeating: 0xC1, count: 64)),
      collateral, "CONFIGID c1c1")
    await rejects(
      pinnedVerifier, try make(extraFlags: ReportBody.kssFlag), collateral, "CONFIGID 0000")

    // A minimum ISVSVN: an older build of the enclave is refused.
    var floor = policy
    floor.minimumISVSVN = 8
    let floorVerifier = DCAPVerifier(policy: floor, root: sgx.root)
    await rejects(floorVerifier, try make(isvSVN: 7), collateral, "ISVSVN 7 is below the minimum 8")
    await accepts(floorVerifier, try make(isvSVN: 8))
  }

  func testAnotherMREnclaveIsRejected() async throws {
    let sgx = Self.sgx
    var other = AttestationPolicy()
    other.mrEnclaves = [[UInt8](repeating: 0xAA, count: 32)]
    await rejects(
      DCAPVerifier(policy: other, root: sgx.root), try quote(), sgx.collateral, "MRENCLAVE e1e1")
    var wrongData = policy
    wrongData.reportDataPrefix = Array("another nonce".utf8)
    await rejects(
      DCAPVerifier(policy: wrongData, root: sgx.root), try quote(), sgx.collateral,
      "REPORTDATA does not bind")
  }

  func testARevokedPCKCertificateIsRejected() async throws {
    let sgx = Self.sgx
    await rejects(
      DCAPVerifier(policy: policy, root: sgx.root), try quote(),
      sgx.collateral(revokingPCK: true), "the PCK certificate is revoked")
  }

  func testVerificationOutsideTheWindowFails() async throws {
    let sgx = Self.sgx
    let verifier = DCAPVerifier(policy: policy, root: sgx.root)
    let q = try quote()
    await rejects(
      verifier, q, sgx.collateral, at: Self.notAfter.addingTimeInterval(1), "certificate chain")
    await rejects(
      verifier, q, sgx.collateral, at: Self.notBefore.addingTimeInterval(-1), "certificate chain")
  }

  func testIntelsRootAndAnotherSyntheticRootRejectTheQuote() async throws {
    let sgx = Self.sgx
    let q = try quote()
    await rejects(
      DCAPVerifier(policy: policy), q, sgx.collateral, "does not chain to Intel's SGX root")
    let other = SyntheticSGX(notBefore: Self.notBefore, notAfter: Self.notAfter)
    await rejects(
      DCAPVerifier(policy: policy, root: other.root), q, other.collateral, "does not chain")
    // Another platform's collateral with this quote's root: its CRLs are not this root's.
    await rejects(
      DCAPVerifier(policy: policy, root: sgx.root), q, other.collateral,
      "the root CA CRL is not issued and signed")
    // And the other platform's own quote verifies under its own root.
    let verdict = try await DCAPVerifier(policy: policy, root: other.root).verify(
      try quote(sgx: other), collateral: other.collateral, at: Self.inWindow)
    XCTAssertEqual(verdict.tcbStatus, "UpToDate")
  }
}
