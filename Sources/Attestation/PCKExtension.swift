import SwiftASN1
import X509

/// The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1): which platform
/// this is, what its TCB was when the certificate was issued, and its platform family.
///
/// The extension's value is a SEQUENCE of SEQUENCE { OID, value }, keyed by sub-OIDs of the
/// extension's OID: .1 PPID (OCTET STRING), .2 TCB (a SEQUENCE of 18 such pairs: .2.1 to .2.16
/// the SGX TCB component SVNs, .2.17 the PCESVN, both INTEGER, .2.18 the CPUSVN, a 16-byte OCTET
/// STRING), .3 PCE-ID (2-byte OCTET STRING), .4 FMSPC (6-byte OCTET STRING), .5 SGX type
/// (ENUMERATED). Further entries (platform instance ID, configuration) are ignored.
public struct PCKExtension: Sendable, Equatable {
  public static let oid: ASN1ObjectIdentifier = [1, 2, 840, 113_741, 1, 13, 1]

  /// The 16-byte PPID (Platform Provisioning ID): names the platform (CPU package) and stays
  /// the same across its TCB levels, so every PCK certificate Intel issues it carries this.
  public let ppid: [UInt8]
  /// The 16 SGX TCB component SVNs, in order.
  public let tcbComponentSVNs: [UInt8]
  public let pceSVN: UInt16
  /// The 16-byte CPUSVN.
  public let cpuSVN: [UInt8]
  /// The 2-byte PCE ID.
  public let pceID: [UInt8]
  /// The 6-byte FMSPC: the platform's family, model, stepping and platform type.
  public let fmspc: [UInt8]

  public init(certificate: Certificate) throws(QuoteError) {
    guard let ext = certificate.extensions.first(where: { $0.oid == Self.oid }) else {
      throw .certificate("the certificate has no SGX extension (\(Self.oid))")
    }
    let root = try decode("not DER") { try DER.parse(ext.value) }
    let entries = try Self.entries(root, under: Self.oid.oidComponents, "the extension")

    ppid = try Self.octets(entries[1], count: 16, "PPID")
    guard let tcb = entries[2] else { throw .certificate("PCK extension: no TCB entry") }
    let tcbEntries = try Self.entries(tcb, under: Self.oid.oidComponents + [2], "the TCB entry")
    var svns: [UInt8] = []
    for n in 1...16 {
      guard let node = tcbEntries[UInt(n)] else {
        throw .certificate("PCK extension: no TCB component \(n) SVN")
      }
      svns.append(
        try decode("TCB component \(n) SVN is not an INTEGER 0...255") {
          try UInt8(derEncoded: node)
        })
    }
    tcbComponentSVNs = svns
    guard let pceSVNNode = tcbEntries[17] else { throw .certificate("PCK extension: no PCESVN") }
    pceSVN = try decode("PCESVN is not an INTEGER 0...65535") {
      try UInt16(derEncoded: pceSVNNode)
    }
    cpuSVN = try Self.octets(tcbEntries[18], count: 16, "CPUSVN")
    pceID = try Self.octets(entries[3], count: 2, "PCE-ID")
    fmspc = try Self.octets(entries[4], count: 6, "FMSPC")
  }

  /// The values of a SEQUENCE of SEQUENCE { OID, value } whose OIDs are `parent` plus one
  /// component, keyed by that component. Entries under other OIDs are rejected, repeated ones too.
  private static func entries(
    _ node: ASN1Node, under parent: [UInt], _ what: String
  ) throws(QuoteError) -> [UInt: ASN1Node] {
    guard node.identifier == .sequence, case .constructed(let pairs) = node.content else {
      throw .certificate("PCK extension: \(what) is not a SEQUENCE")
    }
    var out: [UInt: ASN1Node] = [:]
    for pair in pairs {
      guard pair.identifier == .sequence, case .constructed(let fields) = pair.content else {
        throw .certificate("PCK extension: an entry of \(what) is not a SEQUENCE")
      }
      let parts = Array(fields)
      guard parts.count == 2 else {
        throw .certificate("PCK extension: an entry of \(what) has \(parts.count) elements, not 2")
      }
      let oid = try decode("an entry of \(what) has no OID") {
        try ASN1ObjectIdentifier(derEncoded: parts[0])
      }
      let components = oid.oidComponents
      guard components.count == parent.count + 1, Array(components.dropLast()) == parent,
        let key = components.last
      else { throw .certificate("PCK extension: unexpected entry \(oid) in \(what)") }
      guard out.updateValue(parts[1], forKey: key) == nil else {
        throw .certificate("PCK extension: \(what) repeats \(oid)")
      }
    }
    return out
  }

  private static func octets(
    _ node: ASN1Node?, count: Int, _ what: String
  ) throws(QuoteError) -> [UInt8] {
    guard let node else { throw .certificate("PCK extension: no \(what)") }
    let string = try decode("\(what) is not an OCTET STRING") {
      try ASN1OctetString(derEncoded: node)
    }
    guard string.bytes.count == count else {
      throw .certificate("PCK extension: \(what) has \(string.bytes.count) bytes, not \(count)")
    }
    return Array(string.bytes)
  }
}

/// Runs a swift-asn1 decoding step, reporting its failure as a bad PCK certificate.
private func decode<T>(_ what: String, _ body: () throws -> T) throws(QuoteError) -> T {
  do {
    return try body()
  } catch {
    throw .certificate("PCK extension: \(what) (\(error))")
  }
}

extension SGXQuote {
  /// The SGX extension of the PCK certificate this quote carries (the first of its chain), read
  /// without checking anything: it is the certificate whose chain `QuoteVerifier` validates, so
  /// what it says holds once the quote verifies.
  public func pckExtension() throws(QuoteError) -> PCKExtension {
    guard let leaf = try QuoteVerifier.certificates(in: certificationPEM).first else {
      throw .certificate("the quote carries no PCK certificate")
    }
    return try PCKExtension(certificate: leaf)
  }
}
