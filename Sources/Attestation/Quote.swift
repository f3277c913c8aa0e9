/// An SGX enclave report body: who the enclave is and what it asked to be bound to.
public struct ReportBody: Equatable, Sendable {
  public static let size = 384
  /// The raw 384 bytes, as signed.
  public let bytes: [UInt8]

  public init(_ bytes: [UInt8]) throws(QuoteError) {
    guard bytes.count == Self.size else { throw .truncated("report body") }
    self.bytes = bytes
  }

  // Layout: CPUSVN 16, MISCSELECT 4, reserved 12, ISVEXTPRODID 16, ATTRIBUTES 16 (flags 8,
  // XFRM 8), MRENCLAVE 32, reserved 32, MRSIGNER 32, reserved 32, CONFIGID 64, ISVPRODID 2,
  // ISVSVN 2, CONFIGSVN 2, reserved 42, ISVFAMILYID 16, REPORTDATA 64.
  public var cpuSVN: [UInt8] { Array(bytes[0..<16]) }
  public var miscSelect: UInt32 { le32(bytes, 16) }
  /// The extended product ID (meaningful only with KSS).
  public var isvExtProdID: [UInt8] { Array(bytes[32..<48]) }
  /// Attribute flags, the low 8 bytes of ATTRIBUTES: bit 0 INIT, 1 DEBUG, 2 MODE64BIT,
  /// 4 PROVISIONKEY, 5 EINITTOKEN_KEY, 7 KSS.
  public var attributeFlags: UInt64 { le64(bytes, 48) }
  /// XFRM, the high 8 bytes of ATTRIBUTES: the XSAVE state components the enclave runs with.
  public var xfrm: UInt64 { le64(bytes, 56) }
  public var isDebug: Bool { attributeFlags & Self.debugFlag != 0 }
  /// Whether the enclave may get the provisioning key (the one quoting enclaves use).
  public var hasProvisionKey: Bool { attributeFlags & Self.provisionKeyFlag != 0 }
  /// Whether Key Separation and Sharing is on (then CONFIGID, CONFIGSVN, ISVEXTPRODID and
  /// ISVFAMILYID take part in key derivation).
  public var hasKSS: Bool { attributeFlags & Self.kssFlag != 0 }
  public var mrEnclave: [UInt8] { Array(bytes[64..<96]) }
  public var mrSigner: [UInt8] { Array(bytes[128..<160]) }
  /// The 64 bytes the enclave's loader set at launch (all zeros unless KSS is used).
  public var configID: [UInt8] { Array(bytes[192..<256]) }
  public var isvProdID: UInt16 { le16(bytes, 256) }
  public var isvSVN: UInt16 { le16(bytes, 258) }
  public var configSVN: UInt16 { le16(bytes, 260) }
  /// The product family ID (meaningful only with KSS).
  public var isvFamilyID: [UInt8] { Array(bytes[304..<320]) }
  public var reportData: [UInt8] { Array(bytes[320..<384]) }

  /// ATTRIBUTES flag bits.
  public static let debugFlag: UInt64 = 1 << 1
  public static let provisionKeyFlag: UInt64 = 1 << 4
  public static let kssFlag: UInt64 = 1 << 7
}

/// Why a quote could not be parsed or verified. Each case names what failed.
public enum QuoteError: Error, Equatable, CustomStringConvertible {
  case truncated(String)
  case trailingBytes(Int)
  case unsupported(String)
  case malformed(String)
  case certificate(String)
  case signature(String)
  case binding(String)
  case policy(String)
  case collateral(String)
  /// A CRL past its next update: its own outcome, which policy may accept within a limit.
  case staleCRL(String)

  public var description: String {
    switch self {
    case .truncated(let what): "the quote ends inside its \(what)"
    case .trailingBytes(let n): "the quote has \(n) byte(s) after its signature data"
    case .unsupported(let what): "unsupported quote: \(what)"
    case .malformed(let what): "malformed quote: \(what)"
    case .certificate(let what): "certificate chain: \(what)"
    case .signature(let what): "signature: \(what)"
    case .binding(let what): "binding: \(what)"
    case .policy(let what): "policy: \(what)"
    case .collateral(let what): "collateral: \(what)"
    case .staleCRL(let what): "stale CRL: \(what)"
    }
  }
}

