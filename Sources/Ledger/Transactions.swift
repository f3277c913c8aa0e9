import Canonical
import Records

/// A consortium member enrols a cluster's identity key; only enrolled clusters may commit.
public struct ClusterEnrolment: CanonicalCodable, Equatable {
  /// The longest cluster name the ledger enrols, in bytes of UTF-8.
  public static let maximumName = 64

  public var cluster: String
  public var key: PublicKey
  /// The member vouching for the cluster, by name in genesis.
  public var member: String
  /// The devices the cluster has (1 to `RoundRules.maximumDevices`): the most its updates may
  /// claim to stand for, as the member vouches.
  public var devices: UInt32
  public var signature: Signature

  public init(
    cluster: String, key: PublicKey, member: String, devices: UInt32 = 1, signature: Signature
  ) {
    self.cluster = cluster
    self.key = key
    self.member = member
    self.devices = devices
    self.signature = signature
  }

  /// What the member signs.
  public static func message(
    network: Hash256, cluster: String, key: PublicKey, member: String, devices: UInt32
  ) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    w.string(cluster)
    w.key(key)
    w.string(member)
    w.u32(devices)
    return w.bytes
  }

  public init(
    network: Hash256, cluster: String, key: PublicKey, member: String, devices: UInt32 = 1,
    memberKey: SigningKey
  ) {
    self.init(
      cluster: cluster, key: key, member: member, devices: devices,
      signature: memberKey.sign(
        Self.message(
          network: network, cluster: cluster, key: key, member: member, devices: devices),
        for: .enrolment))
  }

  public func encode(to w: inout CanonicalWriter) {
    w.string(cluster)
    w.key(key)
    w.string(member)
    w.u32(devices)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    cluster = try r.string("enrolment cluster")
    key = try r.key("enrolment key")
    member = try r.string("enrolment member")
    devices = try r.u32("enrolment devices")
    signature = try r.signature("enrolment signature")
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

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("commitment round")
    cluster = try r.string("commitment cluster")
    payload = try r.hash("commitment payload hash")
    payloadSize = try r.u64("commitment payload size")
    signature = try r.signature("commitment signature")
  }
}

/// A cluster commits to its evaluation report on a committed model: the payload's hash and
/// size, signed with its enrolled key. The evaluation-close lists exactly these.
public struct ReportCommitment: CanonicalCodable, Equatable {
  public var round: UInt64
  /// The model judged: the one `round` committed.
  public var model: Hash256
  public var cluster: String
  /// SHA-256 of the report payload kept in the blob store (the sealed envelope in mode tee).
  public var payload: Hash256
  public var payloadSize: UInt64
  public var signature: Signature

  public init(
    round: UInt64, model: Hash256, cluster: String, payload: Hash256, payloadSize: UInt64,
    signature: Signature
  ) {
    self.round = round
    self.model = model
    self.cluster = cluster
    self.payload = payload
    self.payloadSize = payloadSize
    self.signature = signature
  }

  public init(
    network: Hash256, round: UInt64, model: Hash256, cluster: String, payload: Hash256,
    payloadSize: UInt64, clusterKey: SigningKey
  ) {
    self.init(
      round: round, model: model, cluster: cluster, payload: payload, payloadSize: payloadSize,
      signature: Signature(unchecked: []))
    signature = clusterKey.sign(message(network: network), for: .report)
  }

  /// What the cluster signs.
  public func message(network: Hash256) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    w.u64(round)
    w.hash(model)
    w.string(cluster)
    w.hash(payload)
    w.u64(payloadSize)
    return w.bytes
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(model)
    w.string(cluster)
    w.hash(payload)
    w.u64(payloadSize)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("report-commitment round")
    model = try r.hash("report-commitment model")
    cluster = try r.string("report-commitment cluster")
    payload = try r.hash("report-commitment payload hash")
    payloadSize = try r.u64("report-commitment payload size")
    signature = try r.signature("report-commitment signature")
  }
}

/// Fixes the network's group key: the X25519 key clusters seal updates to, which only attested
/// enclaves hold. It carries the evidence of at least k enclaves of distinct genesis endorsers
/// (k as for a model), each for the ledger's nonce and binding its signing key and this group
/// key under the network's policy: so the key is held by enclaves that can commit models, and
/// no one endorser can fix a key it alone holds. The first valid record stands; every
/// round-open names it, and enclaves aggregate only rounds whose round-open names their key.
public struct GroupKeyRecord: CanonicalCodable, Equatable {
  /// One enclave that holds the key, and its evidence.
  public struct Holder: Equatable, Sendable {
    /// The signing key the evidence binds.
    public var enclave: PublicKey
    public var evidence: Evidence
    public init(enclave: PublicKey, evidence: Evidence) {
      self.enclave = enclave
      self.evidence = evidence
    }
  }

