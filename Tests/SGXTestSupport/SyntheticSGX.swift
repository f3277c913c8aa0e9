import Attestation
import Crypto
import Foundation
import SwiftASN1
import X509

/// A stand-in, for tests only, for Intel's SGX provisioning PKI and a platform's quoting
/// enclave: a complete, self-consistent DCAP-shaped PKI made of fresh TEST keys (none of them
/// Intel's), and quotes on demand for any report body.
///
/// Everything chains to ``root``, a self-signed test CA. Pass it to the real verifier,
/// `DCAPVerifier(policy:root:)`, with ``collateral``; with the default root (Intel's) the
/// verifier rejects every synthetic quote, as it must.
///
///     root (CA, pathLen 1) ──┬── Test SGX PCK Processor CA (CA, pathLen 0) ── PCK certificates
///                            └── TCB signing certificate (signs TCB info and QE identity)
///
/// It stands for ``platforms`` machines of one model (FMSPC): each has its own PCK key and
/// certificate, naming its own PPID (``ppid(platform:)``).
///
/// Certificates, CRLs, TCB info and QE identity are all valid from `notBefore` to `notAfter`
/// (`notBefore` rounded up and `notAfter` down to whole seconds, as certificates carry them).
public final class SyntheticSGX: Sendable {
  /// The self-signed test root CA (CN=Test SGX Root CA).
  public let root: Certificate
  /// The validity window of every certificate, CRL and collateral document.
  public let notBefore: Date
  public let notAfter: Date
  /// The platform's FMSPC, in its PCK certificate and in TCB info.
  public static let fmspc: [UInt8] = [0x00, 0x90, 0x6E, 0xD5, 0x00, 0x00]

  /// The platform's TCB, as its PCK certificate records it and TCB info's one level requires.
  static let tcbComponentSVNs: [UInt8] = [2, 2, 2, 2, 3, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]
  static let pceSVN: UInt16 = 13
  static let pceID: [UInt8] = [0x00, 0x00]
  /// The quoting enclave: product ID 1 (as Intel's QE), its SVN, and test measurements.
  static let qeProdID: UInt16 = 1
  static let qeSVN: UInt16 = 8
  static let qeMRSigner = Array(SHA256.hash(data: Array("SyntheticSGX test QE signer".utf8)))
  static let qeMREnclave = Array(SHA256.hash(data: Array("SyntheticSGX test QE".utf8)))
  /// Intel's QE vendor ID: the verifier accepts no other, and DCAP has no other QE.
  static let intelQEVendorID: [UInt8] = [
    0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07,
  ]

  private let rootKey: P256.Signing.PrivateKey
  private let tcbSignerKey: P256.Signing.PrivateKey
  private let pckCA: Certificate
  private let pckCAKey: P256.Signing.PrivateKey
  /// Each platform's PCK certificate and key.
  private let pcks: [(certificate: Certificate, key: P256.Signing.PrivateKey)]
  /// How many platforms quote under this PKI.
  public var platforms: Int { pcks.count }
  private let tcbSigner: Certificate
  private let rootCRL: CertificateRevocationList
  private let pckCRL: CertificateRevocationList
  private let tcbInfo: SignedJSON
  private let qeIdentity: SignedJSON

