import Canonical
import Crypto
import Foundation
import X509

/// Which enclaves a network admits: simulated platforms it trusts, SGX machines (by PPID) it
/// lists, measurements (MRENCLAVE on SGX) it allows, and for SGX the TCB statuses it accepts and
/// the root CA it pins; and the ledger's node keys and block quorum, which prove to an enclave
/// what the ledger holds (the updates a round closed with).
///
/// A network's policy follows from its genesis (`Genesis.enclavePolicy`) but not from the
/// enclaves' own keys, so enclaves can start, and their keys be written into genesis, before
/// the network exists. An enclave is started under a policy its host hands it, and every
/// piece of evidence it makes binds that policy's `digest` in REPORTDATA. A verifier expects
/// the digest of its own policy, so an enclave a host started under any other policy (another
/// root, more platforms, laxer TCB statuses) is refused by every peer enclave, cluster and
/// ledger node: it can neither receive the group key nor hand it on, and its endorsements
/// count for nothing.
public struct EnclavePolicy: CanonicalCodable, Equatable, Sendable {
  public static let defaultTCBStatuses: Set<String> = ["UpToDate", "SWHardeningNeeded"]

  public var trustedPlatforms: Set<[UInt8]>
  /// PPIDs of the SGX machines whose enclaves are admitted; a genuine enclave on any other
  /// machine (one its owner can attack at leisure) is refused.
  public var sgxPlatforms: Set<[UInt8]>
  public var measurements: Set<[UInt8]>
  /// Platform TCB statuses an SGX enclave may have (from Intel's TCB info).
  public var acceptedTCBStatuses: Set<String>
  /// The DER root CA SGX evidence must chain to; nil pins Intel's SGX Root CA. Any other root
  /// is for tests on machines without SGX.
  public var sgxRoot: [UInt8]?
  /// Ed25519 keys of the ledger nodes, and how many of them must sign a block.
  public var ledgerNodes: Set<[UInt8]>
  public var blockQuorum: UInt32

  public init(
    trustedPlatforms: Set<[UInt8]>, sgxPlatforms: Set<[UInt8]> = [], measurements: Set<[UInt8]>,
    acceptedTCBStatuses: Set<String> = EnclavePolicy.defaultTCBStatuses, sgxRoot: [UInt8]? = nil,
    ledgerNodes: Set<[UInt8]> = [], blockQuorum: UInt32 = 1
  ) {
    self.ledgerNodes = ledgerNodes
    self.blockQuorum = blockQuorum
    self.trustedPlatforms = trustedPlatforms
    self.sgxPlatforms = sgxPlatforms
    self.measurements = measurements
    self.acceptedTCBStatuses = acceptedTCBStatuses
    self.sgxRoot = sgxRoot
  }

  /// SHA-256 of the canonical policy: what REPORTDATA binds.
  public var digest: [UInt8] {
    var h = SHA256()
    h.update(data: Array("fedledger/enclave-policy/v2".utf8) + [0])
    h.update(data: canonicalBytes)
    return Array(h.finalize())
  }

