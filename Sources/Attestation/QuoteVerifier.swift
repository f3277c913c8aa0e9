import Crypto
import Foundation
import X509

/// What a verified quote says about the enclave that made it.
public struct EnclaveIdentity: Equatable, Sendable {
  public var mrEnclave: [UInt8]
  public var mrSigner: [UInt8]
  public var isvProdID: UInt16
  public var isvSVN: UInt16
  public var isDebug: Bool
  public var reportData: [UInt8]
}

/// The checks of a DCAP quote that need nothing but the quote and Intel's root: the PCK chain
/// to the pinned root at a given time, the QE report's signature by the PCK key, the binding of
/// the attestation key in the QE's REPORTDATA, and the quote's signature by that key.
///
/// Collateral (CRLs, TCB info, QE identity) and policy are further steps.
public struct QuoteVerifier: Sendable {
  public var root: Certificate

  public init(root: Certificate = IntelSGXRoot.certificate) { self.root = root }

  /// Verifies `quote` at `time` and returns the enclave's identity and the PCK certificate.
  public func verify(_ quote: SGXQuote, at time: Date) async throws(QuoteError) -> (
    identity: EnclaveIdentity, pck: Certificate
  ) {
    let pck = try await pckCertificate(quote, at: time)
    guard let pckKey = P256.Signing.PublicKey(pck.publicKey) else {
      throw .certificate("the PCK certificate's key is not ECDSA P-256")
    }
    guard
      let qeSignature = try? P256.Signing.ECDSASignature(
        rawRepresentation: quote.qeReportSignature),
      pckKey.isValidSignature(qeSignature, for: quote.qeReport.bytes)
    else { throw .signature("the QE report is not signed by the PCK key") }

    let expected = Array(SHA256.hash(data: quote.attestationKey + quote.qeAuthenticationData))
    guard Array(quote.qeReport.reportData.prefix(32)) == expected,
      quote.qeReport.reportData.suffix(32).allSatisfy({ $0 == 0 })
    else {
      throw .binding(
        "the QE report's REPORTDATA is not SHA-256(attestation key || QE authentication data)")
    }

    guard let attestationKey = try? P256.Signing.PublicKey(rawRepresentation: quote.attestationKey)
    else { throw .malformed("the attestation key is not a P-256 point") }
    guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: quote.signature),
      attestationKey.isValidSignature(signature, for: quote.signedBytes)
    else { throw .signature("the quote is not signed by its attestation key") }

    let r = quote.report
    return (
      EnclaveIdentity(
        mrEnclave: r.mrEnclave, mrSigner: r.mrSigner, isvProdID: r.isvProdID, isvSVN: r.isvSVN,
        isDebug: r.isDebug, reportData: r.reportData),
      pck
    )
  }

  /// The quote's PCK certificate, after checking its chain to the pinned root at `time`.
  func pckCertificate(_ quote: SGXQuote, at time: Date) async throws(QuoteError) -> Certificate {
    let certificates = try Self.certificates(in: quote.certificationPEM)
    guard let leaf = certificates.first else { throw .certificate("the quote carries none") }
    var verifier = Verifier(rootCertificates: CertificateStore([root])) {
      RFC5280Policy(validationTime: time)
    }
    let result = await verifier.validate(
      leaf: leaf, intermediates: CertificateStore(Array(certificates.dropFirst())))
    switch result {
    case .validCertificate: return leaf
    case .couldNotValidate(let failures):
      let reasons = failures.map { "\($0.policyFailureReason)" }
      throw .certificate(
        "the PCK certificate does not chain to Intel's SGX root at \(time)"
          + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")))
    }
  }

  static func certificates(in pem: String) throws(QuoteError) -> [Certificate] {
    let marker = "-----END CERTIFICATE-----"
    var out: [Certificate] = []
    for part in pem.components(separatedBy: marker)
    where part.contains("-----BEGIN CERTIFICATE-----") {
      do {
        out.append(
          try Certificate(
            pemEncoded: part.trimmingCharacters(in: .whitespacesAndNewlines) + "\n" + marker))
      } catch {
        throw .certificate("a certificate in the chain does not parse: \(error)")
      }
    }
    return out
  }
}
