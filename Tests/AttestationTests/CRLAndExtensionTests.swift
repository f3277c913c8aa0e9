import Attestation
import Crypto
import Foundation
import SwiftASN1
import X509
import XCTest

/// Intel's real CRLs and a real PCK certificate (Fixtures/README.md says where from).
final class CRLAndExtensionTests: XCTestCase {
  func fixture(_ path: String) throws -> [UInt8] {
    let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
    return Array(try Data(contentsOf: url.appendingPathComponent(path)))
  }

  func certificate(_ path: String) throws -> Certificate {
    try Certificate(pemEncoded: String(decoding: try fixture(path), as: UTF8.self))
  }

  func certificates(inPEM pem: String) throws -> [Certificate] {
    let marker = "-----END CERTIFICATE-----"
    return try pem.components(separatedBy: marker).filter { $0.contains("-----BEGIN") }.map {
      try Certificate(
        pemEncoded: $0.trimmingCharacters(in: .whitespacesAndNewlines) + "\n" + marker)
    }
  }

  func phala() throws -> (rootCRL: [UInt8], pckCRL: [UInt8], issuers: [Certificate]) {
    let json = try JSONSerialization.jsonObject(
      with: Data(try fixture("phala-dcap-qvl/sgx_quote_collateral.json")))
    let dict = try XCTUnwrap(json as? [String: Any])
    func unhex(_ key: String) throws -> [UInt8] {
      let text = Array(try XCTUnwrap(dict[key] as? String).utf8)
      return try stride(from: 0, to: text.count, by: 2).map {
        try XCTUnwrap(UInt8(String(decoding: text[$0..<$0 + 2], as: UTF8.self), radix: 16))
      }
    }
    let chain = try certificates(inPEM: try XCTUnwrap(dict["pck_crl_issuer_chain"] as? String))
    return (try unhex("root_ca_crl"), try unhex("pck_crl"), chain)
  }

  func date(_ iso: String) -> Date { ISO8601DateFormatter().date(from: iso)! }

  func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

  func testIntelsCRLsParseAndAreSignedByTheirIssuersOnly() throws {
    let root = try certificate("mobilecoin-2023-07-12/root_ca.pem")
    let processor = try certificate("mobilecoin-2023-07-12/processor_ca.pem")
    let (phalaRootCRL, phalaPCKCRL, phalaChain) = try phala()
    let phalaProcessor = try XCTUnwrap(
      phalaChain.first { "\($0.subject)".contains("CN=Intel SGX PCK Processor CA") })
    XCTAssertEqual(phalaProcessor.subject, processor.subject)
    XCTAssertEqual(root.subject, IntelSGXRoot.certificate.subject)

    let cases: [(String, [UInt8], Certificate, Certificate, String, String)] = [
      (
        "mobilecoin root", try fixture("mobilecoin-2023-07-12/root_crl.der"), root, processor,
        "2023-04-03T10:22:51Z", "2024-04-02T10:22:51Z"
      ),
      (
        "mobilecoin processor", try fixture("mobilecoin-2023-07-12/processor_crl.der"), processor,
        root, "2023-04-21T22:00:36Z", "2023-05-21T22:00:36Z"
      ),
      (
        "phala root", phalaRootCRL, IntelSGXRoot.certificate, phalaProcessor,
        "2025-03-20T11:21:57Z", "2026-04-03T11:21:57Z"
      ),
      (
        "phala PCK", phalaPCKCRL, phalaProcessor, root, "2025-06-19T10:23:18Z",
        "2025-07-19T10:23:18Z"
      ),
    ]
    for (name, der, issuer, other, thisUpdate, nextUpdate) in cases {
      let crl = try CertificateRevocationList(derEncoded: der)
      XCTAssertEqual(crl.issuer, issuer.subject, name)
      XCTAssertEqual(crl.thisUpdate, date(thisUpdate), name)
      XCTAssertEqual(crl.nextUpdate, date(nextUpdate), name)
      XCTAssertEqual(crl.revokedSerialNumbers, [], name)
      XCTAssert(crl.isSigned(by: issuer), name)
      XCTAssertFalse(crl.isSigned(by: other), name)

      // Change the case of one letter of the issuer's name: still a CRL, no longer Intel's.
      let name0 = Array("Intel SGX".utf8)
      let at = try XCTUnwrap(
        (0...(der.count - name0.count)).first { Array(der[$0..<$0 + name0.count]) == name0 })
      var flipped = der
      flipped[at] ^= 0x20
      let changed = try CertificateRevocationList(derEncoded: flipped)
      XCTAssertNotEqual(changed.issuer, crl.issuer, name)
      XCTAssertFalse(changed.isSigned(by: issuer), name)

      // A changed byte in the signature (its last byte, the end of s).
      var badSignature = der
      badSignature[der.count - 1] ^= 0x01
      XCTAssertFalse(try CertificateRevocationList(derEncoded: badSignature).isSigned(by: issuer))
    }
  }

