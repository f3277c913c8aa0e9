import Canonical

/// Who an enclave is, as it reports after starting or changing state.
public struct EnclaveInfo: CanonicalCodable, Equatable {
  public var backend: EnclaveBackend
  public var measurement: [UInt8]
  public var signingKey: [UInt8]
  public var groupKey: [UInt8]?
  public var lastEndorsedRound: UInt64

  public init(
    backend: EnclaveBackend, measurement: [UInt8], signingKey: [UInt8], groupKey: [UInt8]?,
    lastEndorsedRound: UInt64
  ) {
    self.backend = backend
    self.measurement = measurement
    self.signingKey = signingKey
    self.groupKey = groupKey
    self.lastEndorsedRound = lastEndorsedRound
  }

  public func encode(to w: inout CanonicalWriter) {
    w.string(backend.rawValue)
    w.fixed(measurement)
    w.fixed(signingKey)
    w.optional(groupKey) { $0.fixed($1) }
    w.u64(lastEndorsedRound)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let name = try r.string("info backend")
    guard let backend = EnclaveBackend(rawValue: name) else {
      throw .invalid(field: "info backend", problem: "is unknown: \"\(name)\"")
    }
    self.backend = backend
    measurement = try r.fixed(32, "info measurement")
    signingKey = try r.fixed(32, "info signing key")
    groupKey = try r.optional("info group key") { r throws(CanonicalDecodingError) in
      try r.fixed(32, "info group key")
    }
    lastEndorsedRound = try r.u64("info last endorsed round")
  }
}
