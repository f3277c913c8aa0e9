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
  mutating func settings(_ s: [Setting]) {
    list(s.sorted(by: Setting.precedes)) { w, s in
      w.string(s.key)
      w.string(s.value)
    }
  }
}

extension CanonicalReader {
  mutating func settings(_ field: String) throws(DecodingError) -> [Setting] {
    let s = try list(field) { r throws(DecodingError) in
      Setting(try r.string("\(field) key"), try r.string("\(field) value"))
    }
    for (a, b) in zip(s, s.dropFirst()) where !Setting.precedes(a, b) {
      throw .invalid(field: field, problem: "are not sorted by key or repeat \"\(b.key)\"")
    }
    return s
  }
}

/// A consortium member enrols a cluster's identity key; only enrolled clusters may commit.
public struct ClusterEnrolment: CanonicalCodable, Equatable {
  public var cluster: String
  public var key: PublicKey
  /// The member vouching for the cluster, by name in genesis.
  public var member: String
  public var signature: Signature

  public init(cluster: String, key: PublicKey, member: String, signature: Signature) {
    self.cluster = cluster
    self.key = key
    self.member = member
    self.signature = signature
  }

  /// What the member signs.
  public static func message(network: Hash256, cluster: String, key: PublicKey, member: String)
    -> [UInt8]
  {
    var w = CanonicalWriter()
    w.hash(network)
    w.string(cluster)
    w.key(key)
    w.string(member)
    return w.bytes
  }

  public init(
    network: Hash256, cluster: String, key: PublicKey, member: String, memberKey: SigningKey
  ) {
    self.init(
      cluster: cluster, key: key, member: member,
      signature: memberKey.sign(
        Self.message(network: network, cluster: cluster, key: key, member: member),
        for: .enrolment))
  }

  public func encode(to w: inout CanonicalWriter) {
    w.string(cluster)
    w.key(key)
    w.string(member)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    cluster = try r.string("enrolment cluster")
    key = try r.key("enrolment key")
    member = try r.string("enrolment member")
    signature = try r.signature("enrolment signature")
  }
}

/// Opens a round: the model it starts from and how clusters train.
public struct RoundOpen: CanonicalCodable, Equatable {
  public var round: UInt64
  public var baseModel: Hash256
  /// Clusters asked to train, by name; empty means any enrolled cluster.
  public var participants: [String]
  public var configuration: [Setting]

  public init(round: UInt64, baseModel: Hash256, participants: [String], configuration: [Setting]) {
    self.round = round
    self.baseModel = baseModel
    self.participants = participants
    self.configuration = configuration.sorted(by: Setting.precedes)
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(baseModel)
    w.list(participants) { $0.string($1) }
    w.settings(configuration)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    round = try r.u64("round-open round")
    baseModel = try r.hash("round-open base model")
    participants = try r.list("round-open participants") { r throws(DecodingError) in
      try r.string("round-open participant")
    }
    configuration = try r.settings("round-open configuration")
  }
}

/// A cluster commits to the update it sent: the payload's hash, signed with its enrolled key.
public struct UpdateCommitment: CanonicalCodable, Equatable {
  public var round: UInt64
  public var cluster: String
  /// SHA-256 of the update payload kept in the blob store.
  public var payload: Hash256
  public var payloadSize: UInt64
  public var signature: Signature

  public init(
    round: UInt64, cluster: String, payload: Hash256, payloadSize: UInt64, signature: Signature
  ) {
    self.round = round
    self.cluster = cluster
    self.payload = payload
    self.payloadSize = payloadSize
    self.signature = signature
  }

  public init(
    network: Hash256, round: UInt64, cluster: String, payload: Hash256, payloadSize: UInt64,
    clusterKey: SigningKey
  ) {
    self.init(
      round: round, cluster: cluster, payload: payload, payloadSize: payloadSize,
      signature: clusterKey.sign(
        Self.message(
          network: network, round: round, cluster: cluster, payload: payload,
          payloadSize: payloadSize), for: .commitment))
  }

  /// What the cluster signs.
  public static func message(
    network: Hash256, round: UInt64, cluster: String, payload: Hash256, payloadSize: UInt64
  ) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    w.u64(round)
    w.string(cluster)
    w.hash(payload)
    w.u64(payloadSize)
    return w.bytes
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.string(cluster)
    w.hash(payload)
    w.u64(payloadSize)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    round = try r.u64("commitment round")
    cluster = try r.string("commitment cluster")
    payload = try r.hash("commitment payload hash")
    payloadSize = try r.u64("commitment payload size")
    signature = try r.signature("commitment signature")
  }
}

/// Closes a round and fixes, in ledger order, the updates it aggregates.
public struct RoundClose: CanonicalCodable, Equatable {
  public var round: UInt64
  /// Payload hashes of the round's commitments, in the order they were ordered.
  public var updates: [Hash256]