  /// A new PKI with fresh keys and `platforms` machines, everything valid from `notBefore` to
  /// `notAfter`.
  public init(notBefore: Date, notAfter: Date, platforms: Int = 4) {
    precondition(platforms >= 1, "SyntheticSGX: at least one platform")
    let from = Date(timeIntervalSince1970: (notBefore.timeIntervalSince1970).rounded(.up))
    let to = Date(timeIntervalSince1970: (notAfter.timeIntervalSince1970).rounded(.down))
    precondition(from < to, "SyntheticSGX: notBefore must precede notAfter")
    self.notBefore = from
    self.notAfter = to
    let rootKey = P256.Signing.PrivateKey()
    let pckCAKey = P256.Signing.PrivateKey()
    let tcbSignerKey = P256.Signing.PrivateKey()
    self.pckCAKey = pckCAKey
    self.rootKey = rootKey
    self.tcbSignerKey = tcbSignerKey

    // Only a programming error can make the X.509 and DER builders throw here.
    do {
      let rootName = try Self.name("Test SGX Root CA")
      let caName = try Self.name("Test SGX PCK Processor CA")
      root = try Self.certificate(
        subject: rootName, key: rootKey.publicKey, issuer: rootName, issuerKey: rootKey,
        from: from, to: to, ca: 1)
      pckCA = try Self.certificate(
        subject: caName, key: pckCAKey.publicKey, issuer: rootName, issuerKey: rootKey,
        from: from, to: to, ca: 0)
      pcks = try (0..<platforms).map { n in
        let key = P256.Signing.PrivateKey()
        let certificate = try Self.certificate(
          subject: try Self.name("Test SGX PCK Certificate"), key: key.publicKey,
          issuer: caName, issuerKey: pckCAKey, from: from, to: to, ca: nil,
          extra: [
            Certificate.Extension(
              oid: PCKExtension.oid, critical: false,
              value: try Self.sgxExtension(ppid: Self.ppid(platform: n))[...])
          ])
        return (certificate, key)
      }
      // The verifier recognises Intel's TCB signing certificate by this common name (and by
      // its place directly under the root), so the test certificate carries it too. Its
      // organisation says whose it is, and it chains to the test root only.
      tcbSigner = try Self.certificate(
        subject: try Self.name("Intel SGX TCB Signing"), key: tcbSignerKey.publicKey,
        issuer: rootName, issuerKey: rootKey, from: from, to: to, ca: nil)
      rootCRL = try Self.crl(issuer: rootName, key: rootKey, from: from, to: to, revoked: [])
      pckCRL = try Self.crl(issuer: caName, key: pckCAKey, from: from, to: to, revoked: [])
      tcbInfo = Self.signed(Self.tcbInfoJSON(from: from, to: to), by: tcbSignerKey)
      qeIdentity = Self.signed(Self.qeIdentityJSON(from: from, to: to), by: tcbSignerKey)
    } catch {
      preconditionFailure("SyntheticSGX: building the test PKI failed: \(error)")
    }
  }

  /// The collateral for this PKI's quotes: the root and PCK CRLs (revoking nothing), TCB info
  /// and QE identity, each with the issuer chain [TCB signing certificate, root].
  public var collateral: Collateral { collateral(revokingPCK: false) }

  /// Platform `n`'s PPID, as its PCK certificate names it.
  public static func ppid(platform n: Int) -> [UInt8] {
    Array(SHA256.hash(data: Array("SyntheticSGX test PPID \(n)".utf8)).prefix(16))
  }

  /// As ``collateral``; with `revokingPCK`, the PCK CRL lists platform 0's PCK certificate.
  public func collateral(revokingPCK: Bool) -> Collateral {
    var crl = pckCRL
    if revokingPCK {
      do {
        crl = try Self.crl(
          issuer: pckCA.subject, key: pckCAKey, from: notBefore, to: notAfter,
          revoked: [pcks[0].certificate.serialNumber])
      } catch {
        preconditionFailure("SyntheticSGX: building the PCK CRL failed: \(error)")
      }
    }
    return Collateral(
      rootCRL: rootCRL, pckCRL: crl, tcbInfo: tcbInfo, tcbInfoIssuerChain: [tcbSigner, root],
      qeIdentity: qeIdentity, qeIdentityIssuerChain: [tcbSigner, root])
  }

  /// Collateral issued at `from` and current until `to` (the certificates keep their own
  /// window): what Intel would publish at one moment, for tests of time.
  public func collateral(issued from: Date, until to: Date) -> Collateral {
    let from = Date(timeIntervalSince1970: from.timeIntervalSince1970.rounded(.up))
    let to = Date(timeIntervalSince1970: to.timeIntervalSince1970.rounded(.down))
    do {
      return Collateral(
        rootCRL: try Self.crl(issuer: root.subject, key: rootKey, from: from, to: to, revoked: []),
        pckCRL: try Self.crl(issuer: pckCA.subject, key: pckCAKey, from: from, to: to, revoked: []),
        tcbInfo: Self.signed(Self.tcbInfoJSON(from: from, to: to), by: tcbSignerKey),
        tcbInfoIssuerChain: [tcbSigner, root],
        qeIdentity: Self.signed(Self.qeIdentityJSON(from: from, to: to), by: tcbSignerKey),
        qeIdentityIssuerChain: [tcbSigner, root])
    } catch {
      preconditionFailure("SyntheticSGX: building collateral failed: \(error)")
    }
  }

