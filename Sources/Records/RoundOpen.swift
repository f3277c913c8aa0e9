import Canonical

/// Opens a round: the model it starts from, who is asked to train, how clusters train, and
/// the rules that decide its result. A genesis node signs it.
///
/// Enclaves read the rules from the round-open the ledger proves (its hash is in the proven
/// round-close), never from their host.
public struct RoundOpen: TransactionBody, NodeSigned, Equatable, Sendable {
  public var round: UInt64
  public var baseModel: Hash256
  /// Clusters asked to train, by name; empty means any enrolled cluster.
  public var participants: [String]
  /// What decides the result: rule, weighting, norm bound, scale, minimum cohort, sample cap.
  public var rules: RoundRules
  /// How clusters train (epochs, learning rate, ...), as text for people and clusters.
  public var configuration: [Setting]
  /// The network's group key (X25519), which clusters seal their updates to, as the ledger
  /// recorded it with an enclave's evidence; nil where no enclave aggregates. An enclave
  /// aggregates a round only if this is the key it holds, so an update that does not open is
  /// its cluster's doing, never a host's that pointed the cluster at another key.
  public var groupKey: [UInt8]?
  /// The genesis node that opened the round, and its signature.
  public var signer: PublicKey
  public var signature: Signature

  public init(
    round: UInt64, baseModel: Hash256, participants: [String], rules: RoundRules,
    configuration: [Setting], groupKey: [UInt8]? = nil, signer: PublicKey, signature: Signature
  ) {
    self.round = round
    self.baseModel = baseModel
    self.participants = participants
    self.rules = rules
    self.configuration = configuration.sorted(by: Setting.precedes)
    self.groupKey = groupKey
    self.signer = signer
    self.signature = signature
  }

  public func encodeBody(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(baseModel)
    w.list(participants) { $0.string($1) }
    rules.encode(to: &w)
    w.settings(configuration)
    w.optional(groupKey) { $0.fixed($1) }
    w.key(signer)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeBody(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("round-open round")
    baseModel = try r.hash("round-open base model")
    participants = try r.list("round-open participants") { r throws(CanonicalDecodingError) in
      try r.string("round-open participant")
    }
    rules = try RoundRules(from: &r)
    configuration = try r.settings("round-open configuration")
    groupKey = try r.optional("round-open group key") { r throws(CanonicalDecodingError) in
      try r.fixed(32, "round-open group key")
    }
    signer = try r.key("round-open signer")
    signature = try r.signature("round-open signature")
  }

  public static let transactionKind = TransactionKind.roundOpen
  public static let purpose = SigningPurpose.roundOpen
}
