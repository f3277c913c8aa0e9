import Canonical

/// One named setting of a round's configuration, as text.
public struct Setting: Hashable, Sendable, Codable {
  public var key: String
  public var value: String
  public init(_ key: String, _ value: String) {
    self.key = key
    self.value = value
  }

  /// Canonical order: by the keys' UTF-8 bytes (not Unicode-aware string order).
  public static func precedes(_ a: Setting, _ b: Setting) -> Bool {
    a.key.utf8.lexicographicallyPrecedes(b.key.utf8)
  }
}

extension CanonicalWriter {
  /// Settings are written sorted by key, so one configuration has one encoding.
  public mutating func settings(_ s: [Setting]) {
    list(s.sorted(by: Setting.precedes)) { w, s in
      w.string(s.key)
      w.string(s.value)
    }
  }
}

extension CanonicalReader {
  public mutating func settings(_ field: String) throws(CanonicalDecodingError) -> [Setting] {
    let s = try list(field) { r throws(CanonicalDecodingError) in
      Setting(try r.string("\(field) key"), try r.string("\(field) value"))
    }
    for (a, b) in zip(s, s.dropFirst()) where !Setting.precedes(a, b) {
      throw .invalid(field: field, problem: "are not sorted by key or repeat \"\(b.key)\"")
    }
    return s
  }
}

/// What an endorser states it computed for a round. Endorsers sign its canonical bytes.
public struct AggregationStatement: CanonicalCodable, Equatable {
  public struct Accepted: Equatable, Sendable {
    public var update: Hash256
    /// "clipped" when it was scaled down to the norm bound, else empty. Weights and norms are
    /// not published: they would tell one cluster's sample count and update size.
    public var note: String
    public init(update: Hash256, note: String = "") {
      self.update = update
      self.note = note
    }
  }
  public struct Rejected: Equatable, Sendable {
    public var update: Hash256
    /// Why, in at most `maximumReason` bytes of UTF-8: a reason may quote what a cluster chose
    /// (its name), and a statement every reader refuses could commit no round.
    public let reason: String
    public static let maximumReason = 512

    /// Longer reasons are cut, at a character, and end in "…".
    public init(update: Hash256, reason: String) {
      self.update = update
      self.reason = Self.cut(reason)
    }

    /// `reason` in at most `maximumReason` bytes, cut at a character and ending in "…".
    package static func cut(_ reason: String) -> String {
      guard reason.utf8.count > maximumReason else { return reason }
      var kept = ""
      var bytes = 0
      for c in reason {
        bytes += c.utf8.count
        if bytes > maximumReason - 3 { break }
        kept.append(c)
      }
      return kept + "…"
    }

    /// A reason as a stored statement has it, unchanged, so that its bytes and hash are too.
    package init(update: Hash256, decoded reason: String) {
      self.update = update
      self.reason = reason
    }
  }

  /// Version 2 publishes no per-update weight.
  public static let version: UInt8 = 2
  public var round: UInt64
  public var baseModel: Hash256
  public var accepted: [Accepted]
  public var rejected: [Rejected]
  /// The aggregation rule and its parameters.
  public var rule: String
  public var parameters: [Setting]
  public var newModel: Hash256
  /// SHA-256 of the whole new model file and its size: what the model commit must name, so
  /// the commit is fully decided by what k endorsers signed.
  public var newModelBlob: Hash256
  public var newModelSize: UInt64

  public init(
    round: UInt64, baseModel: Hash256, accepted: [Accepted], rejected: [Rejected], rule: String,
    parameters: [Setting], newModel: Hash256, newModelBlob: Hash256, newModelSize: UInt64
  ) {
    self.round = round
    self.baseModel = baseModel
    self.accepted = accepted
    self.rejected = rejected
    self.rule = rule
    self.parameters = parameters.sorted(by: Setting.precedes)
    self.newModel = newModel
    self.newModelBlob = newModelBlob
    self.newModelSize = newModelSize
  }