  /// A quote (version 3, or 4) for this report body, as platform `platform`'s quoting enclave
  /// would make it: signed by a fresh attestation key that the QE report binds, the QE report
  /// signed by the platform's PCK key, and the PCK chain (PCK, CA, root) as PEM in certification
  /// data of type 5; in version 4 the QE report, its signature, the authentication data and the
  /// PCK data sit inside certification data of type 6.
  ///
  /// The enclave's attribute flags are INIT | MODE64BIT, with DEBUG if `debug`, and any
  /// `extraFlags` (PROVISIONKEY is 1 << 4, KSS 1 << 7); its XFRM is `xfrm` (x87 | SSE unless
  /// given), its CONFIGID `configID` (zeros unless given, at most 64 bytes).
  public func quote(
    mrEnclave: [UInt8], mrSigner: [UInt8], reportData: [UInt8], debug: Bool = false,
    isvProdID: UInt16 = 0, isvSVN: UInt16 = 0, platform: Int = 0, version: UInt16 = 3,
    extraFlags: UInt64 = 0, xfrm: UInt64 = 0x03, configID: [UInt8] = []
  ) -> [UInt8] {
    precondition(version == 3 || version == 4, "SyntheticSGX makes version 3 and 4 quotes")
    let (pck, pckKey) = pcks[platform]
    precondition(mrEnclave.count == 32 && mrSigner.count == 32, "measurements are 32 bytes")
    precondition(reportData.count <= 64, "REPORTDATA is at most 64 bytes")
    precondition(configID.count <= 64, "CONFIGID is at most 64 bytes")
    let body = Self.report(
      flags: (debug ? 0x07 : 0x05) | extraFlags, xfrm: xfrm, mrEnclave: mrEnclave,
      mrSigner: mrSigner, isvProdID: isvProdID, isvSVN: isvSVN, reportData: reportData,
      configID: configID)

    var header: [UInt8] = []
    header += le(version)
    header += le(UInt16(2))  // attestation key type: ECDSA P-256
    header += le(UInt32(0))  // TEE type: SGX
    header += le(Self.qeSVN)
    header += le(Self.pceSVN)
    header += Self.intelQEVendorID
    header += [UInt8](repeating: 0, count: 20)  // user data

    let attestationKey = P256.Signing.PrivateKey()
    let attestationPublic = Array(attestationKey.publicKey.rawRepresentation)
    let authData = (0..<32).map { UInt8($0) }
    let qeReport = Self.report(
      flags: 0x15, xfrm: 0xE7, mrEnclave: Self.qeMREnclave, mrSigner: Self.qeMRSigner,
      isvProdID: Self.qeProdID, isvSVN: Self.qeSVN,
      reportData: Array(SHA256.hash(data: attestationPublic + authData)))
    // Real quotes end the PEM chain with a NUL byte.
    let chain = [pck, pckCA, root].map { Self.pem($0) }.joined(separator: "\n")
    let pem = Array(chain.utf8) + [0]

    var qeData: [UInt8] = []
    qeData += qeReport
    qeData += Self.sign(qeReport, pckKey)
    qeData += le(UInt16(authData.count)) + authData
    qeData += le(UInt16(5)) + le(UInt32(pem.count)) + pem
    var signatureData: [UInt8] = []
    signatureData += Self.sign(header + body, attestationKey)
    signatureData += attestationPublic
    if version == 4 { signatureData += le(UInt16(6)) + le(UInt32(qeData.count)) }
    signatureData += qeData
    return header + body + le(UInt32(signatureData.count)) + signatureData
  }

  // MARK: Report bodies and signatures

  /// A 384-byte report body: CPUSVN, MISCSELECT 0, attributes, measurements, CONFIGID, IDs,
  /// REPORTDATA.
  static func report(
    flags: UInt64, xfrm: UInt64, mrEnclave: [UInt8], mrSigner: [UInt8], isvProdID: UInt16,
    isvSVN: UInt16, reportData: [UInt8], configID: [UInt8] = []
  ) -> [UInt8] {
    var r = [UInt8](repeating: 0, count: 384)
    r.replaceSubrange(0..<16, with: tcbComponentSVNs)  // CPUSVN
    r.replaceSubrange(48..<56, with: le(flags))
    r.replaceSubrange(56..<64, with: le(xfrm))
    r.replaceSubrange(64..<96, with: mrEnclave)
    r.replaceSubrange(128..<160, with: mrSigner)
    r.replaceSubrange(192..<192 + configID.count, with: configID)
    r.replaceSubrange(256..<258, with: le(isvProdID))
    r.replaceSubrange(258..<260, with: le(isvSVN))
    r.replaceSubrange(320..<320 + reportData.count, with: reportData)
    return r
  }

