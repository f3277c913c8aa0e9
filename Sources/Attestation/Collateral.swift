import Crypto
import X509

/// A collateral document as Intel signs it: the exact bytes of the inner JSON object and the
/// ECDSA P-256 signature (raw r||s) over them.
public struct SignedJSON: Sendable, Equatable {
  public var body: [UInt8]
  public var signature: [UInt8]

  public init(body: [UInt8], signature: [UInt8]) {
    self.body = body
    self.signature = signature
  }

  /// True when `key` (the signer's certificate key) signed the body.
  func isSigned(by certificate: Certificate) -> Bool {
    guard let key = P256.Signing.PublicKey(certificate.publicKey),
      let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature)
    else { return false }
    return key.isValidSignature(sig, for: body)
  }
}

/// Everything besides the quote that DCAP verification needs, as Intel's PCS serves it.
public struct Collateral: Sendable {
  public var rootCRL: CertificateRevocationList
  /// The CRL of the CA that issued PCK certificates (Processor or Platform CA).
  public var pckCRL: CertificateRevocationList
  public var tcbInfo: SignedJSON
  /// The TCB signing certificate, then (optionally) the root.
  public var tcbInfoIssuerChain: [Certificate]
  public var qeIdentity: SignedJSON
  public var qeIdentityIssuerChain: [Certificate]

  public init(
    rootCRL: CertificateRevocationList, pckCRL: CertificateRevocationList, tcbInfo: SignedJSON,
    tcbInfoIssuerChain: [Certificate], qeIdentity: SignedJSON, qeIdentityIssuerChain: [Certificate]
  ) {
    self.rootCRL = rootCRL
    self.pckCRL = pckCRL
    self.tcbInfo = tcbInfo
    self.tcbInfoIssuerChain = tcbInfoIssuerChain
    self.qeIdentity = qeIdentity
    self.qeIdentityIssuerChain = qeIdentityIssuerChain
  }
}

/// TCB info (version 3): the TCB levels Intel defines for one platform model (FMSPC).
struct TCBInfo: Decodable {
  struct Level: Decodable {
    struct TCB: Decodable {
      struct Component: Decodable { var svn: Int }
      var sgxtcbcomponents: [Component]
      var pcesvn: Int
    }
    var tcb: TCB
    var tcbDate: String
    var tcbStatus: String
    var advisoryIDs: [String]?
  }
  var id: String?
  var version: Int
  var tcbType: Int?
  var issueDate: String
  var nextUpdate: String
  var fmspc: String
  var pceId: String
  var tcbLevels: [Level]
}

/// QE identity (version 2): what a genuine quoting enclave looks like, and its TCB levels.
struct QEIdentity: Decodable {
  struct Level: Decodable {
    struct TCB: Decodable { var isvsvn: Int }
    var tcb: TCB
    var tcbStatus: String
    var advisoryIDs: [String]?
  }
  var id: String
  var version: Int
  var issueDate: String
  var nextUpdate: String
  var miscselect: String
  var miscselectMask: String
  var attributes: String
  var attributesMask: String
  var mrsigner: String
  var isvprodid: Int
  var tcbLevels: [Level]
}
