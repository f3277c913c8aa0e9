import Attestation
import Crypto
import Foundation
import X509
import XCTest

/// Real SGX DCAP quotes from public projects' tests (Fixtures/README.md says where from).
final class QuoteTests: XCTestCase {
  func fixture(_ path: String) throws -> [UInt8] {
    let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return Array(try Data(contentsOf: url.appendingPathComponent(path)))
  }

  func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

  let mobilecoinTime = ISO8601DateFormatter().date(from: "2023-07-12T20:48:25Z")!
  let phalaTime = ISO8601DateFormatter().date(from: "2025-06-20T00:00:00Z")!

  func testThePinnedRootIsIntels() {
    let der = try! IntelSGXRoot.certificate.serializeAsPEM().derBytes
    XCTAssertEqual(
      hex(Array(SHA256.hash(data: der))),
      "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3")
  }

  func testBothRealQuotesParseWithTheValuesTheirOriginsAssert() throws {
    let m = try SGXQuote(try fixture("mobilecoin-2023-07-12/hw_quote.dat"))
    XCTAssertEqual(m.version, 3)
    XCTAssertEqual(
      hex(m.report.mrEnclave), "840d61b0585dc8b4dc90f53af293c760fda06bee75978a6a86263ffb296423f4")
    XCTAssertEqual(
      hex(m.report.mrSigner), "9f06df5ca79a23ffdfb6ca0ec85514e21dd1cbd1ed11abc45dbe8dc894efdddf")
    XCTAssertEqual(m.report.isvProdID, 0)
    XCTAssertEqual(m.report.isvSVN, 0)
    XCTAssertEqual(m.qeReport.isvProdID, 1)
    XCTAssertFalse(m.report.isDebug)

    let p = try SGXQuote(try fixture("phala-dcap-qvl/sgx_quote"))
    XCTAssertEqual(
      hex(p.report.mrEnclave), "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb")
    XCTAssertEqual(
      hex(p.report.mrSigner), "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6")
    XCTAssertEqual(Array(p.report.reportData.prefix(13)), Array("Hello, world!".utf8))
    XCTAssert(p.report.reportData.dropFirst(13).allSatisfy { $0 == 0 })
  }

  func testBothRealQuotesVerifyAtTheirTimes() async throws {
    for (file, time, mrEnclave) in [
      ("mobilecoin-2023-07-12/hw_quote.dat", mobilecoinTime, "840d61b0"),
      ("phala-dcap-qvl/sgx_quote", phalaTime, "33d8736d"),
    ] {
      let quote = try SGXQuote(try fixture(file))
      let (identity, pck) = try await QuoteVerifier().verify(quote, at: time)
      XCTAssert(hex(identity.mrEnclave).hasPrefix(mrEnclave), file)
      XCTAssert("\(pck.subject)".contains("Intel SGX PCK Certificate"), "\(pck.subject)")
    }
  }

  func testAnyChangedSignatureKeyOrReportByteIsRejected() async throws {
    let bytes = try fixture("mobilecoin-2023-07-12/hw_quote.dat")
    let quote = try SGXQuote(bytes)
    let signatureData = 48 + 384 + 4
    // Offsets: report body, quote signature, attestation key, QE report, QE report signature,
    // QE authentication data.
    let cases: [(Int, String)] = [
      (48 + 64, "the quote is not signed by its attestation key"),  // MRENCLAVE
      (48 + 320, "the quote is not signed by its attestation key"),  // REPORTDATA
      (2 + 8, "the quote is not signed by its attestation key"),  // header
      (signatureData + 5, "the quote is not signed by its attestation key"),
      (signatureData + 64 + 10, "REPORTDATA is not SHA-256"),
      (signatureData + 128 + 100, "the QE report is not signed by the PCK key"),
      (signatureData + 128 + 384 + 7, "the QE report is not signed by the PCK key"),
      (signatureData + 128 + 384 + 64 + 2 + 3, "REPORTDATA is not SHA-256"),
    ]
    for (offset, expected) in cases {
      var bad = bytes
      bad[offset] ^= 0x01
      do {
        _ = try await QuoteVerifier().verify(try SGXQuote(bad), at: mobilecoinTime)
        XCTFail("a change at \(offset) was accepted")
      } catch {
        XCTAssert("\(error)".contains(expected), "offset \(offset): \(error)")
      }
    }
    // A certificate byte: the chain no longer verifies (or no longer parses).
    let pemStart = bytes.count - quote.certificationPEM.utf8.count - 1
    var bad = bytes
    bad[pemStart + 200] =
      bad[pemStart + 200] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
    do {
      _ = try await QuoteVerifier().verify(try SGXQuote(bad), at: mobilecoinTime)
      XCTFail("a changed certificate was accepted")
    } catch {
      XCTAssert("\(error)".contains("certificate"), "\(error)")
    }
  }