  func testCurrencyAndRevocationAtTheQuotesTimes() throws {
    let july2023 = date("2023-07-12T20:48:25Z")
    let rootCRL = try CertificateRevocationList(
      derEncoded: try fixture("mobilecoin-2023-07-12/root_crl.der"))
    let processorCRL = try CertificateRevocationList(
      derEncoded: try fixture("mobilecoin-2023-07-12/processor_crl.der"))
    XCTAssert(rootCRL.isCurrent(at: july2023))
    XCTAssertFalse(processorCRL.isCurrent(at: july2023))
    XCTAssert(processorCRL.isCurrent(at: processorCRL.thisUpdate))
    XCTAssert(processorCRL.isCurrent(at: date("2023-05-21T22:00:36Z")))
    XCTAssertFalse(processorCRL.isCurrent(at: date("2023-05-21T22:00:37Z")))
    XCTAssertFalse(processorCRL.isCurrent(at: date("2023-04-21T22:00:35Z")))

    let leaf = try certificate("mobilecoin-2023-07-12/leaf_cert.pem")
    let processor = try certificate("mobilecoin-2023-07-12/processor_ca.pem")
    XCTAssertEqual(leaf.issuer, processorCRL.issuer)
    XCTAssertFalse(processorCRL.revokes(leaf))
    XCTAssertFalse(rootCRL.revokes(processor))

    let (phalaRootCRL, phalaPCKCRL, _) = try phala()
    let june2025 = date("2025-06-20T00:00:00Z")
    XCTAssert(try CertificateRevocationList(derEncoded: phalaRootCRL).isCurrent(at: june2025))
    XCTAssert(try CertificateRevocationList(derEncoded: phalaPCKCRL).isCurrent(at: june2025))
  }

  /// Intel's CRLs list nobody, so revoked entries are tested on a CRL made here.
  func testARevokedSerialIsFoundOnlyUnderItsIssuer() throws {
    let key = P256.Signing.PrivateKey()
    let caName = try DistinguishedName { CommonName("Test CA") }
    let otherName = try DistinguishedName { CommonName("Other CA") }
    let revoked = Certificate.SerialNumber(bytes: [0xFB, 0x49, 0xC6, 0x5C])
    func certificate(issuer: DistinguishedName, serial: Certificate.SerialNumber) throws
      -> Certificate
    {
      try Certificate(
        version: .v3, serialNumber: serial, publicKey: .init(key.publicKey),
        notValidBefore: date("2024-01-01T00:00:00Z"), notValidAfter: date("2034-01-01T00:00:00Z"),
        issuer: issuer, subject: try DistinguishedName { CommonName("Leaf") },
        signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions(),
        issuerPrivateKey: .init(key))
    }
    let ca = try Certificate(
      version: .v3, serialNumber: .init(1), publicKey: .init(key.publicKey),
      notValidBefore: date("2024-01-01T00:00:00Z"), notValidAfter: date("2034-01-01T00:00:00Z"),
      issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
      extensions: Certificate.Extensions(), issuerPrivateKey: .init(key))

    let algorithm = try { () throws -> [UInt8] in
      var s = DER.Serializer()
      try s.appendConstructedNode(identifier: .sequence) {
        try $0.serialize(ASN1ObjectIdentifier(dotRepresentation: "1.2.840.10045.4.3.2"))
      }
      return s.serializedBytes
    }()
    var t = DER.Serializer()
    try t.appendConstructedNode(identifier: .sequence) { t in
      try t.serialize(1)
      t.serializeRawBytes(algorithm)
      try t.serialize(caName)
      try t.serialize(
        GeneralizedTime(
          year: 2024, month: 2, day: 29, hours: 12, minutes: 0, seconds: 1, fractionalSeconds: 0))
      try t.appendConstructedNode(identifier: .sequence) { t in
        for serial in [Certificate.SerialNumber(bytes: [0x01, 0x02]), revoked] {
          try t.appendConstructedNode(identifier: .sequence) { t in
            t.appendPrimitiveNode(identifier: .integer) { $0.append(contentsOf: serial.bytes) }
            try t.serialize(
              UTCTime(year: 2024, month: 2, day: 1, hours: 0, minutes: 0, seconds: 0))
          }
        }
      }
    }
    let tbs = t.serializedBytes
    let signature = try key.signature(for: tbs).derRepresentation
    var s = DER.Serializer()
    try s.appendConstructedNode(identifier: .sequence) { s in
      s.serializeRawBytes(tbs)
      s.serializeRawBytes(algorithm)
      try s.serialize(ASN1BitString(bytes: ArraySlice(signature)))
    }

    let crl = try CertificateRevocationList(derEncoded: s.serializedBytes)
    XCTAssertEqual(crl.issuer, caName)
    XCTAssertEqual(crl.thisUpdate, date("2024-02-29T12:00:01Z"))
    XCTAssertNil(crl.nextUpdate)
    XCTAssert(crl.isCurrent(at: date("2099-01-01T00:00:00Z")))
    XCTAssertFalse(crl.isCurrent(at: date("2024-02-29T12:00:00Z")))
    XCTAssertEqual(crl.revokedSerialNumbers.count, 2)
    XCTAssert(crl.isSigned(by: ca))
    XCTAssertFalse(crl.isSigned(by: IntelSGXRoot.certificate))
    XCTAssert(crl.revokes(try certificate(issuer: caName, serial: revoked)))
    XCTAssertFalse(crl.revokes(try certificate(issuer: otherName, serial: revoked)))
    XCTAssertFalse(crl.revokes(try certificate(issuer: caName, serial: .init(bytes: [0x03]))))
  }