  public func encode(to w: inout CanonicalWriter) {
    w.list(trustedPlatforms.sorted { $0.lexicographicallyPrecedes($1) }) { $0.fixed($1) }
    w.list(sgxPlatforms.sorted { $0.lexicographicallyPrecedes($1) }) { $0.fixed($1) }
    w.list(measurements.sorted { $0.lexicographicallyPrecedes($1) }) { $0.fixed($1) }
    w.list(acceptedTCBStatuses.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
      $0.string($1)
    }
    w.optional(sgxRoot) { $0.bytes($1) }
    w.list(ledgerNodes.sorted { $0.lexicographicallyPrecedes($1) }) { $0.fixed($1) }
    w.u32(blockQuorum)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    trustedPlatforms = Set(
      try r.list("policy platforms", limit: 1024) { r throws(CanonicalDecodingError) in
        try r.fixed(32, "policy platform")
      })
    sgxPlatforms = Set(
      try r.list("policy SGX platforms", limit: 1024) { r throws(CanonicalDecodingError) in
        try r.fixed(16, "policy SGX platform")
      })
    measurements = Set(
      try r.list("policy measurements", limit: 1024) { r throws(CanonicalDecodingError) in
        try r.fixed(32, "policy measurement")
      })
    acceptedTCBStatuses = Set(
      try r.list("policy TCB statuses", limit: 16) { r throws(CanonicalDecodingError) in
        try r.string("policy TCB status", limit: 64)
      })
    sgxRoot = try r.optional("policy SGX root") { r throws(CanonicalDecodingError) in
      try r.bytes("policy SGX root", limit: 16 << 10)
    }
    ledgerNodes = Set(
      try r.list("policy ledger nodes", limit: 4096) { r throws(CanonicalDecodingError) in
        try r.fixed(32, "policy ledger node")
      })
    blockQuorum = try r.u32("policy block quorum")
  }

  /// Checks what of `collateral` stands without a quote under this policy's root; returns the
  /// newest time signed into it (see `DCAPVerifier.checkCollateral`).
  public func checkCollateral(_ collateral: Collateral, at time: Date) throws(QuoteError) -> Date {
    try dcapVerifier(reportData: []).checkCollateralWaiting(collateral, at: time)
  }

  /// The DCAP verifier this policy describes for evidence whose REPORTDATA must be `reportData`.
  func dcapVerifier(reportData: [UInt8]) throws(QuoteError) -> DCAPVerifier {
    var p = AttestationPolicy()
    p.mrEnclaves = measurements
    p.allowDebug = false
    // Production enclaves, as deploy/gramine launches them: no provisioning key, no KSS, XFRM
    // within the default mask (the network's policy carries no CONFIGID or ISVSVN floor).
    p.allowProvisionKey = false
    p.allowKSS = false
    p.allowedXFRM = AttestationPolicy.defaultAllowedXFRM
    p.acceptedTCBStatuses = acceptedTCBStatuses
    p.reportDataPrefix = reportData
    guard let sgxRoot else { return DCAPVerifier(policy: p) }
    guard let root = try? Certificate(derEncoded: sgxRoot) else {
      throw .policy("the policy's SGX root CA does not parse")
    }
    return DCAPVerifier(policy: p, root: root)
  }
}

/// What vouches for an enclave's measurement and REPORTDATA.
public enum EnclaveReport: CanonicalCodable, Equatable, Sendable {
  /// Signed by a simulated platform key: NO HARDWARE PROTECTION.
  case simulated(SimulatedReport)
  /// An Intel SGX DCAP quote (version 3 or 4), verified against collateral.
  case sgx(quote: [UInt8])

