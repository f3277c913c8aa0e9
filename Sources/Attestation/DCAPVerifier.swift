import Canonical
import Foundation
import X509

/// What a relying party accepts: which enclaves, which TCB statuses, and what their
/// REPORTDATA must bind.
public struct AttestationPolicy: Sendable, Equatable {
  /// Allowed MRENCLAVE values; empty allows any (then MRSIGNER should be pinned).
  public var mrEnclaves: Set<[UInt8]> = []
  /// Allowed MRSIGNER values; empty allows any.
  public var mrSigners: Set<[UInt8]> = []
  /// With both lists empty, no enclave is allowed unless this is set (for inspection only).
  public var allowAnyEnclave = false
  public var allowDebug = false
  /// Accept enclaves with the PROVISIONKEY attribute, which only Intel's provisioning and
  /// quoting enclaves need: with it an enclave can derive the platform's provisioning key.
  public var allowProvisionKey = false
  /// Accept enclaves launched with Key Separation and Sharing (the KSS attribute), whose keys
  /// then depend on CONFIGID, CONFIGSVN, ISVEXTPRODID and ISVFAMILYID as well.
  public var allowKSS = false
  /// The XFRM bits (XSAVE state components) an enclave may run with; any other is refused.
  public var allowedXFRM: UInt64 = AttestationPolicy.defaultAllowedXFRM
  /// If set, CONFIGID must equal these 64 bytes.
  public var configID: [UInt8]?
  /// If set, ISVSVN must be at least this.
  public var minimumISVSVN: UInt16?
  /// Platform TCB statuses accepted. SWHardeningNeeded means the platform is patched and only
  /// software mitigations remain the enclave's own business.
  public var acceptedTCBStatuses: Set<String> = ["UpToDate", "SWHardeningNeeded"]
  /// Accept a CRL past its next update (reported either way); never a revoked certificate.
  public var acceptStaleCRLs = false
  /// How far past its next update a stale CRL may be when stale CRLs are accepted.
  public var maxCRLStaleness: TimeInterval = 90 * 86_400
  /// If set, REPORTDATA must start with these bytes (a hash binding the enclave's keys and the
  /// verifier's nonce, for instance).
  public var reportDataPrefix: [UInt8]?

  public init() {}

  /// The default XFRM mask: x87 and SSE (bits 0, 1: the legacy state every enclave has), AVX
  /// (bit 2), AVX-512 (bits 5 to 7: opmask, ZMM_Hi256, Hi16_ZMM) and AMX (bits 17, 18: XTILECFG,
  /// XTILEDATA). Gramine's default manifests leave AVX, AVX-512 and AMX "unspecified", which
  /// enables each where the CPU has it, so genuine production enclaves carry these bits on
  /// recent Xeons (the real quotes in the tests: 0x07 and 0xe7). MPX (bits 3, 4), PKRU (bit 9)
  /// and every other component are refused.
  public static let defaultAllowedXFRM: UInt64 = 0b11 | 1 << 2 | 0b111 << 5 | 0b11 << 17

