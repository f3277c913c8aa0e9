import Crypto
import Foundation
import SwiftASN1
import X509

/// An X.509 certificate revocation list (RFC 5280 section 5), as Intel publishes for the SGX root
/// CA and the PCK platform and processor CAs.
///
///     CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
///     TBSCertList ::= SEQUENCE {
///       version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name,
///       thisUpdate Time, nextUpdate Time OPTIONAL,
///       revokedCertificates SEQUENCE OF SEQUENCE {
///         userCertificate INTEGER, revocationDate Time, crlEntryExtensions OPTIONAL } OPTIONAL,
///       crlExtensions [0] EXPLICIT Extensions OPTIONAL }
///
/// Parsing checks the structure only; ``isSigned(by:)`` checks the signature and
/// ``isCurrent(at:)`` the validity window.
public struct CertificateRevocationList: Sendable {
  /// ecdsa-with-SHA256.
  static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10_045, 4, 3, 2]

  public let issuer: DistinguishedName
  public let thisUpdate: Date
  public let nextUpdate: Date?
  public let revokedSerialNumbers: [Certificate.SerialNumber]
  /// The CRL as it was parsed, DER.
  public let derEncoded: [UInt8]

  /// The exact DER bytes of tbsCertList, which the signature covers.
  let signedBytes: [UInt8]
  /// The outer signatureAlgorithm's OID.
  let signatureAlgorithm: ASN1ObjectIdentifier
  /// The contents of the signatureValue BIT STRING.
  let signature: [UInt8]

  public init(derEncoded bytes: [UInt8]) throws(QuoteError) {
    derEncoded = bytes
    let root = try decode("not DER") { try DER.parse(bytes) }
    let outer = try children(root, "CertificateList")
    guard outer.count == 3 else {
      throw .malformed("CRL: CertificateList has \(outer.count) elements, not 3")
    }
    let tbs = try children(outer[0], "tbsCertList")
    signedBytes = Array(outer[0].encodedBytes)
    let (algorithm, algorithmBytes) = try Self.algorithm(outer[1], "signatureAlgorithm")
    signatureAlgorithm = algorithm
    let bitString = try decode("signatureValue is not a BIT STRING") {
      try ASN1BitString(derEncoded: outer[2])
    }
    guard bitString.paddingBits == 0 else {
      throw .malformed("CRL: signatureValue has \(bitString.paddingBits) padding bits")
    }
    signature = Array(bitString.bytes)

    var i = 0
    func next(_ what: String) throws(QuoteError) -> ASN1Node {
      guard i < tbs.count else { throw .malformed("CRL: tbsCertList ends before its \(what)") }
      defer { i += 1 }
      return tbs[i]
    }
    if i < tbs.count, tbs[i].identifier == .integer {
      let version = try decode("version is not an INTEGER") { try Int(derEncoded: tbs[i]) }
      guard version == 1 else {
        throw .malformed("CRL: version field \(version) (only 1, meaning v2)")
      }
      i += 1
    }
    let (innerAlgorithm, innerAlgorithmBytes) = try Self.algorithm(
      try next("signature"), "tbsCertList signature")
    guard innerAlgorithmBytes == algorithmBytes else {
      throw .malformed(
        "CRL: tbsCertList's signature algorithm (\(innerAlgorithm)) differs from the outer one "
          + "(\(algorithm))")
    }
    let issuerNode = try next("issuer")
    issuer = try decode("issuer is not a Name") { try DistinguishedName(derEncoded: issuerNode) }
    thisUpdate = try Self.time(try next("thisUpdate"), "thisUpdate")
    if i < tbs.count, Self.isTime(tbs[i]) {
      nextUpdate = try Self.time(tbs[i], "nextUpdate")
      i += 1
    } else {
      nextUpdate = nil
    }
    var serials: [Certificate.SerialNumber] = []
    if i < tbs.count, tbs[i].identifier == .sequence {
      let entries = try children(tbs[i], "revokedCertificates")
      for (n, entry) in entries.enumerated() {
        let fields = try children(entry, "revoked certificate entry \(n)")
        guard fields.count == 2 || fields.count == 3 else {
          throw .malformed("CRL: revoked certificate entry \(n) has \(fields.count) elements")
        }
        guard fields[0].identifier == .integer, case .primitive(let serial) = fields[0].content,
          !serial.isEmpty
        else { throw .malformed("CRL: revoked certificate entry \(n)'s serial is not an INTEGER") }
        _ = try Self.time(fields[1], "revocationDate of entry \(n)")
        if fields.count == 3, fields[2].identifier != .sequence {
          throw .malformed("CRL: revoked certificate entry \(n)'s extensions are not a SEQUENCE")
        }
        serials.append(Certificate.SerialNumber(bytes: serial))
      }
      i += 1
    }
    revokedSerialNumbers = serials
    let extensionsTag = ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)
    if i < tbs.count, tbs[i].identifier == extensionsTag {
      let extensions = try children(tbs[i], "crlExtensions", identifier: extensionsTag)
      guard extensions.count == 1, extensions[0].identifier == .sequence else {
        throw .malformed("CRL: crlExtensions is not [0] EXPLICIT SEQUENCE")
      }
      i += 1
    }
    guard i == tbs.count else {
      throw .malformed("CRL: tbsCertList has \(tbs.count - i) unexpected trailing element(s)")
    }
  }

  /// Whether `issuer`'s key signed this list: ECDSA P-256 with SHA-256 over the exact DER bytes
  /// of tbsCertList. False for any other algorithm or key.
  public func isSigned(by issuer: Certificate) -> Bool {
    guard signatureAlgorithm == Self.ecdsaWithSHA256,
      let key = P256.Signing.PublicKey(issuer.publicKey),
      let signature = try? P256.Signing.ECDSASignature(derRepresentation: signature)
    else { return false }
    return key.isValidSignature(signature, for: signedBytes)
  }

  /// Whether this list revokes `certificate`: it has the certificate's issuer and lists its
  /// serial number.
  public func revokes(_ certificate: Certificate) -> Bool {
    certificate.issuer == issuer && revokedSerialNumbers.contains(certificate.serialNumber)
  }

  /// Whether `time` lies within the list's validity window, bounds included.
  public func isCurrent(at time: Date) -> Bool {
    thisUpdate <= time && (nextUpdate.map { time <= $0 } ?? true)
  }

  /// An AlgorithmIdentifier: its OID and its exact encoding.
  private static func algorithm(
    _ node: ASN1Node, _ what: String
  ) throws(QuoteError) -> (ASN1ObjectIdentifier, ArraySlice<UInt8>) {
    let fields = try children(node, what)
    guard fields.count == 1 || fields.count == 2 else {
      throw .malformed("CRL: \(what) has \(fields.count) elements")
    }
    let oid = try decode("\(what) has no algorithm OID") {
      try ASN1ObjectIdentifier(derEncoded: fields[0])
    }
    return (oid, node.encodedBytes)
  }

  private static func isTime(_ node: ASN1Node) -> Bool {
    node.identifier == .utcTime || node.identifier == .generalizedTime
  }

  /// A Time (UTCTime or GeneralizedTime) as a Date.
  private static func time(_ node: ASN1Node, _ what: String) throws(QuoteError) -> Date {
    let c: (year: Int, month: Int, day: Int, hours: Int, minutes: Int, seconds: Double)
    switch node.identifier {
    case .utcTime:
      let t = try decode("\(what) is not a valid UTCTime") { try UTCTime(derEncoded: node) }
      c = (t.year, t.month, t.day, t.hours, t.minutes, Double(t.seconds))
    case .generalizedTime:
      let t = try decode("\(what) is not a valid GeneralizedTime") {
        try GeneralizedTime(derEncoded: node)
      }
      c = (t.year, t.month, t.day, t.hours, t.minutes, Double(t.seconds) + t.fractionalSeconds)
    default:
      throw .malformed("CRL: \(what) is not a UTCTime or GeneralizedTime")
    }
    // Days since 1970-01-01 in the proleptic Gregorian calendar (H. Hinnant's days_from_civil).
    let y = c.month <= 2 ? c.year - 1 : c.year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (c.month + (c.month > 2 ? -3 : 9)) + 2) / 5 + c.day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    let days = era * 146_097 + doe - 719_468
    let seconds = Double(days * 86_400 + c.hours * 3_600 + c.minutes * 60) + c.seconds
    return Date(timeIntervalSince1970: seconds)
  }
}

/// The children of a SEQUENCE node (or of another constructed node with `identifier`).
private func children(
  _ node: ASN1Node, _ what: String, identifier: ASN1Identifier = .sequence
) throws(QuoteError) -> [ASN1Node] {
  guard node.identifier == identifier, case .constructed(let nodes) = node.content else {
    throw .malformed(
      "CRL: \(what) is not a \(identifier == .sequence ? "SEQUENCE" : "\(identifier)")")
  }
  return Array(nodes)
}

/// Runs a swift-asn1 decoding step, reporting its failure as a malformed CRL.
private func decode<T>(_ what: String, _ body: () throws -> T) throws(QuoteError) -> T {
  do {
    return try body()
  } catch {
    throw .malformed("CRL: \(what) (\(error))")
  }
}