  func testMalformedCRLsThrow() throws {
    let der = try fixture("mobilecoin-2023-07-12/root_crl.der")
    for bad in [[], Array(der.dropLast()), der + [0], Array(der[4...])] {
      XCTAssertThrowsError(try CertificateRevocationList(derEncoded: bad)) {
        guard case .malformed(let what) = $0 as? QuoteError else {
          return XCTFail("\($0)")
        }
        XCTAssert(what.hasPrefix("CRL: "), what)
      }
    }
  }

  func testThePCKExtensionGivesThePlatformsTCBAndFMSPC() throws {
    let leaf = try PCKExtension(certificate: try certificate("mobilecoin-2023-07-12/leaf_cert.pem"))
    XCTAssertEqual(hex(leaf.fmspc), "00906ed50000")
    // The PPID, as `openssl asn1parse` shows it in the extension.
    XCTAssertEqual(hex(leaf.ppid), "dfa1509779ed52bdca5306c416f9911b")
    XCTAssertEqual(hex(leaf.pceID), "0000")
    XCTAssertEqual(leaf.tcbComponentSVNs, [17, 17, 2, 4, 1, 128, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    XCTAssertEqual(leaf.pceSVN, 11)
    XCTAssertEqual(hex(leaf.cpuSVN), "11110204018006000000000000000000")

    let quote = try SGXQuote(try fixture("phala-dcap-qvl/sgx_quote"))
    let pck = try XCTUnwrap(try certificates(inPEM: quote.certificationPEM).first)
    let phala = try PCKExtension(certificate: pck)
    XCTAssertEqual(hex(phala.fmspc), "00a067110000")
    XCTAssertEqual(hex(phala.ppid), "d04ec06d4e6d92dc90d0ad3cf5ee2ddf")
    XCTAssertEqual(try quote.pckExtension(), phala)
    XCTAssertEqual(phala.tcbComponentSVNs.count, 16)
    XCTAssertEqual(phala.cpuSVN.count, 16)
    XCTAssertEqual(hex(phala.pceID), "0000")
    let (_, pckCRL, _) = try self.phala()
    let crl = try CertificateRevocationList(derEncoded: pckCRL)
    XCTAssertEqual(crl.issuer, pck.issuer)
    XCTAssertFalse(crl.revokes(pck))

    XCTAssertThrowsError(
      try PCKExtension(certificate: try certificate("mobilecoin-2023-07-12/root_ca.pem"))
    ) {
      guard case .certificate = $0 as? QuoteError else { return XCTFail("\($0)") }
    }
  }
}