  /// ECDSA P-256 with SHA-256, raw r||s, as quotes and collateral documents carry signatures.
  static func sign(_ bytes: [UInt8], _ key: P256.Signing.PrivateKey) -> [UInt8] {
    do {
      return Array(try key.signature(for: bytes).rawRepresentation)
    } catch {
      preconditionFailure("SyntheticSGX: ECDSA signing failed: \(error)")
    }
  }

  static func signed(_ body: String, by key: P256.Signing.PrivateKey) -> SignedJSON {
    SignedJSON(body: Array(body.utf8), signature: sign(Array(body.utf8), key))
  }

  // MARK: Certificates

  static func name(_ commonName: String) throws -> DistinguishedName {
    try DistinguishedName {
      CommonName(commonName)
      OrganizationName("FedLedger test PKI (not Intel)")
    }
  }

  /// A certificate signed by `issuerKey`: a CA with the given path length, or (nil) an end
  /// entity for signatures.
  static func certificate(
    subject: DistinguishedName, key: P256.Signing.PublicKey, issuer: DistinguishedName,
    issuerKey: P256.Signing.PrivateKey, from: Date, to: Date, ca pathLength: Int?,
    extra: [Certificate.Extension] = []
  ) throws -> Certificate {
    let publicKey = Certificate.PublicKey(key)
    let issuerPublic = Certificate.PublicKey(issuerKey.publicKey)
    var extensions = try Certificate.Extensions {
      if let pathLength {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: pathLength))
        Critical(KeyUsage(keyCertSign: true, cRLSign: true))
      } else {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
      }
      SubjectKeyIdentifier(hash: publicKey)
      AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: issuerPublic).keyIdentifier)
    }
    for e in extra { try extensions.append(e) }
    return try Certificate(
      version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
      notValidBefore: from, notValidAfter: to, issuer: issuer, subject: subject,
      signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
      issuerPrivateKey: Certificate.PrivateKey(issuerKey))
  }

  static func pem(_ certificate: Certificate) -> String {
    do {
      return try certificate.serializeAsPEM().pemString
    } catch {
      preconditionFailure("SyntheticSGX: PEM encoding failed: \(error)")
    }
  }

  /// The SGX extension's value (see `PCKExtension`): PPID, TCB (16 component SVNs, PCESVN,
  /// CPUSVN), PCE-ID, FMSPC, SGX type 0 (standard).
  static func sgxExtension(ppid: [UInt8]) throws -> [UInt8] {
    func entry(
      _ s: inout DER.Serializer, _ arcs: [UInt], _ value: (inout DER.Serializer) throws -> Void
    ) throws {
      try s.appendConstructedNode(identifier: .sequence) { s in
        try s.serialize(try ASN1ObjectIdentifier(elements: PCKExtension.oid.oidComponents + arcs))
        try value(&s)
      }
    }
    func octets(_ bytes: [UInt8]) -> ASN1OctetString { ASN1OctetString(contentBytes: bytes[...]) }
    var s = DER.Serializer()
    try s.appendConstructedNode(identifier: .sequence) { s in
      try entry(&s, [1]) { try $0.serialize(octets(ppid)) }
      try entry(&s, [2]) { s in
        try s.appendConstructedNode(identifier: .sequence) { s in
          for (n, svn) in tcbComponentSVNs.enumerated() {
            try entry(&s, [2, UInt(n + 1)]) { try $0.serialize(Int(svn)) }
          }
          try entry(&s, [2, 17]) { try $0.serialize(Int(pceSVN)) }
          try entry(&s, [2, 18]) { try $0.serialize(octets(tcbComponentSVNs)) }
        }
      }
      try entry(&s, [3]) { try $0.serialize(octets(pceID)) }
      try entry(&s, [4]) { try $0.serialize(octets(fmspc)) }
      try entry(&s, [5]) { try Int(0).serialize(into: &$0, withIdentifier: .enumerated) }
    }
    return s.serializedBytes
  }

  // MARK: CRLs

  static let ecdsaWithSHA256: ASN1ObjectIdentifier = [1, 2, 840, 10_045, 4, 3, 2]

  /// A DER X.509 v2 CRL from `issuer`, signed (ECDSA P-256, DER signature) by `key`, valid
  /// `from` to `to`, listing `revoked` (revoked at `from`).
  static func crl(
    issuer: DistinguishedName, key: P256.Signing.PrivateKey, from: Date, to: Date,
    revoked: [Certificate.SerialNumber]
  ) throws -> CertificateRevocationList {
    func algorithm(_ s: inout DER.Serializer) throws {
      try s.appendConstructedNode(identifier: .sequence) { try $0.serialize(ecdsaWithSHA256) }
    }
    var tbs = DER.Serializer()
    try tbs.appendConstructedNode(identifier: .sequence) { s in
      try s.serialize(Int(1))  // v2
      try algorithm(&s)
      try s.serialize(issuer)
      try time(from, &s)
      try time(to, &s)
      if !revoked.isEmpty {
        try s.appendConstructedNode(identifier: .sequence) { s in
          for serial in revoked {
            try s.appendConstructedNode(identifier: .sequence) { s in
              try s.serialize(serial.bytes)
              try time(from, &s)
            }
          }
        }
      }
    }
    let tbsBytes = tbs.serializedBytes
    let signature = try key.signature(for: tbsBytes).derRepresentation
    var out = DER.Serializer()
    try out.appendConstructedNode(identifier: .sequence) { s in
      s.serializeRawBytes(tbsBytes)
      try algorithm(&s)
      try s.serialize(ASN1BitString(bytes: Array(signature)[...]))
    }
    do {
      return try CertificateRevocationList(derEncoded: out.serializedBytes)
    } catch {
      preconditionFailure("SyntheticSGX: the CRL built does not parse: \(error)")
    }
  }

  /// A Time as RFC 5280 wants it: UTCTime for 1950 to 2049, GeneralizedTime otherwise.
  static func time(_ date: Date, _ s: inout DER.Serializer) throws {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = .gmt
    func part(_ component: Calendar.Component) -> Int { calendar.component(component, from: date) }
    let (year, month, day) = (part(.year), part(.month), part(.day))
    let (hours, minutes, seconds) = (part(.hour), part(.minute), part(.second))
    if (1950..<2050).contains(year) {
      try s.serialize(
        try UTCTime(
          year: year, month: month, day: day, hours: hours, minutes: minutes, seconds: seconds))
    } else {
      try s.serialize(
        try GeneralizedTime(
          year: year, month: month, day: day, hours: hours, minutes: minutes, seconds: seconds,
          fractionalSeconds: 0))
    }
  }

  // MARK: TCB info and QE identity

  static func tcbInfoJSON(from: Date, to: Date) -> String {
    let components = tcbComponentSVNs.map { "{\"svn\":\($0)}" }.joined(separator: ",")
    return """
      {"id":"SGX","version":3,"issueDate":"\(iso(from))","nextUpdate":"\(iso(to))",\
      "fmspc":"\(hexUpper(fmspc))","pceId":"\(hexUpper(pceID))","tcbType":0,\
      "tcbEvaluationDataNumber":1,"tcbLevels":[{"tcb":{"sgxtcbcomponents":[\(components)],\
      "pcesvn":\(pceSVN)},"tcbDate":"\(iso(from))","tcbStatus":"UpToDate"}]}
      """
  }

  /// QE identity matching the QE report of ``quote(mrEnclave:mrSigner:reportData:debug:isvProdID:isvSVN:)``:
  /// MISCSELECT 0, attribute flags INIT | PROVISIONKEY with MODE64BIT and XFRM masked off.
  static func qeIdentityJSON(from: Date, to: Date) -> String {
    """
    {"id":"QE","version":2,"issueDate":"\(iso(from))","nextUpdate":"\(iso(to))",\
    "tcbEvaluationDataNumber":1,"miscselect":"00000000","miscselectMask":"FFFFFFFF",\
    "attributes":"11000000000000000000000000000000",\
    "attributesMask":"FBFFFFFFFFFFFFFF0000000000000000",\
    "mrsigner":"\(hexUpper(qeMRSigner))","isvprodid":\(qeProdID),\
    "tcbLevels":[{"tcb":{"isvsvn":\(qeSVN)},"tcbDate":"\(iso(from))","tcbStatus":"UpToDate"}]}
    """
  }

  static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

  static func hexUpper(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02X", $0) }.joined()
  }
}

/// The little-endian bytes of `value`.
private func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
  withUnsafeBytes(of: value.littleEndian) { Array($0) }
}