/// An Intel SGX DCAP quote, version 3 or 4, with an ECDSA P-256 attestation key.
///
/// Layout (all little-endian): a 48-byte header, the enclave's 384-byte report body, the
/// length of the signature data, then the signature data: the quote signature (r||s), the
/// attestation public key (x||y), and the certification data: the quoting enclave's report and
/// its signature by the PCK key, the QE authentication data and the PCK certificate chain (in
/// version 4 these sit inside a certification-data entry of type 6).
public struct SGXQuote: Equatable, Sendable {
  public static let headerSize = 48
  public let bytes: [UInt8]
  public let version: UInt16
  public let attestationKeyType: UInt16
  public let qeSVN: UInt16
  public let pceSVN: UInt16
  public let qeVendorID: [UInt8]
  public let report: ReportBody
  /// The quote signature, raw r||s, over the header and report body.
  public let signature: [UInt8]
  /// The attestation public key, raw x||y.
  public let attestationKey: [UInt8]
  public let qeReport: ReportBody
  /// The PCK key's signature, raw r||s, over the QE report.
  public let qeReportSignature: [UInt8]
  public let qeAuthenticationData: [UInt8]
  /// The PCK certificate chain as PEM text (PCK, intermediate CA, root).
  public let certificationPEM: String

  /// The bytes the quote signature covers.
  public var signedBytes: ArraySlice<UInt8> { bytes[0..<(Self.headerSize + ReportBody.size)] }

  public init(_ bytes: [UInt8]) throws(QuoteError) {
    self.bytes = bytes
    var r = Reader(bytes: bytes)
    version = try r.u16("header")
    guard version == 3 || version == 4 else { throw .unsupported("version \(version)") }
    attestationKeyType = try r.u16("header")
    guard attestationKeyType == 2 else {
      throw .unsupported("attestation key type \(attestationKeyType) (only 2, ECDSA P-256)")
    }
    let teeType = try r.u32("header")
    guard teeType == 0 else { throw .unsupported("TEE type \(teeType) (only 0, SGX)") }
    qeSVN = try r.u16("header")
    pceSVN = try r.u16("header")
    qeVendorID = try r.take(16, "header")
    _ = try r.take(20, "header")
    report = try ReportBody(try r.take(ReportBody.size, "report body"))
    let length = Int(try r.u32("signature data length"))
    guard length == r.remaining else {
      if length > r.remaining { throw .truncated("signature data") }
      throw .trailingBytes(r.remaining - length)
    }
    signature = try r.take(64, "quote signature")
    attestationKey = try r.take(64, "attestation key")
    if version == 4 {
      let type = try r.u16("certification data")
      guard type == 6 else {
        throw .unsupported("version 4 certification data type \(type) (only 6)")
      }
      let size = Int(try r.u32("certification data"))
      guard size == r.remaining else { throw .malformed("certification data size \(size)") }
    }
    qeReport = try ReportBody(try r.take(ReportBody.size, "QE report"))
    qeReportSignature = try r.take(64, "QE report signature")
    let authLength = Int(try r.u16("QE authentication data"))
    qeAuthenticationData = try r.take(authLength, "QE authentication data")
    let certType = try r.u16("PCK certification data")
    guard certType == 5 else {
      throw .unsupported("PCK certification data type \(certType) (only 5, a PEM chain)")
    }
    let certSize = Int(try r.u32("PCK certification data"))
    let pem = try r.take(certSize, "PCK certificate chain")
    guard r.remaining == 0 else { throw .trailingBytes(r.remaining) }
    guard let text = String(validating: pem.prefix { $0 != 0 }, as: UTF8.self) else {
      throw .malformed("the PCK certificate chain is not text")
    }
    certificationPEM = text
  }
}

private struct Reader {
  let bytes: [UInt8]
  var offset = 0
  var remaining: Int { bytes.count - offset }

  mutating func take(_ n: Int, _ what: String) throws(QuoteError) -> [UInt8] {
    guard n >= 0, remaining >= n else { throw .truncated(what) }
    defer { offset += n }
    return Array(bytes[offset..<offset + n])
  }
  mutating func u16(_ what: String) throws(QuoteError) -> UInt16 {
    let b = try take(2, what)
    return le16(b, 0)
  }
  mutating func u32(_ what: String) throws(QuoteError) -> UInt32 {
    let b = try take(4, what)
    return le32(b, 0)
  }
}

func le16(_ b: [UInt8], _ o: Int) -> UInt16 { UInt16(b[o]) | UInt16(b[o + 1]) << 8 }
func le32(_ b: [UInt8], _ o: Int) -> UInt32 {
  (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) }
}
func le64(_ b: [UInt8], _ o: Int) -> UInt64 {
  (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) }
}