  public init(round: UInt64, updates: [Hash256]) {
    self.round = round
    self.updates = updates
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.list(updates) { $0.hash($1) }
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    round = try r.u64("round-close round")
    updates = try r.list("round-close updates") { r throws(DecodingError) in
      try r.hash("round-close update")
    }
  }
}

/// What an endorser states it computed for a round. Endorsers sign its canonical bytes.
public struct AggregationStatement: CanonicalCodable, Equatable {
  public struct Accepted: Equatable, Sendable, Codable {
    public var update: Hash256
    /// Weight in the aggregate.
    public var weight: Double
    /// Why it was changed (clipped, for instance), if it was.
    public var note: String
    public init(update: Hash256, weight: Double, note: String = "") {
      self.update = update
      self.weight = weight
      self.note = note
    }
  }
  public struct Rejected: Equatable, Sendable, Codable {
    public var update: Hash256
    public var reason: String
    public init(update: Hash256, reason: String) {
      self.update = update
      self.reason = reason
    }
  }

  public static let version: UInt8 = 1
  public var round: UInt64
  public var baseModel: Hash256
  public var accepted: [Accepted]
  public var rejected: [Rejected]
  /// The aggregation rule and its parameters.
  public var rule: String
  public var parameters: [Setting]
  public var newModel: Hash256

  public init(
    round: UInt64, baseModel: Hash256, accepted: [Accepted], rejected: [Rejected], rule: String,
    parameters: [Setting], newModel: Hash256
  ) {
    self.round = round
    self.baseModel = baseModel
    self.accepted = accepted
    self.rejected = rejected
    self.rule = rule
    self.parameters = parameters.sorted(by: Setting.precedes)
    self.newModel = newModel
  }

  public var hash: Hash256 { Hash256.of(canonicalBytes) }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.u64(round)
    w.hash(baseModel)
    w.list(accepted) { w, a in
      w.hash(a.update)
      w.f64(a.weight)
      w.string(a.note)
    }
    w.list(rejected) { w, a in
      w.hash(a.update)
      w.string(a.reason)
    }
    w.string(rule)
    w.settings(parameters)
    w.hash(newModel)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    let v = try r.u8("statement version")
    guard v == Self.version else {
      throw .unknownVersion(field: "statement version", version: Int(v))
    }
    round = try r.u64("statement round")
    baseModel = try r.hash("statement base model")
    accepted = try r.list("statement accepted updates") { r throws(DecodingError) in
      Accepted(
        update: try r.hash("accepted update"), weight: try r.f64("accepted weight"),
        note: try r.string("accepted note"))
    }
    rejected = try r.list("statement rejected updates") { r throws(DecodingError) in
      Rejected(update: try r.hash("rejected update"), reason: try r.string("rejected reason"))
    }
    rule = try r.string("statement rule")
    parameters = try r.settings("statement parameters")
    newModel = try r.hash("statement new model")
  }
}

/// What an endorsement's key rests on. Node keys listed in genesis need nothing more; enclave
/// keys carry attestation evidence (simulated or SGX DCAP) in the same field.
public struct Evidence: CanonicalCodable, Equatable {
  public enum Kind: UInt8, Sendable, Codable {
    /// A key genesis lists directly.
    case genesisKey = 0
    /// Reserved: a simulated enclave's signed report (no hardware protection).
    case simulatedEnclave = 1
    /// Reserved: an Intel SGX DCAP quote.
    case sgxDCAP = 2

    public var name: String {
      switch self {
      case .genesisKey: "genesis-key"
      case .simulatedEnclave: "simulated-enclave (no hardware protection)"
      case .sgxDCAP: "sgx-dcap"
      }
    }
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

