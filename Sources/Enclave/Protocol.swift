import Attestation
import Canonical
import Foundation
import Records

/// The enclave program's interface: one request, one response, each a length-prefixed frame.
///
/// A frame is a 4-byte big-endian length, then that many bytes: the protocol version, a kind
/// tag, and the body in the canonical encoding. The host may send only these requests; the
/// enclave answers each with the matching response or a failure that says why (and never what
/// a secret holds). docs/enclave.md documents every message.
public enum EnclaveProtocol {
  public static let version: UInt8 = 4
  /// The largest frame either side accepts (a round of 100 LeNet-5 updates is about 25 MB).
  public static let maximumFrame = 1 << 30
}

/// What the host asks of its enclave.
public enum EnclaveRequest: CanonicalCodable, Equatable {
  /// Starts the enclave: from sealed state if given, else with fresh keys, under the network's
  /// attestation policy (fixed on first start and sealed with the state; every evidence the
  /// enclave makes binds it, so a host that gives another gets an enclave no one trusts).
  case start(sealed: [UInt8]?, policy: EnclavePolicy)
  /// The first enclave of a network makes the group key.
  case createGroupKey
  /// A fresh nonce for another enclave's evidence.
  case challenge
  /// Evidence binding this enclave's keys (and group key, once held) to `nonce`.
  case evidence(nonce: [UInt8])
  /// Checks a joining enclave's evidence (which must answer one of this enclave's
  /// challenges) and seals the group key to it, with evidence of its own for the joiner's
  /// challenge.
  case admit(joiner: EnclaveEvidence, joinerChallenge: [UInt8], network: [UInt8])
  /// Takes the group key from a grant, after checking the granter's evidence.
  case accept(grant: GroupKeyGrant, network: [UInt8])
  /// Opens, validates and aggregates a closed round's updates and signs the statement.
  case aggregate(AggregateRequest)
  /// The enclave's state, sealed to this platform and measurement.
  case seal
  /// Intel's DCAP collateral, with which the enclave checks SGX evidence from here on. Not
  /// trusted: its signatures are checked against the policy's root on arrival and at every
  /// use, and the newest time signed into it becomes a floor under the host's clock.
  case collateral(Collateral)
  /// The model of the round last aggregated, against the ledger's proof of its commit.
  case release(InclusionProof)

  var tag: UInt8 {
    switch self {
    case .start: 1
    case .createGroupKey: 2
    case .challenge: 3
    case .evidence: 4
    case .admit: 5
    case .accept: 6
    case .aggregate: 7
    case .seal: 8
    case .collateral: 9
    case .release: 10
    }
  }

  public var name: String {
    switch self {
    case .start: "start"
    case .createGroupKey: "create-group-key"
    case .challenge: "challenge"
    case .evidence: "evidence"
    case .admit: "admit"
    case .accept: "accept"
    case .aggregate: "aggregate"
    case .seal: "seal"
    case .collateral: "collateral"
    case .release: "release"
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(EnclaveProtocol.version)
    w.u8(tag)
    switch self {
    case .start(let sealed, let policy):
      w.optional(sealed) { $0.bytes($1) }
      policy.encode(to: &w)
    case .createGroupKey, .challenge, .seal: break
    case .evidence(let nonce): w.fixed(nonce)
    case .admit(let joiner, let challenge, let network):
      joiner.encode(to: &w)
      w.fixed(challenge)
      w.fixed(network)
    case .accept(let grant, let network):
      grant.encode(to: &w)
      w.fixed(network)
    case .aggregate(let request): request.encode(to: &w)
    case .collateral(let collateral): collateral.encode(to: &w)
    case .release(let proof): proof.encode(to: &w)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("request protocol version")
    guard v == EnclaveProtocol.version else {
      throw .unknownVersion(field: "request protocol version", version: Int(v))
    }
    let tag = try r.u8("request kind")
    switch tag {
    case 1:
      let sealed = try r.optional("start sealed state") { r throws(CanonicalDecodingError) in
        try r.bytes("start sealed state")
      }
      self = .start(sealed: sealed, policy: try EnclavePolicy(from: &r))
    case 2: self = .createGroupKey
    case 3: self = .challenge
    case 4: self = .evidence(nonce: try r.fixed(32, "evidence nonce"))
    case 5:
      self = .admit(
        joiner: try EnclaveEvidence(from: &r), joinerChallenge: try r.fixed(32, "joiner challenge"),
        network: try r.fixed(32, "admit network"))
    case 6:
      self = .accept(grant: try GroupKeyGrant(from: &r), network: try r.fixed(32, "accept network"))
    case 7: self = .aggregate(try AggregateRequest(from: &r))
    case 8: self = .seal
    case 9: self = .collateral(try Collateral(from: &r))
    case 10: self = .release(try InclusionProof(from: &r))
    default: throw .unknownKind(field: "request kind", tag: Int(tag))
    }
  }
}

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
  /// cohort. Every enclave answers the same; the host aborts the round.
  case tooFewUpdates(String)
  /// A committed model file.
  case model([UInt8])

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
    default: throw .unknownKind(field: "response kind", tag: Int(tag))
    }
  }
}

/// The enclave side of the protocol: decodes a request, runs it, encodes the response. The
/// `fedledger-enclave` program wraps it in a loop over stdin and stdout; `simulate` may call it
/// in process, through the same bytes.
public final class EnclaveService {
  public let measurement: [UInt8]
  let platform: any EnclavePlatform
  public private(set) var enclave: Enclave?
  /// `simulated` (NO HARDWARE PROTECTION) or `sgx`.
  public var backend: EnclaveBackend { platform.backend }

