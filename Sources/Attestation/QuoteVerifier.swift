import Crypto
import Foundation
@_spi(FixedExpiryValidationTime) import X509

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
    let (identity, chain) = try await verifyWithChain(quote, at: time)
    return (identity, chain[0])
  }

  /// As `verify`, returning the validated chain: PCK certificate, its CA(s), the root.
  func verifyWithChain(_ quote: SGXQuote, at time: Date) async throws(QuoteError) -> (
    EnclaveIdentity, [Certificate]
  ) {
    // Intel's quoting enclave; DCAP collateral describes no other.
    let intelQE: [UInt8] = [
      0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06,
      0x07,
    ]
    guard quote.qeVendorID == intelQE else {
      throw .unsupported("QE vendor \(hex(quote.qeVendorID)) (only Intel's)")
    }
    let chain = try await validatedChain(
      try Self.certificates(in: quote.certificationPEM), what: "the PCK certificate", at: time)
    let pck = chain[0]
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
      chain
    )
  }

  /// The chain from `certificates[0]` to the pinned root that the verifier built and checked
  /// at `time` (leaf first, root last). Only this chain is trusted afterwards: other
  /// certificates in the list may be anything.
  func validatedChain(_ certificates: [Certificate], what: String, at time: Date)
    async throws(QuoteError) -> [Certificate]
  {
    guard let leaf = certificates.first else { throw .certificate("\(what) is missing") }
    var verifier = Verifier(rootCertificates: CertificateStore([root])) {
      RFC5280Policy(fixedExpiryValidationTime: time)
    }
    let result = await verifier.validate(
      leaf: leaf, intermediates: CertificateStore(Array(certificates.dropFirst())))
    switch result {
    case .validCertificate(let chain): return Array(chain)
    case .couldNotValidate(let failures):
      let reasons = failures.map { "\($0.policyFailureReason)" }
      throw .certificate(
        "\(what) does not chain to \(rootName) at \(time)"
          + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: "; ")))
    }
  }

  /// "Intel's SGX root" when pinned, else the pinned root's subject (a test network's).
  var rootName: String {
    root == IntelSGXRoot.certificate ? "Intel's SGX root" : "the pinned SGX root \(root.subject)"
  }

  package static func certificates(in pem: String) throws(QuoteError) -> [Certificate] {
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
