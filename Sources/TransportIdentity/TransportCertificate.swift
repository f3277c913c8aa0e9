import Canonical
import Crypto
import Foundation
import Records
import SwiftASN1
import X509

/// The TLS identity of a node or cluster: a self-signed P-256 certificate whose key its
/// ledger key vouches for, in a URI subject alternative name (as SPIFFE names workloads):
/// `fedledger:tls-binding:v1:<ledger key>:<its signature>`, both in hex, the signature over
/// the network's genesis hash, the certificate's expiry and its SubjectPublicKeyInfo (so the
/// binding holds for one network and never outlives the certificate it was made for: whoever
/// holds the TLS key cannot mint a longer-lived certificate with it). There is no certificate
/// authority: a
/// peer trusts a certificate because a key it already trusts (a genesis node's, an enrolled
/// cluster's) signed the certificate's public key, and the TLS handshake proves the peer holds
/// the matching private key.
public struct TransportCertificate: Sendable {
  /// The certificate and its private key, PEM.
  public var certificatePEM: String
  public var privateKeyPEM: String

  public init(certificatePEM: String, privateKeyPEM: String) {
    self.certificatePEM = certificatePEM
    self.privateKeyPEM = privateKeyPEM
  }

  /// How the binding's URI starts.
  public static let bindingScheme = "fedledger:tls-binding:v1:"

  /// A fresh TLS key and certificate for `name`, vouched for by `ledgerKey`, valid for
  /// `years` from an hour ago (clocks differ), for `hosts` (DNS names or IP addresses).
  public static func make(
    name: String, ledgerKey: SigningKey, network: Hash256,
    hosts: [String] = ["localhost", "127.0.0.1"], years: Int = 10, now: Date = Date()
  ) throws -> TransportCertificate {
    let key = P256.Signing.PrivateKey()
    let publicKey = Certificate.PublicKey(key.publicKey)
    // Whole seconds: what the certificate's validity can hold.
    let expiry = Date(
      timeIntervalSince1970: (now.timeIntervalSince1970 + Double(years) * 365.25 * 86400)
        .rounded(.down))
    let binding = Binding(
      ledgerKey: ledgerKey.publicKey,
      signature: ledgerKey.sign(
        Self.bound(network: network, expiry: expiry, publicKey: publicKey), for: .transportKey))
    let subject = try DistinguishedName {
      CommonName(name)
      OrganizationName("FedLedger network peer")
    }
    var names: [GeneralName] = hosts.map { host in
      if let ip = ipv4Bytes(host) {
        return .ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip)))
      }
      return .dnsName(host)
    }
    names.append(.uniformResourceIdentifier(binding.uri))
    let extensions = try Certificate.Extensions {
      Critical(BasicConstraints.notCertificateAuthority)
      Critical(KeyUsage(digitalSignature: true))
      try ExtendedKeyUsage([.serverAuth, .clientAuth])
      SubjectAlternativeNames(names)
    }
    let certificate = try Certificate(
      version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: publicKey,
      notValidBefore: now.addingTimeInterval(-3600),
      notValidAfter: expiry, issuer: subject,
      subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
      issuerPrivateKey: Certificate.PrivateKey(key))
    return TransportCertificate(
      certificatePEM: try certificate.serializeAsPEM().pemString,
      privateKeyPEM: key.pemRepresentation)
  }

  /// What a binding signs.
  static func bound(network: Hash256, expiry: Date, publicKey: Certificate.PublicKey) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    w.u64(UInt64(max(0, expiry.timeIntervalSince1970)))
    w.bytes(publicKey.subjectPublicKeyInfoBytes)
    return w.bytes
  }

  /// The ledger key that vouches for `certificate`'s public key in `network`, after checking
  /// the binding's signature and the certificate's own (self-)signature and dates at `now`.
  public static func vouchingKey(
    of certificate: Certificate, network: Hash256, at now: Date = Date()
  ) throws(TransportIdentityError) -> PublicKey {
    guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
      throw .expired(subject: "\(certificate.subject)")
    }
    guard certificate.publicKey.isValidSignature(certificate.signature, for: certificate) else {
      throw .badSelfSignature(subject: "\(certificate.subject)")
    }
    let uris: [String]
    do {
      let names = try certificate.extensions.subjectAlternativeNames.map(Array.init) ?? []
      uris = names.compactMap { (name: GeneralName) -> String? in
        if case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix(bindingScheme) {
          return uri
        }
        return nil
      }
    } catch {
      throw .malformedBinding(subject: "\(certificate.subject)")
    }
    guard uris.count <= 1 else { throw .malformedBinding(subject: "\(certificate.subject)") }
    guard let uri = uris.first else { throw .noBinding(subject: "\(certificate.subject)") }
    guard let binding = Binding(uri: uri) else {
      throw .malformedBinding(subject: "\(certificate.subject)")
    }
    guard
      binding.ledgerKey.verifies(
        binding.signature,
        over: bound(
          network: network, expiry: certificate.notValidAfter, publicKey: certificate.publicKey),
        for: .transportKey)
    else { throw .forgedBinding(subject: "\(certificate.subject)", key: binding.ledgerKey) }
    return binding.ledgerKey
  }

  /// Reads a DER certificate (as TLS presents it) and returns its vouching key.
  public static func vouchingKey(ofDER der: [UInt8], network: Hash256, at now: Date = Date())
    throws(TransportIdentityError) -> PublicKey
  {
    let certificate: Certificate
    do {
      certificate = try Certificate(derEncoded: der)
    } catch {
      throw .unreadable("\(error)")
    }
    return try vouchingKey(of: certificate, network: network, at: now)
  }

  /// The ledger key and its signature over the certificate's SubjectPublicKeyInfo.
  struct Binding {
    var ledgerKey: PublicKey
    var signature: Signature

    var uri: String { bindingScheme + ledgerKey.hex + ":" + Hex.encode(signature.bytes) }

    init(ledgerKey: PublicKey, signature: Signature) {
      self.ledgerKey = ledgerKey
      self.signature = signature
    }

    init?(uri: String) {
      let parts = uri.dropFirst(bindingScheme.count).split(
        separator: ":", omittingEmptySubsequences: false)
      guard parts.count == 2, let keyBytes = Hex.decode(String(parts[0])),
        let signatureBytes = Hex.decode(String(parts[1])),
        let key = PublicKey(bytes: keyBytes), let signature = Signature(bytes: signatureBytes)
      else { return nil }
      ledgerKey = key
      self.signature = signature
    }
  }
}