  public var groupKey: [UInt8]
  public var holders: [Holder]

  public init(groupKey: [UInt8], holders: [Holder]) {
    self.groupKey = groupKey
    self.holders = holders
  }

  public func encode(to w: inout CanonicalWriter) {
    w.fixed(groupKey)
    w.list(holders) { w, h in
      w.key(h.enclave)
      h.evidence.encode(to: &w)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    groupKey = try r.fixed(32, "group key")
    holders = try r.list("group key holders", limit: 4096) { r throws(CanonicalDecodingError) in
      Holder(enclave: try r.key("group key holder"), evidence: try Evidence(from: &r))
    }
  }
}

/// Ends a round that will not commit (too few updates by its deadline, too few matching
/// endorsements), so the next may open from the same model. A genesis node signs it.
public struct RoundAbort: CanonicalCodable, NodeSigned, Equatable {
  public var round: UInt64
  public var reason: String
  public var signer: PublicKey
  public var signature: Signature

  public static let purpose = SigningPurpose.roundAbort

  public init(round: UInt64, reason: String, signer: PublicKey, signature: Signature) {
    self.round = round
    self.reason = reason
    self.signer = signer
    self.signature = signature
  }

  /// A round-abort signed by `node` for `network`.
  public init(network: Hash256, round: UInt64, reason: String, node: SigningKey) {
    self.init(round: round, reason: reason, signer: node.publicKey, signature: .init(unchecked: []))
    signature = node.sign(message(network: network), for: .roundAbort)
  }

  public func encodeBody(to w: inout CanonicalWriter) {
    w.u64(round)
    w.string(reason)
    w.key(signer)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeBody(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("round-abort round")
    reason = try r.string("round-abort reason")
    signer = try r.key("round-abort signer")
    signature = try r.signature("round-abort signature")
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
  case roundAbort(RoundAbort)
  case groupKey(GroupKeyRecord)
  case reportCommitment(ReportCommitment)
  case evaluationClose(EvaluationClose)
  case metricEndorsement(MetricEndorsement)
  case metricCommit(MetricCommit)
  case secaggMessage(SecAggMessage)
  case secaggStageClose(SecAggStageClose)

  public static let version = TransactionKind.formatVersion

  public typealias Kind = TransactionKind

  public var kind: Kind {
    switch self {
    case .genesis: .genesis
    case .enrolment: .enrolment
    case .roundOpen: .roundOpen
    case .commitment: .commitment
    case .roundClose: .roundClose
    case .endorsement: .endorsement
    case .modelCommit: .modelCommit
    case .roundAbort: .roundAbort
    case .groupKey: .groupKey
    case .reportCommitment: .reportCommitment
    case .evaluationClose: .evaluationClose
    case .metricEndorsement: .metricEndorsement
    case .metricCommit: .metricCommit
    case .secaggMessage: .secaggMessage
    case .secaggStageClose: .secaggStageClose
    }
  }

  /// The round a transaction belongs to, if any.
  public var round: UInt64? {
    switch self {
    case .genesis, .enrolment, .groupKey: nil
    case .roundOpen(let t): t.round
    case .commitment(let t): t.round
    case .roundClose(let t): t.round
    case .endorsement(let t): t.statement.round
    case .modelCommit(let t): t.round
    case .roundAbort(let t): t.round
    case .reportCommitment(let t): t.round
    case .evaluationClose(let t): t.round
    case .metricEndorsement(let t): t.statement.round
    case .metricCommit(let t): t.round
    case .secaggMessage(let t): t.round
    case .secaggStageClose(let t): t.round
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
    case .roundAbort(let t): t.encode(to: &w)
    case .groupKey(let t): t.encode(to: &w)
    case .reportCommitment(let t): t.encode(to: &w)
    case .evaluationClose(let t): t.encode(to: &w)
    case .metricEndorsement(let t): t.encode(to: &w)
    case .metricCommit(let t): t.encode(to: &w)
    case .secaggMessage(let t): t.encode(to: &w)
    case .secaggStageClose(let t): t.encode(to: &w)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
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
    case .roundAbort: self = .roundAbort(try RoundAbort(from: &r))
    case .groupKey: self = .groupKey(try GroupKeyRecord(from: &r))
    case .reportCommitment: self = .reportCommitment(try ReportCommitment(from: &r))
    case .evaluationClose: self = .evaluationClose(try EvaluationClose(from: &r))
    case .metricEndorsement: self = .metricEndorsement(try MetricEndorsement(from: &r))
    case .metricCommit: self = .metricCommit(try MetricCommit(from: &r))
    case .secaggMessage: self = .secaggMessage(try SecAggMessage(from: &r))
    case .secaggStageClose: self = .secaggStageClose(try SecAggStageClose(from: &r))
    }
  }
}
