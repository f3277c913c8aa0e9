import Crypto
import Foundation
import SwiftASN1
import X509

/// A certificate authority for the etcd members and clients of a network on one machine
/// (`fedledger devnet`): etcd checks its peers and clients against a CA it is given, unlike
/// FedLedger's own peers, whose ledger keys vouch for their certificates.
public struct LocalCertificateAuthority {
  let key: P256.Signing.PrivateKey
  let certificate: Certificate
  let name: DistinguishedName

  /// A new authority, valid for `years`.
  public init(commonName: String, years: Int = 10, now: Date = Date()) throws {
    key = P256.Signing.PrivateKey()
    name = try DistinguishedName {
      CommonName(commonName)
      OrganizationName("FedLedger devnet")
    }
    let publicKey = Certificate.PublicKey(key.publicKey)
    certificate = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: publicKey,
      notValidBefore: now.addingTimeInterval(-3600),
      notValidAfter: now.addingTimeInterval(Double(years) * 365.25 * 86400), issuer: name,
      subject: name, signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
        Critical(KeyUsage(keyCertSign: true, cRLSign: true))
        SubjectKeyIdentifier(hash: publicKey)
      }, issuerPrivateKey: .init(key))
  }

  /// The authority's certificate, PEM.
  public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

  /// A certificate for `commonName`, good for TLS servers and clients on loopback (etcd's peers
  /// are both), and its key; both PEM.
  public func issue(commonName: String, years: Int = 10, now: Date = Date()) throws -> (
    certificate: String, key: String
  ) {
    let leaf = P256.Signing.PrivateKey()
    let publicKey = Certificate.PublicKey(leaf.publicKey)
    let subject = try DistinguishedName {
      CommonName(commonName)
      OrganizationName("FedLedger devnet")
    }
    let issued = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: publicKey,
      notValidBefore: now.addingTimeInterval(-3600),
      notValidAfter: now.addingTimeInterval(Double(years) * 365.25 * 86400), issuer: name,
      subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
      extensions: try Certificate.Extensions {
        Critical(BasicConstraints.notCertificateAuthority)
        Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
        try ExtendedKeyUsage([.serverAuth, .clientAuth])
        SubjectAlternativeNames([
          .dnsName("localhost"), .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])),
        ])
        SubjectKeyIdentifier(hash: publicKey)
        AuthorityKeyIdentifier(
          keyIdentifier: SubjectKeyIdentifier(hash: certificate.publicKey).keyIdentifier)
      }, issuerPrivateKey: .init(key))
    return (try issued.serializeAsPEM().pemString, leaf.pemRepresentation)
  }
}
