import Attestation
import Canonical

/// What the enclave answers.
public enum EnclaveResponse: CanonicalCodable, Equatable {
  case failure(String)
  case info(EnclaveInfo)
  case nonce([UInt8])
  case evidence(EnclaveEvidence)
  case grant(GroupKeyGrant)
  case aggregated(AggregateResponse)
  case sealed([UInt8])
  /// The round as the ledger closed it cannot commit: too few updates passed for its minimum
  /// cohort (or, for an evaluation, too few reports for a metric). Every enclave answers the
  /// same; the host aborts the round, or records no metric.
  case tooFewUpdates(String)
  /// A committed model file.
  case model([UInt8])
  /// The signed metric endorsement of an evaluation (its canonical bytes, in `endorsement`).
  case combined(AggregateResponse)

  public func encode(to w: inout CanonicalWriter) {
    w.u8(EnclaveProtocol.version)
    switch self {
    case .failure(let why):
      w.u8(0)
      w.string(String(decoding: why.utf8.prefix(EncodingLimits.string - 8), as: UTF8.self))
    case .info(let info):
      w.u8(1)
      info.encode(to: &w)
    case .nonce(let n):
      w.u8(2)
      w.fixed(n)
    case .evidence(let e):
      w.u8(3)
      e.encode(to: &w)
    case .grant(let g):
      w.u8(4)
      g.encode(to: &w)
    case .aggregated(let a):
      w.u8(5)
      a.encode(to: &w)
    case .sealed(let s):
      w.u8(6)
      w.bytes(s)
    case .tooFewUpdates(let why):
      w.u8(7)
      w.string(String(decoding: why.utf8.prefix(EncodingLimits.string - 8), as: UTF8.self))
    case .model(let file):
      w.u8(8)
      w.bytes(file)
    case .combined(let a):
      w.u8(9)
      a.encode(to: &w)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("response protocol version")
    guard v == EnclaveProtocol.version else {
      throw .unknownVersion(field: "response protocol version", version: Int(v))
    }
    let tag = try r.u8("response kind")
    switch tag {
    case 0: self = .failure(try r.string("failure reason"))
    case 1: self = .info(try EnclaveInfo(from: &r))
    case 2: self = .nonce(try r.fixed(32, "nonce"))
    case 3: self = .evidence(try EnclaveEvidence(from: &r))
    case 4: self = .grant(try GroupKeyGrant(from: &r))
    case 5: self = .aggregated(try AggregateResponse(from: &r))
    case 6: self = .sealed(try r.bytes("sealed state"))
    case 7: self = .tooFewUpdates(try r.string("too-few-updates reason"))
    case 8: self = .model(try r.bytes("model", limit: 1 << 30))
    case 9: self = .combined(try AggregateResponse(from: &r))
    default: throw .unknownKind(field: "response kind", tag: Int(tag))
    }
  }
}