  public var hash: Hash256 { Hash256.of(canonicalBytes) }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.u64(round)
    w.hash(baseModel)
    w.list(accepted) { w, a in
      w.hash(a.update)
      w.string(a.note)
    }
    w.list(rejected) { w, a in
      w.hash(a.update)
      w.string(a.reason)
    }
    w.string(rule)
    w.settings(parameters)
    w.hash(newModel)
    w.hash(newModelBlob)
    w.u64(newModelSize)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("statement version")
    guard v == Self.version else {
      throw .unknownVersion(field: "statement version", version: Int(v))
    }
    round = try r.u64("statement round")
    baseModel = try r.hash("statement base model")
    accepted = try r.list("statement accepted updates") { r throws(CanonicalDecodingError) in
      Accepted(update: try r.hash("accepted update"), note: try r.string("accepted note"))
    }
    rejected = try r.list("statement rejected updates") { r throws(CanonicalDecodingError) in
      Rejected(update: try r.hash("rejected update"), decoded: try r.string("rejected reason"))
    }
    rule = try r.string("statement rule")
    parameters = try r.settings("statement parameters")
    newModel = try r.hash("statement new model")
    newModelBlob = try r.hash("statement new model blob")
    newModelSize = try r.u64("statement new model size")
  }
}

/// What an endorsement's key rests on. Node keys listed in genesis need nothing more; enclave
/// keys carry attestation evidence (simulated or SGX DCAP) in the same field.
public struct Evidence: CanonicalCodable, Equatable {
  public enum Kind: UInt8, Sendable, Codable {
    /// A key genesis lists directly.
    case genesisKey = 0
    /// A simulated enclave's signed report (NO HARDWARE PROTECTION).
    case simulatedEnclave = 1
    /// An Intel SGX DCAP quote.
    case sgxDCAP = 2
  }
  public var kind: Kind
  public var bytes: [UInt8]

  public init(kind: Kind, bytes: [UInt8] = []) {
    self.kind = kind
    self.bytes = bytes
  }

  public static let genesisKey = Evidence(kind: .genesisKey)

  public func encode(to w: inout CanonicalWriter) {
    w.u8(kind.rawValue)
    w.bytes(bytes)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let tag = try r.u8("evidence kind")
    guard let k = Kind(rawValue: tag) else {
      throw .unknownKind(field: "evidence kind", tag: Int(tag))
    }
    kind = k
    bytes = try r.bytes("evidence")
    if k == .genesisKey && !bytes.isEmpty {
      throw .invalid(field: "evidence", problem: "of kind genesis-key must be empty")
    }
  }
}

/// A statement endorsers sign: an aggregation statement (the model of a round) or a metric
/// statement (what the model's evaluation reports combine to).
public protocol EndorsableStatement: CanonicalCodable, Equatable, Sendable {
  /// What endorsers' signatures over it are for: no signature for one kind verifies as another.
  static var purpose: SigningPurpose { get }
  /// The kind of ledger transaction an endorsement of it travels as.
  static var endorsementKind: TransactionKind { get }
  var round: UInt64 { get }
  var hash: Hash256 { get }
}

extension AggregationStatement: EndorsableStatement {
  public static let purpose = SigningPurpose.endorsement
  public static let endorsementKind = TransactionKind.endorsement
}

extension Endorsed: TransactionBody {
  public static var transactionKind: TransactionKind { Statement.endorsementKind }
}

/// An endorser's signed aggregation statement for a round.
public typealias Endorsement = Endorsed<AggregationStatement>
/// An endorser's signed metric statement for a round's committed model.
public typealias MetricEndorsement = Endorsed<MetricStatement>

/// An endorser's signed statement, with the evidence its key rests on.
public struct Endorsed<Statement: EndorsableStatement>: CanonicalCodable, Equatable, Sendable {
  public var statement: Statement
  public var endorser: PublicKey
  public var evidence: Evidence
  public var signature: Signature

  public init(
    statement: Statement, endorser: PublicKey, evidence: Evidence, signature: Signature
  ) {
    self.statement = statement
    self.endorser = endorser
    self.evidence = evidence
    self.signature = signature
  }

  public init(
    network: Hash256, statement: Statement, key: SigningKey, evidence: Evidence = .genesisKey
  ) {
    self.init(
      statement: statement, endorser: key.publicKey, evidence: evidence,
      signature: key.sign(
        Self.message(
          network: network, statement: statement, endorser: key.publicKey, evidence: evidence),
        for: Statement.purpose))
  }

  /// What the endorser signs: the network, the statement, its own key and its evidence, so no
  /// one can re-wrap a signed statement in other evidence.
  public static func message(
    network: Hash256, statement: Statement, endorser: PublicKey, evidence: Evidence
  ) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    statement.encode(to: &w)
    w.key(endorser)
    evidence.encode(to: &w)
    return w.bytes
  }

  public func encode(to w: inout CanonicalWriter) {
    statement.encode(to: &w)
    w.key(endorser)
    evidence.encode(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    statement = try Statement(from: &r)
    endorser = try r.key("endorser key")
    evidence = try Evidence(from: &r)
    signature = try r.signature("endorsement signature")
  }
}