  /// Every byte of the real quote before its certificates (header, report body, lengths,
  /// signature, attestation key, QE report and its signature, authentication data, types) and
  /// every base64 digit of its PCK certificate and PCK CA certificate: any change is refused.
  /// (The quote's copy of the root is never used: the pinned root is.)
  func testEveryChangedByteOfTheRealQuoteAndItsCertificatesIsRejected() async throws {
    let bytes = try fixture("mobilecoin-2023-07-12/hw_quote.dat")
    let quote = try SGXQuote(bytes)
    _ = try await QuoteVerifier().verify(quote, at: mobilecoinTime)
    func rejected(_ bad: [UInt8]) async -> Bool {
      guard let q = try? SGXQuote(bad) else { return true }
      return (try? await QuoteVerifier().verify(q, at: mobilecoinTime)) == nil
    }
    let pemStart = bytes.count - quote.certificationPEM.utf8.count - 1
    var accepted: [Int] = []
    for offset in 0..<pemStart {
      var bad = bytes
      bad[offset] ^= 0x01
      if await !rejected(bad) { accepted.append(offset) }
    }
    XCTAssertEqual(accepted, [], "changed bytes the verifier accepted")
    // The base64 digits of the first two certificates; flipping a digit's top bit changes bits
    // that always count (the low bits of a digit before padding may not).
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    let pem = Array(quote.certificationPEM.utf8)
    let ends = quote.certificationPEM.ranges(of: "-----END CERTIFICATE-----")
    XCTAssertEqual(ends.count, 3)
    let secondEnd = quote.certificationPEM.utf8.distance(
      from: quote.certificationPEM.startIndex, to: ends[1].lowerBound)
    var digits = 0
    var lineStart = true
    var inHeader = false
    for i in 0..<secondEnd {
      let c = pem[i]
      if lineStart { inHeader = c == UInt8(ascii: "-") }
      lineStart = c == UInt8(ascii: "\n")
      guard !inHeader, let v = alphabet.firstIndex(of: c) else { continue }
      var bad = bytes
      bad[pemStart + i] = alphabet[v ^ 0x20]
      digits += 1
      if await !rejected(bad) { accepted.append(pemStart + i) }
    }
    XCTAssertGreaterThan(digits, 1500)
    XCTAssertEqual(accepted, [], "changed certificate digits the verifier accepted")
  }

  func testExpiredChainsAndTruncatedQuotesAreRejected() async throws {
    let quote = try SGXQuote(try fixture("mobilecoin-2023-07-12/hw_quote.dat"))
    let later = ISO8601DateFormatter().date(from: "2035-01-01T00:00:00Z")!
    do {
      _ = try await QuoteVerifier().verify(quote, at: later)
      XCTFail("an expired PCK chain was accepted")
    } catch {
      XCTAssert("\(error)".contains("does not chain to Intel's SGX root"), "\(error)")
    }
    let bytes = try fixture("phala-dcap-qvl/sgx_quote")
    XCTAssertThrowsError(try SGXQuote(Array(bytes.prefix(400)))) {
      XCTAssertEqual($0 as? QuoteError, .truncated("report body"))
    }
    XCTAssertThrowsError(try SGXQuote(bytes + [0])) {
      XCTAssertEqual($0 as? QuoteError, .trailingBytes(1))
    }
    var v5 = bytes
    v5[0] = 5
    XCTAssertThrowsError(try SGXQuote(v5)) {
      XCTAssertEqual($0 as? QuoteError, .unsupported("version 5"))
    }
  }
}
