import Canonical

/// The steps of a secure-aggregation round a cluster sends a message in; each ends with a
/// node's stage-close that fixes who sent one.
public enum SecAggStage: UInt8, Sendable, CaseIterable, Comparable {
  /// Its two public keys (stage 1).
  case keys = 1
  /// Its shares, encrypted to its neighbours, with their commitments (stage 2).
  case shares = 2
  /// The shares it reveals for unmasking, once the round-close named the survivors (stage 4).
  case reveals = 3

  public var name: String {
    switch self {
    case .keys: "keys"
    case .shares: "shares"
    case .reveals: "reveals"
    }
  }

  /// The most bytes one message of this stage may carry: two keys; a bundle of shares (about
  /// 200 bytes a neighbour); revealed shares (about 100 a neighbour).
  public var bodyLimit: Int {
    switch self {
    case .keys: 128
    case .shares, .reveals: EncodingLimits.bytes
    }
  }

  public static func < (a: SecAggStage, b: SecAggStage) -> Bool { a.rawValue < b.rawValue }
}

/// A cluster's message in one stage of a secure-aggregation round, signed with its enrolled
/// key. The ledger checks who may send what when; the body (SecAgg+'s own encoding) is read by
/// the round's clusters and aggregators, which leave out a malformed one by one rule.
public struct SecAggMessage: TransactionBody, Equatable, Sendable {
  public var round: UInt64
  public var cluster: String
  public var stage: SecAggStage
  public var body: [UInt8]
  public var signature: Signature

  public init(
    round: UInt64, cluster: String, stage: SecAggStage, body: [UInt8], signature: Signature
  ) {
    self.round = round
    self.cluster = cluster
    self.stage = stage
    self.body = body
    self.signature = signature
  }

  /// Signed by the cluster's key for `network`.
  public init(
    network: Hash256, round: UInt64, cluster: String, stage: SecAggStage, body: [UInt8],
    clusterKey: SigningKey
  ) {
    self.init(
      round: round, cluster: cluster, stage: stage, body: body,
      signature: clusterKey.sign(
        Self.message(network: network, round: round, cluster: cluster, stage: stage, body: body),
        for: .secaggMessage))
  }

  /// What the cluster signs.
  public static func message(
    network: Hash256, round: UInt64, cluster: String, stage: SecAggStage, body: [UInt8]
  ) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    w.u64(round)
    w.string(cluster)
    w.u8(stage.rawValue)
    w.bytes(body)
    return w.bytes
  }

  public func verifies(network: Hash256, key: PublicKey) -> Bool {
    key.verifies(
      signature,
      over: Self.message(
        network: network, round: round, cluster: cluster, stage: stage, body: body),
      for: .secaggMessage)
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(round)
    w.string(cluster)
    w.u8(stage.rawValue)
    w.bytes(body)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("secagg message round")
    cluster = try r.string("secagg message cluster")
    let s = try r.u8("secagg message stage")
    guard let stage = SecAggStage(rawValue: s) else {
      throw .unknownKind(field: "secagg message stage", tag: Int(s))
    }
    self.stage = stage
    body = try r.bytes("secagg message body", limit: stage.bodyLimit)
    signature = try r.signature("secagg message signature")
  }

  public static let transactionKind = TransactionKind.secaggMessage
}

/// Ends a stage of a secure-aggregation round: the messages it holds, by transaction hash in
/// ledger order, so that every cluster and aggregator (an enclave with one inclusion proof)
/// works from the same set. A genesis node signs it.
public struct SecAggStageClose: TransactionBody, NodeSigned, Equatable, Sendable {
  public var round: UInt64
  /// Hash of the round's round-open transaction.
  public var open: Hash256
  public var stage: SecAggStage
  public var messages: [Hash256]
  public var signer: PublicKey
  public var signature: Signature

  public init(
    round: UInt64, open: Hash256, stage: SecAggStage, messages: [Hash256], signer: PublicKey,
    signature: Signature
  ) {
    self.round = round
    self.open = open
    self.stage = stage
    self.messages = messages
    self.signer = signer
    self.signature = signature
  }

  public func encodeBody(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(open)
    w.u8(stage.rawValue)
    w.list(messages) { $0.hash($1) }
    w.key(signer)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeBody(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("secagg stage-close round")
    open = try r.hash("secagg stage-close round-open")
    let s = try r.u8("secagg stage-close stage")
    guard let stage = SecAggStage(rawValue: s) else {
      throw .unknownKind(field: "secagg stage-close stage", tag: Int(s))
    }
    self.stage = stage
    messages = try r.list("secagg stage-close messages") { r throws(CanonicalDecodingError) in
      try r.hash("secagg stage-close message")
    }
    signer = try r.key("secagg stage-close signer")
    signature = try r.signature("secagg stage-close signature")
  }

  public static let transactionKind = TransactionKind.secaggStageClose
  public static let purpose = SigningPurpose.secaggStageClose
}