  /// Applies the policy to a verified report and the TCB statuses found for it.
  public func check(_ r: ReportBody, tcbStatus: String, qeTCBStatus: String) throws(QuoteError) {
    guard allowAnyEnclave || !mrEnclaves.isEmpty || !mrSigners.isEmpty else {
      throw .policy("no MRENCLAVE or MRSIGNER is allowed (the allow-lists are empty)")
    }
    guard mrEnclaves.isEmpty || mrEnclaves.contains(r.mrEnclave) else {
      throw .policy("MRENCLAVE \(hex(r.mrEnclave)) is not allowed")
    }
    guard mrSigners.isEmpty || mrSigners.contains(r.mrSigner) else {
      throw .policy("MRSIGNER \(hex(r.mrSigner)) is not allowed")
    }
    guard allowDebug || !r.isDebug else {
      throw .policy("the enclave runs in debug mode (its memory is readable by the host)")
    }
    guard allowProvisionKey || !r.hasProvisionKey else {
      throw .policy(
        "the enclave has the PROVISIONKEY attribute (it can derive the platform's provisioning key)"
      )
    }
    guard allowKSS || !r.hasKSS else {
      throw .policy("the enclave has the KSS attribute (Key Separation and Sharing is not allowed)")
    }
    guard r.xfrm & ~allowedXFRM == 0 else {
      throw .policy(
        "XFRM 0x\(String(r.xfrm, radix: 16)) has bits 0x\(String(r.xfrm & ~allowedXFRM, radix: 16)) "
          + "outside the allowed mask 0x\(String(allowedXFRM, radix: 16))")
    }
    if let configID, r.configID != configID {
      throw .policy("CONFIGID \(hex(r.configID)) is not the required \(hex(configID))")
    }
    if let minimumISVSVN, r.isvSVN < minimumISVSVN {
      throw .policy("ISVSVN \(r.isvSVN) is below the minimum \(minimumISVSVN)")
    }
    guard acceptedTCBStatuses.contains(tcbStatus) else {
      throw .policy(
        "platform TCB status \(tcbStatus) is not accepted (accepted: \(acceptedTCBStatuses.sorted().joined(separator: ", ")))"
      )
    }
    guard qeTCBStatus == "UpToDate" || acceptedTCBStatuses.contains(qeTCBStatus) else {
      throw .policy("quoting enclave TCB status \(qeTCBStatus) is not accepted")
    }
    if let prefix = reportDataPrefix, !r.reportData.starts(with: prefix) {
      throw .binding("REPORTDATA does not bind the expected value")
    }
  }
}

/// The outcome of a full DCAP verification.
public struct DCAPVerdict: Sendable, Equatable {
  public var identity: EnclaveIdentity
  /// The platform's TCB status from TCB info, and the advisories that apply.
  public var tcbStatus: String
  public var advisoryIDs: [String]
  /// The quoting enclave's TCB status from QE identity.
  public var qeTCBStatus: String
  public var fmspc: [UInt8]
  /// The platform's PPID, from its PCK certificate: which machine made the quote.
  public var ppid: [UInt8]
  /// Conditions the policy accepted but that a reader should know (a stale CRL, say).
  public var notes: [String]
}

/// Full DCAP quote verification: the quote's own signatures and PCK chain (`QuoteVerifier`),
/// the CRLs, TCB info and QE identity (each signed by Intel, chained to the pinned root and
/// current at the verification time), the platform's TCB level, the QE's identity, and policy.
public struct DCAPVerifier: Sendable {
  public var root: Certificate
  public var policy: AttestationPolicy

  public init(
    policy: AttestationPolicy = AttestationPolicy(), root: Certificate = IntelSGXRoot.certificate
  ) {
    self.policy = policy
    self.root = root
  }