  public init(from r: inout CanonicalReader) throws(DecodingError) {
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

/// An endorser's signed aggregation statement for a round.
public struct Endorsement: CanonicalCodable, Equatable {
  public var statement: AggregationStatement
  public var endorser: PublicKey
  public var evidence: Evidence
  public var signature: Signature

  public init(
    statement: AggregationStatement, endorser: PublicKey, evidence: Evidence, signature: Signature
  ) {
    self.statement = statement
    self.endorser = endorser
    self.evidence = evidence
    self.signature = signature
  }

  public init(
    network: Hash256, statement: AggregationStatement, key: SigningKey,
    evidence: Evidence = .genesisKey
  ) {
    self.init(
      statement: statement, endorser: key.publicKey, evidence: evidence,
      signature: key.sign(
        Self.message(
          network: network, statement: statement, endorser: key.publicKey, evidence: evidence),
        for: .endorsement))
  }

  /// What the endorser signs: the network, the statement, its own key and its evidence, so no
  /// one can re-wrap a signed statement in other evidence.
  public static func message(
    network: Hash256, statement: AggregationStatement, endorser: PublicKey, evidence: Evidence
  ) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    statement.encode(to: &w)
    w.key(endorser)
    evidence.encode(to: &w)
    return w.bytes
  }

  public func verifies(network: Hash256) -> Bool {
    endorser.verifies(
      signature,
      over: Self.message(
        network: network, statement: statement, endorser: endorser, evidence: evidence),
      for: .endorsement)
  }

  public func encode(to w: inout CanonicalWriter) {
    statement.encode(to: &w)
    w.key(endorser)
    evidence.encode(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    statement = try AggregationStatement(from: &r)
    endorser = try r.key("endorser key")
    evidence = try Evidence(from: &r)
    signature = try r.signature("endorsement signature")
  }
}

/// Makes a round's model final: it names k matching endorsements already on the ledger.
public struct ModelCommit: CanonicalCodable, Equatable {
  public var round: UInt64
  /// The model's hash (the SHA-256 a model file carries, see docs/model-format.md).
  public var model: Hash256
  /// SHA-256 of the whole model file in the blob store, and its size.
  public var modelBlob: Hash256
  public var modelSize: UInt64
  /// Hash of the aggregation statement the endorsements sign.
  public var statement: Hash256
  /// Hashes of the endorsement transactions, sorted.
  public var endorsements: [Hash256]

  public init(
    round: UInt64, model: Hash256, modelBlob: Hash256, modelSize: UInt64, statement: Hash256,
    endorsements: [Hash256]
  ) {
    self.round = round
    self.model = model
    self.modelBlob = modelBlob
    self.modelSize = modelSize
    self.statement = statement
    self.endorsements = Array(Set(endorsements)).sorted()
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(model)
    w.hash(modelBlob)
    w.u64(modelSize)
    w.hash(statement)
    w.list(endorsements) { $0.hash($1) }
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    round = try r.u64("model-commit round")
    model = try r.hash("model-commit model")
    modelBlob = try r.hash("model-commit model blob")
    modelSize = try r.u64("model-commit model size")
    statement = try r.hash("model-commit statement")
    endorsements = try r.list("model-commit endorsements", limit: 1024) {
      r throws(DecodingError) in try r.hash("model-commit endorsement")
    }
    for (a, b) in zip(endorsements, endorsements.dropFirst()) where !(a < b) {
      throw .invalid(
        field: "model-commit endorsements", problem: "are not sorted or repeat \(b.short)")
    }
  }
}

/// Everything the ledger records. Encoded as a format version, a kind tag, then the body.
public enum Transaction: CanonicalCodable, Equatable {
  case genesis(Genesis)
  case enrolment(ClusterEnrolment)
  case roundOpen(RoundOpen)
  case commitment(UpdateCommitment)
  case roundClose(RoundClose)
  case endorsement(Endorsement)
  case modelCommit(ModelCommit)

  public static let version: UInt8 = 1

  public enum Kind: UInt8, Sendable, CaseIterable {
    case genesis = 1
    case enrolment = 2
    case roundOpen = 3
    case commitment = 4
    case roundClose = 5
    case endorsement = 6
    case modelCommit = 7

    public var name: String {
      switch self {
      case .genesis: "genesis"
      case .enrolment: "cluster-enrolment"
      case .roundOpen: "round-open"
      case .commitment: "update-commitment"
      case .roundClose: "round-close"
      case .endorsement: "endorsement"
      case .modelCommit: "model-commit"
      }
    }
  }

  public var kind: Kind {
    switch self {
    case .genesis: .genesis
    case .enrolment: .enrolment
    case .roundOpen: .roundOpen
    case .commitment: .commitment
    case .roundClose: .roundClose
    case .endorsement: .endorsement
    case .modelCommit: .modelCommit
    }
  }

  /// The round a transaction belongs to, if any.
  public var round: UInt64? {
    switch self {
    case .genesis, .enrolment: nil
    case .roundOpen(let t): t.round
    case .commitment(let t): t.round
    case .roundClose(let t): t.round
    case .endorsement(let t): t.statement.round
    case .modelCommit(let t): t.round
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.u8(kind.rawValue)
    switch self {
    case .genesis(let t): t.encode(to: &w)
    case .enrolment(let t): t.encode(to: &w)
    case .roundOpen(let t): t.encode(to: &w)
    case .commitment(let t): t.encode(to: &w)
    case .roundClose(let t): t.encode(to: &w)
    case .endorsement(let t): t.encode(to: &w)
    case .modelCommit(let t): t.encode(to: &w)
    }
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    let v = try r.u8("transaction version")
    guard v == Self.version else {
      throw .unknownVersion(field: "transaction version", version: Int(v))
    }
    let tag = try r.u8("transaction kind")
    guard let kind = Kind(rawValue: tag) else {
      throw .unknownKind(field: "transaction kind", tag: Int(tag))
    }
    switch kind {
    case .genesis: self = .genesis(try Genesis(from: &r))
    case .enrolment: self = .enrolment(try ClusterEnrolment(from: &r))
    case .roundOpen: self = .roundOpen(try RoundOpen(from: &r))
    case .commitment: self = .commitment(try UpdateCommitment(from: &r))
    case .roundClose: self = .roundClose(try RoundClose(from: &r))
    case .endorsement: self = .endorsement(try Endorsement(from: &r))
    case .modelCommit: self = .modelCommit(try ModelCommit(from: &r))
    }
  }
}