  public init(measurement: [UInt8], platform: any EnclavePlatform) {
    self.measurement = measurement
    self.platform = platform
  }

  /// Answers one request frame body with one response frame body.
  public func handle(_ body: [UInt8]) -> [UInt8] {
    let response: EnclaveResponse
    do {
      let request = try EnclaveRequest(canonical: body)
      response = try run(request)
    } catch EnclaveError.tooFewUpdates(let why) {
      response = .tooFewUpdates(why)
    } catch let error as EnclaveError {
      response = .failure("\(error)")
    } catch {
      response = .failure("malformed request: \(error)")
    }
    return response.canonicalBytes
  }

  func run(_ request: EnclaveRequest) throws(EnclaveError) -> EnclaveResponse {
    if case .start(let sealed, let policy) = request {
      guard enclave == nil else { throw .request("the enclave has already started") }
      let e =
        if let sealed {
          try Enclave(
            unsealing: sealed, measurement: measurement, platform: platform, policy: policy)
        } else {
          Enclave(measurement: measurement, platform: platform, policy: policy)
        }
      enclave = e
      return .info(info(e))
    }
    guard let e = enclave else { throw .request("\(request.name) before start") }
    switch request {
    case .start: fatalError("handled above")
    case .createGroupKey:
      try e.createGroupKey()
      return .info(info(e))
    case .challenge: return .nonce(e.challenge())
    case .evidence(let nonce): return .evidence(try e.evidence(nonce: nonce))
    case .admit(let joiner, let challenge, let network):
      return .grant(try e.admit(joiner, joinerChallenge: challenge, network: network))
    case .accept(let grant, let network):
      try e.accept(grant, network: network)
      return .info(info(e))
    case .aggregate(let request): return .aggregated(try e.aggregate(request))
    case .seal: return .sealed(try e.seal())
    case .collateral(let collateral):
      try e.supply(collateral)
      return .info(info(e))
    case .release(let proof): return .model(try e.release(proof))
    }
  }

  private func info(_ e: Enclave) -> EnclaveInfo {
    EnclaveInfo(
      backend: backend, measurement: measurement, signingKey: e.signingPublicKey,
      groupKey: e.groupPublicKey, lastEndorsedRound: e.lastEndorsedRound)
  }
}

/// Length-prefixed frames over file descriptors (pipes or a Unix socket).
public enum Frames {
  public enum Failure: Error, CustomStringConvertible {
    case closed
    case tooLarge(Int)
    case io(String)

    public var description: String {
      switch self {
      case .closed: "the other side closed the connection"
      case .tooLarge(let n):
        "a frame of \(n) bytes is larger than the limit of \(EnclaveProtocol.maximumFrame)"
      case .io(let why): why
      }
    }
  }

  /// Reads one frame; nil at a clean end of input (between frames).
  ///
  /// The declared length is the peer's word only, so the body is not allocated up front: its
  /// buffer grows as bytes arrive, never more than `readAhead` bytes past those received. A
  /// peer that declares 1 GiB and sends 4 bytes costs 1 MiB, not 1 GiB.
  public static func read(from fd: Int32) throws(Failure) -> [UInt8]? {
    var header = [UInt8](repeating: 0, count: 4)
    guard try readExactly(fd, &header, allowEnd: true) else { return nil }
    let n = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
    guard n <= EnclaveProtocol.maximumFrame else { throw .tooLarge(n) }
    // The body grows only as bytes arrive (array appends grow geometrically, so this stays
    // linear): a peer that declares a large frame and sends little costs one chunk.
    var body: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: min(n, readAhead))
    while body.count < n {
      let want = min(chunk.count, n - body.count)
      let got = chunk.withUnsafeMutableBytes { raw in Foundation.read(fd, raw.baseAddress!, want) }
      if got < 0 {
        if errno == EINTR { continue }
        throw .io("read failed: \(String(cString: strerror(errno)))")
      }
      if got == 0 { throw .closed }
      body.append(contentsOf: chunk[0..<got])
    }
    return body
  }

  /// How far a frame's buffer may grow past the bytes received so far.
  static let readAhead = 1 << 20

  public static func write(_ body: [UInt8], to fd: Int32) throws(Failure) {
    guard body.count <= EnclaveProtocol.maximumFrame else { throw .tooLarge(body.count) }
    let n = UInt32(body.count)
    var frame = [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
    frame += body
    var offset = 0
    while offset < frame.count {
      let written = frame.withUnsafeBytes { raw in
        Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
      }
      if written < 0 {
        if errno == EINTR { continue }
        throw .io("write failed: \(String(cString: strerror(errno)))")
      }
      offset += written
    }
  }

  private static func readExactly(_ fd: Int32, _ buffer: inout [UInt8], allowEnd: Bool)
    throws(Failure) -> Bool
  {
    var offset = 0
    while offset < buffer.count {
      let got = buffer.withUnsafeMutableBytes { raw in
        Foundation.read(fd, raw.baseAddress! + offset, raw.count - offset)
      }
      if got < 0 {
        if errno == EINTR { continue }
        throw .io("read failed: \(String(cString: strerror(errno)))")
      }
      if got == 0 {
        if offset == 0 && allowEnd { return false }
        throw .closed
      }
      offset += got
    }
    return true
  }
}