  public func verify(_ quote: SGXQuote, collateral c: Collateral, at time: Date)
    async throws(QuoteError) -> DCAPVerdict
  {
    let base = QuoteVerifier(root: root)
    let (identity, chain) = try await base.verifyWithChain(quote, at: time)
    let pck = chain[0]
    var notes: [String] = []

    // CRLs: issued by the CAs of the validated chain, current (or accepted as stale), not
    // revoking any certificate of it.
    guard chain.count == 3 else {
      throw .certificate("the PCK chain has \(chain.count) certificates, not PCK, CA, root")
    }
    let pckCA = chain[1]
    guard c.rootCRL.issuer == root.subject, c.rootCRL.isSigned(by: root) else {
      throw .collateral(
        "the root CA CRL is not issued and signed by \(QuoteVerifier(root: root).rootName)")
    }
    guard c.pckCRL.issuer == pck.issuer, c.pckCRL.isSigned(by: pckCA) else {
      throw .collateral(
        "the PCK CRL is not issued and signed by the PCK certificate's CA, \(pckCA.subject)")
    }
    for (name, crl) in [("root CA CRL", c.rootCRL), ("PCK CRL", c.pckCRL)]
    where !crl.isCurrent(at: time) {
      let window = "\(crl.thisUpdate) to \(crl.nextUpdate.map { "\($0)" } ?? "open")"
      let staleness = crl.nextUpdate.map { time.timeIntervalSince($0) } ?? 0
      if crl.thisUpdate <= time && policy.acceptStaleCRLs && staleness <= policy.maxCRLStaleness {
        notes.append("stale \(name) (valid \(window)), accepted by policy")
      } else {
        throw crl.thisUpdate > time
          ? .collateral("the \(name) is not yet valid at \(time) (valid \(window))")
          : .staleCRL("the \(name) is stale at \(time) (valid \(window))")
      }
    }
    if c.pckCRL.revokes(pck) { throw .certificate("the PCK certificate is revoked") }
    if c.rootCRL.revokes(pckCA) {
      throw .certificate("\(pckCA.subject) is revoked by the root CA CRL")
    }

    let (tcbInfo, qeIdentity, _) = try await documents(c, at: time)

    // The platform: its PCK certificate's SGX extension against the TCB levels.
    let ext = try PCKExtension(certificate: pck)
    guard Hex.decode(tcbInfo.fmspc, uppercase: true) == ext.fmspc,
      Hex.decode(tcbInfo.pceId, uppercase: true) == ext.pceID
    else {
      throw .collateral(
        "TCB info is for FMSPC \(tcbInfo.fmspc), the PCK certificate's is \(hex(ext.fmspc))")
    }
    guard
      let level = tcbInfo.tcbLevels.first(where: { level in
        level.tcb.sgxtcbcomponents.count == 16
          && zip(ext.tcbComponentSVNs, level.tcb.sgxtcbcomponents).allSatisfy {
            Int($0) >= $1.svn
          } && Int(ext.pceSVN) >= level.tcb.pcesvn
      })
    else { throw .policy("the platform's TCB is below every level in TCB info") }

    // The quoting enclave: Intel's, at a known TCB level.
    let qe = quote.qeReport
    guard Hex.decode(qeIdentity.mrsigner, uppercase: true) == qe.mrSigner,
      qeIdentity.isvprodid == Int(qe.isvProdID),
      let misc = Hex.decode(qeIdentity.miscselect, uppercase: true),
      let miscMask = Hex.decode(qeIdentity.miscselectMask, uppercase: true),
      misc.count == 4, miscMask.count == 4,
      let attributes = Hex.decode(qeIdentity.attributes, uppercase: true),
      let attributesMask = Hex.decode(qeIdentity.attributesMask, uppercase: true),
      attributes.count == 16, attributesMask.count == 16
    else { throw .binding("the quoting enclave is not the one QE identity describes") }
    let qeMisc = withUnsafeBytes(of: qe.miscSelect.bigEndian) { Array($0) }
    let qeAttributes = Array(qe.bytes[48..<64])
    guard zip(zip(qeMisc, misc), miscMask).allSatisfy({ $0.0 & $1 == $0.1 & $1 }),
      zip(zip(qeAttributes, attributes), attributesMask).allSatisfy({ $0.0 & $1 == $0.1 & $1 })
    else {
      throw .binding("the quoting enclave's MISCSELECT or attributes differ from QE identity")
    }
    guard let qeLevel = qeIdentity.tcbLevels.first(where: { Int(qe.isvSVN) >= $0.tcb.isvsvn })
    else { throw .policy("the quoting enclave's ISVSVN \(qe.isvSVN) is below every QE TCB level") }

    try policy.check(quote.report, tcbStatus: level.tcbStatus, qeTCBStatus: qeLevel.tcbStatus)
    return DCAPVerdict(
      identity: identity, tcbStatus: level.tcbStatus, advisoryIDs: level.advisoryIDs ?? [],
      qeTCBStatus: qeLevel.tcbStatus, fmspc: ext.fmspc, ppid: ext.ppid,
      notes: notes)
  }

  /// Checks the parts of `collateral` that stand without a quote (the root CA CRL, TCB info
  /// and QE identity: signed under the root and current at `time`) and returns the newest
  /// time signed into them. No quote can be judged before that time, so an enclave keeps it as
  /// a floor under its host's clock.
  public func checkCollateral(_ c: Collateral, at time: Date) async throws(QuoteError) -> Date {
    guard c.rootCRL.issuer == root.subject, c.rootCRL.isSigned(by: root) else {
      throw .collateral(
        "the root CA CRL is not issued and signed by \(QuoteVerifier(root: root).rootName)")
    }
    guard c.rootCRL.isCurrent(at: time) else {
      throw .staleCRL(
        "the root CA CRL is not current at \(time) (valid \(c.rootCRL.thisUpdate) to \(c.rootCRL.nextUpdate.map { "\($0)" } ?? "open"))"
      )
    }
    let (_, _, issued) = try await documents(c, at: time)
    return max(issued, c.rootCRL.thisUpdate)
  }

