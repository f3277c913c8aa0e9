import Canonical

/// Closes a round and fixes, in ledger order, what it aggregates: each update's cluster, the
/// key the cluster was enrolled with, and the payload hash; and, by its hash, the round-open
/// whose rules decide the result. A genesis node signs it.
///
/// An enclave that checks a proof of this transaction needs nothing else from its host but
/// the bytes these hashes name.
public struct RoundClose: TransactionBody, NodeSigned, Equatable, Sendable {
  /// One committed update.
  public struct Entry: Equatable, Sendable {
    public var cluster: String
    /// The cluster's enrolled Ed25519 key, which signed the commitment and the envelope.
    public var key: PublicKey
    /// SHA-256 of the payload (the sealed envelope in mode tee).
    public var payload: Hash256
    /// The devices the cluster enrolled with: the most an update of it may claim.
    public var devices: UInt32
    public init(cluster: String, key: PublicKey, payload: Hash256, devices: UInt32 = 1) {
      self.cluster = cluster
      self.key = key
      self.payload = payload
      self.devices = devices
    }
  }

  public var round: UInt64
  /// Hash of the round's round-open transaction.
  public var open: Hash256
  /// The round's valid commitments, in the order they were ordered.
  public var updates: [Entry]
  /// The genesis node that closed the round, and its signature.
  public var signer: PublicKey
  public var signature: Signature

  public init(
    round: UInt64, open: Hash256, updates: [Entry], signer: PublicKey, signature: Signature
  ) {
    self.round = round
    self.open = open
    self.updates = updates
    self.signer = signer
    self.signature = signature
  }

  /// The payload hashes, in ledger order.
  public var payloads: [Hash256] { updates.map(\.payload) }

  public func encodeBody(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(open)
    w.list(updates) { w, e in
      w.string(e.cluster)
      w.key(e.key)
      w.hash(e.payload)
      w.u32(e.devices)
    }
    w.key(signer)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeBody(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("round-close round")
    open = try r.hash("round-close round-open")
    updates = try r.list("round-close updates") { r throws(CanonicalDecodingError) in
      Entry(
        cluster: try r.string("round-close cluster"), key: try r.key("round-close cluster key"),
        payload: try r.hash("round-close update"), devices: try r.u32("round-close devices"))
    }
    signer = try r.key("round-close signer")
    signature = try r.signature("round-close signature")
  }

  public static let transactionKind = TransactionKind.roundClose
  public static let purpose = SigningPurpose.roundClose
}