/// Four bytes of a dotted IPv4 address, or nil.
private func ipv4Bytes(_ text: String) -> [UInt8]? {
  let parts = text.split(separator: ".", omittingEmptySubsequences: false)
  guard parts.count == 4 else { return nil }
  let bytes = parts.compactMap { UInt8($0) }
  return bytes.count == 4 ? bytes : nil
}

/// Why a peer's certificate does not identify it.
public enum TransportIdentityError: Error, Sendable, Equatable, CustomStringConvertible {
  case unreadable(String)
  case expired(subject: String)
  case badSelfSignature(subject: String)
  case noBinding(subject: String)
  case malformedBinding(subject: String)
  case forgedBinding(subject: String, key: PublicKey)
  /// The binding is sound, but the key is not one this peer may be.
  case unknownKey(subject: String, key: PublicKey, expected: String)

  public var description: String {
    switch self {
    case .unreadable(let why): "the certificate cannot be read: \(why)"
    case .expired(let s): "the certificate of \(s) is not valid now"
    case .badSelfSignature(let s): "the certificate of \(s) is not signed by its own key"
    case .noBinding(let s): "the certificate of \(s) carries no FedLedger key binding"
    case .malformedBinding(let s): "the certificate of \(s) carries a malformed key binding"
    case .forgedBinding(let s, let key):
      "the certificate of \(s) claims ledger key \(key.short), whose signature does not verify"
    case .unknownKey(let s, let key, let expected):
      "the certificate of \(s) is vouched for by key \(key.short), which is not \(expected)"
    }
  }
}