  /// TCB info and QE identity: signed under the root, of the versions read here, current at
  /// `time`; with the later of their issue dates.
  private func documents(_ c: Collateral, at time: Date) async throws(QuoteError)
    -> (TCBInfo, QEIdentity, Date)
  {
    try await checkSigned(
      c.tcbInfo, chain: c.tcbInfoIssuerChain, rootCRL: c.rootCRL, what: "TCB info", at: time)
    try await checkSigned(
      c.qeIdentity, chain: c.qeIdentityIssuerChain, rootCRL: c.rootCRL, what: "QE identity",
      at: time)
    let tcbInfo: TCBInfo
    let qeIdentity: QEIdentity
    do {
      tcbInfo = try JSONDecoder().decode(TCBInfo.self, from: Data(c.tcbInfo.body))
      qeIdentity = try JSONDecoder().decode(QEIdentity.self, from: Data(c.qeIdentity.body))
    } catch {
      throw .collateral("TCB info or QE identity does not parse: \(error)")
    }
    guard tcbInfo.id == "SGX", tcbInfo.version == 3, tcbInfo.tcbType == 0 else {
      throw .collateral(
        "TCB info is \(tcbInfo.id ?? "unnamed") version \(tcbInfo.version) type \(tcbInfo.tcbType ?? -1); only SGX version 3 type 0 is read"
      )
    }
    guard qeIdentity.id == "QE", qeIdentity.version == 2 else {
      throw .collateral(
        "QE identity is \(qeIdentity.id) version \(qeIdentity.version); only QE version 2 is read")
    }
    let tcbIssued = try current(
      tcbInfo.issueDate, tcbInfo.nextUpdate, what: "TCB info", at: time)
    let qeIssued = try current(
      qeIdentity.issueDate, qeIdentity.nextUpdate, what: "QE identity", at: time)
    return (tcbInfo, qeIdentity, max(tcbIssued, qeIssued))
  }

  /// Intel's TCB signing certificate: issued directly by the root, not a CA, not revoked.
  static let tcbSigner = "Intel SGX TCB Signing"

  private func checkSigned(
    _ document: SignedJSON, chain: [Certificate], rootCRL: CertificateRevocationList,
    what: String, at time: Date
  ) async throws(QuoteError) {
    let validated = try await QuoteVerifier(root: root).validatedChain(
      chain, what: "\(what)'s signing certificate", at: time)
    let signer = validated[0]
    guard validated.count == 2, "\(signer.subject)".contains("CN=\(Self.tcbSigner)"),
      (try? signer.extensions.basicConstraints) ?? .notCertificateAuthority
        == .notCertificateAuthority
    else {
      throw .collateral(
        "\(what) is signed by \(signer.subject), not by a TCB signing certificate under the root"
      )
    }
    if rootCRL.revokes(signer) { throw .certificate("\(what)'s signing certificate is revoked") }
    guard document.isSigned(by: signer) else {
      throw .collateral("\(what) is not signed by its signing certificate")
    }
  }

  /// Throws unless `time` is between the issue date and the next update; returns the issue
  /// date.
  @discardableResult
  private func current(_ issue: String, _ next: String, what: String, at time: Date)
    throws(QuoteError) -> Date
  {
    let f = ISO8601DateFormatter()
    guard let from = f.date(from: issue), let to = f.date(from: next) else {
      throw .collateral("\(what) has unreadable dates")
    }
    if time < from { throw .collateral("\(what) is not yet valid at \(time) (issued \(issue))") }
    if time > to { throw .collateral("\(what) expired at \(next), before \(time)") }
    return from
  }
}

func hex(_ b: [UInt8]) -> String { Hex.encode(b) }