  /// "simulated" or "sgx".
  public var backend: String {
    switch self {
    case .simulated: "simulated"
    case .sgx: "sgx"
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    switch self {
    case .simulated(let report):
      w.u8(1)
      report.encode(to: &w)
    case .sgx(let quote):
      w.u8(2)
      w.bytes(quote)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let tag = try r.u8("enclave report kind")
    switch tag {
    case 1: self = .simulated(try SimulatedReport(from: &r))
    case 2: self = .sgx(quote: try r.bytes("SGX quote", limit: 64 << 10))
    default: throw .unknownKind(field: "enclave report kind", tag: Int(tag))
    }
  }
}

/// An enclave's public keys and a report that binds them to its measurement and to a
/// verifier's nonce.
public struct EnclaveEvidence: CanonicalCodable, Equatable, Sendable {
  /// Ed25519: signs aggregation statements.
  public var signingKey: [UInt8]
  /// X25519: receives the group key.
  public var encryptionKey: [UInt8]
  /// X25519: the public half of the group key clusters encrypt updates to, once the enclave
  /// holds it.
  public var groupKey: [UInt8]?
  public var report: EnclaveReport

  /// REPORTDATA: SHA-256 of a label, both keys, the digest of the policy the enclave runs
  /// under and the nonce; then 32 zero bytes (the layout SGX quotes use, so the same check
  /// serves both).
  public static func reportData(
    signingKey: [UInt8], encryptionKey: [UInt8], groupKey: [UInt8]?, policy: [UInt8],
    nonce: [UInt8]
  ) -> [UInt8] {
    var h = SHA256()
    h.update(data: Array("fedledger/enclave-keys/v3".utf8) + [0])
    h.update(data: signingKey)
    h.update(data: encryptionKey)
    // One byte says whether a group key follows, so no two layouts hash alike.
    h.update(data: groupKey.map { [1] + $0 } ?? [0])
    h.update(data: policy)
    h.update(data: nonce)
    return Array(h.finalize()) + [UInt8](repeating: 0, count: 32)
  }

  /// The nonce of evidence recorded on a ledger (in endorsements): it names the network, so
  /// evidence made for one network is refused by every other.
  public static func ledgerNonce(network: [UInt8]) -> [UInt8] {
    var h = SHA256()
    h.update(data: Array("fedledger/ledger-evidence/v1".utf8) + [0])
    h.update(data: network)
    return Array(h.finalize())
  }

  /// Checks the evidence for `nonce` under `policy`, which the enclave must have run under
  /// too; returns the measurement.
  ///
  /// SGX evidence needs `collateral` (Intel's CRLs, TCB info and QE identity, whose signatures
  /// are checked here) and is judged at `time`.
  @discardableResult
  public func verify(
    nonce: [UInt8], policy: EnclavePolicy, collateral: Collateral? = nil, at time: Date = Date()
  ) throws(QuoteError) -> [UInt8] {
    let expected = Self.reportData(
      signingKey: signingKey, encryptionKey: encryptionKey, groupKey: groupKey,
      policy: policy.digest, nonce: nonce)
    switch report {
    case .simulated(let report):
      return try report.verify(
        trustedPlatforms: policy.trustedPlatforms, measurements: policy.measurements,
        reportData: expected)
    case .sgx(let bytes):
      let quote = try SGXQuote(bytes)
      guard let collateral else {
        throw .collateral("SGX evidence cannot be checked without DCAP collateral")
      }
      let verdict = try policy.dcapVerifier(reportData: expected)
        .verifyWaiting(quote, collateral: collateral, at: time)
      guard policy.sgxPlatforms.contains(verdict.ppid) else {
        throw .policy(
          "the quote is from SGX platform PPID \(Hex.encode(verdict.ppid)), which the network does not list"
        )
      }
      return verdict.identity.mrEnclave
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.fixed(signingKey)
    w.fixed(encryptionKey)
    w.optional(groupKey) { $0.fixed($1) }
    report.encode(to: &w)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    signingKey = try r.fixed(32, "evidence signing key")
    encryptionKey = try r.fixed(32, "evidence encryption key")
    groupKey = try r.optional("evidence group key") { r throws(CanonicalDecodingError) in
      try r.fixed(32, "evidence group key")
    }
    report = try EnclaveReport(from: &r)
  }

  public init(
    signingKey: [UInt8], encryptionKey: [UInt8], groupKey: [UInt8]?, report: EnclaveReport
  ) {
    self.signingKey = signingKey
    self.encryptionKey = encryptionKey
    self.groupKey = groupKey
    self.report = report
  }
}

/// SGX evidence as a ledger records it: the enclave's evidence and the collateral that checks
/// it, so that anyone holding the genesis file can check it again, offline.
public struct CollateralizedEvidence: CanonicalCodable, Equatable, Sendable {
  public var evidence: EnclaveEvidence
  public var collateral: Collateral

  public init(evidence: EnclaveEvidence, collateral: Collateral) {
    self.evidence = evidence
    self.collateral = collateral
  }

  public func encode(to w: inout CanonicalWriter) {
    evidence.encode(to: &w)
    collateral.encode(to: &w)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    evidence = try EnclaveEvidence(from: &r)
    collateral = try Collateral(from: &r)
  }
}
