import Canonical
import Crypto

/// Which enclaves a network admits: simulated platforms it trusts and measurements it allows.
public struct EnclavePolicy: CanonicalCodable, Equatable {
  public var trustedPlatforms: Set<[UInt8]>
  public var measurements: Set<[UInt8]>

  public init(trustedPlatforms: Set<[UInt8]>, measurements: Set<[UInt8]>) {
    self.trustedPlatforms = trustedPlatforms
    self.measurements = measurements
  }

  public func encode(to w: inout CanonicalWriter) {
    w.list(trustedPlatforms.sorted { $0.lexicographicallyPrecedes($1) }) { $0.fixed($1) }
    w.list(measurements.sorted { $0.lexicographicallyPrecedes($1) }) { $0.fixed($1) }
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    trustedPlatforms = Set(
      try r.list("policy platforms", limit: 1024) { r throws(DecodingError) in
        try r.fixed(32, "policy platform")
      })
    measurements = Set(
      try r.list("policy measurements", limit: 1024) { r throws(DecodingError) in
        try r.fixed(32, "policy measurement")
      })
  }
}

/// An enclave's public keys and a report that binds them to its measurement and to a
/// verifier's nonce.
public struct EnclaveEvidence: CanonicalCodable, Equatable {
  /// Ed25519: signs aggregation statements.
  public var signingKey: [UInt8]
  /// X25519: receives the group key.
  public var encryptionKey: [UInt8]
  /// X25519: the public half of the group key clusters encrypt updates to, once the enclave
  /// holds it.
  public var groupKey: [UInt8]?
  public var report: SimulatedReport

  /// REPORTDATA: SHA-256 of a label, both keys and the nonce, then 32 zero bytes (the layout
  /// SGX quotes use, so the same check serves both).
  public static func reportData(
    signingKey: [UInt8], encryptionKey: [UInt8], groupKey: [UInt8]?, nonce: [UInt8]
  ) -> [UInt8] {
    var h = SHA256()
    h.update(data: Array("fedledger/enclave-keys/v2".utf8) + [0])
    h.update(data: signingKey)
    h.update(data: encryptionKey)
    // One byte says whether a group key follows, so no two layouts hash alike.
    h.update(data: groupKey.map { [1] + $0 } ?? [0])
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

  /// Checks the evidence for `nonce` under `policy`; returns the measurement.
  @discardableResult
  public func verify(nonce: [UInt8], policy: EnclavePolicy) throws(QuoteError) -> [UInt8] {
    try report.verify(
      trustedPlatforms: policy.trustedPlatforms, measurements: policy.measurements,
      reportData: Self.reportData(
        signingKey: signingKey, encryptionKey: encryptionKey, groupKey: groupKey, nonce: nonce))
  }

  public func encode(to w: inout CanonicalWriter) {
    w.fixed(signingKey)
    w.fixed(encryptionKey)
    w.optional(groupKey) { $0.fixed($1) }
    report.encode(to: &w)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    signingKey = try r.fixed(32, "evidence signing key")
    encryptionKey = try r.fixed(32, "evidence encryption key")
    groupKey = try r.optional("evidence group key") { r throws(DecodingError) in
      try r.fixed(32, "evidence group key")
    }
    report = try SimulatedReport(from: &r)
  }

  public init(
    signingKey: [UInt8], encryptionKey: [UInt8], groupKey: [UInt8]?, report: SimulatedReport
  ) {
    self.signingKey = signingKey
    self.encryptionKey = encryptionKey
    self.groupKey = groupKey
    self.report = report
  }
}
