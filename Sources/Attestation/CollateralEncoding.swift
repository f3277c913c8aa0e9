import Canonical
import SwiftASN1
import X509

/// Collateral travels to an enclave in the canonical encoding: the CRLs and certificates as DER,
/// TCB info and QE identity as the exact bytes Intel signed. Nothing in it is trusted: the
/// verifier checks every signature against the pinned root each time it is used.
extension Collateral: CanonicalCodable {
  public func encode(to w: inout CanonicalWriter) {
    w.bytes(rootCRL.derEncoded)
    w.bytes(pckCRL.derEncoded)
    w.bytes(tcbInfo.body)
    w.fixed(tcbInfo.signature)
    w.list(tcbInfoIssuerChain) { $0.bytes(Self.der($1)) }
    w.bytes(qeIdentity.body)
    w.fixed(qeIdentity.signature)
    w.list(qeIdentityIssuerChain) { $0.bytes(Self.der($1)) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    func crl(_ field: String, _ r: inout CanonicalReader) throws(CanonicalDecodingError)
      -> CertificateRevocationList
    {
      let bytes = try r.bytes(field, limit: 1 << 20)
      do throws(QuoteError) {
        return try CertificateRevocationList(derEncoded: bytes)
      } catch {
        throw .invalid(field: field, problem: "\(error)")
      }
    }
    func chain(_ field: String, _ r: inout CanonicalReader) throws(CanonicalDecodingError)
      -> [Certificate]
    {
      let ders = try r.list(field, limit: 4) { r throws(CanonicalDecodingError) in
        try r.bytes(field, limit: 16 << 10)
      }
      var out: [Certificate] = []
      for der in ders {
        guard let certificate = try? Certificate(derEncoded: der) else {
          throw .invalid(field: field, problem: "holds a certificate that does not parse")
        }
        out.append(certificate)
      }
      return out
    }
    let rootCRL = try crl("collateral root CRL", &r)
    let pckCRL = try crl("collateral PCK CRL", &r)
    let tcbInfo = SignedJSON(
      body: try r.bytes("collateral TCB info", limit: 1 << 20),
      signature: try r.fixed(64, "collateral TCB info signature"))
    let tcbChain = try chain("collateral TCB info issuer chain", &r)
    let qeIdentity = SignedJSON(
      body: try r.bytes("collateral QE identity", limit: 1 << 20),
      signature: try r.fixed(64, "collateral QE identity signature"))
    let qeChain = try chain("collateral QE identity issuer chain", &r)
    self.init(
      rootCRL: rootCRL, pckCRL: pckCRL, tcbInfo: tcbInfo, tcbInfoIssuerChain: tcbChain,
      qeIdentity: qeIdentity, qeIdentityIssuerChain: qeChain)
  }

  static func der(_ certificate: Certificate) -> [UInt8] {
    var serializer = DER.Serializer()
    try! serializer.serialize(certificate)
    return serializer.serializedBytes
  }
}

extension Collateral: Equatable {
  /// Same bytes in the canonical encoding.
  public static func == (a: Collateral, b: Collateral) -> Bool {
    a.canonicalBytes == b.canonicalBytes
  }
}
