import Canonical

/// Closes a round and fixes, in ledger order, what it aggregates: each update's cluster, the
/// key the cluster was enrolled with, and the payload hash; and, by its hash, the round-open
/// whose rules decide the result. A genesis node signs it.
///
/// An enclave that checks a proof of this transaction needs nothing else from its host but
/// the bytes these hashes name.
public struct RoundClose: CanonicalCodable, Equatable, Sendable {
  /// One committed update.
  public struct Entry: Equatable, Sendable {
    public var cluster: String
    /// The cluster's enrolled Ed25519 key, which signed the commitment and the envelope.
    public var key: PublicKey
    /// SHA-256 of the payload (the sealed envelope in mode tee).
    public var payload: Hash256
    public init(cluster: String, key: PublicKey, payload: Hash256) {
      self.cluster = cluster
      self.key = key
      self.payload = payload
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

  /// A round-close signed by `node` for `network`.
  public init(network: Hash256, round: UInt64, open: Hash256, updates: [Entry], node: SigningKey) {
    self.init(
      round: round, open: open, updates: updates, signer: node.publicKey,
      signature: Signature(unchecked: []))
    signature = node.sign(message(network: network), for: .roundClose)
  }

  /// The payload hashes, in ledger order.
  public var payloads: [Hash256] { updates.map(\.payload) }

  /// What the node signs: the network and everything but the signature.
  public func message(network: Hash256) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    encodeBody(to: &w)
    return w.bytes
  }

  public func verifies(network: Hash256) -> Bool {
    signer.verifies(signature, over: message(network: network), for: .roundClose)
  }

  private func encodeBody(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(open)
    w.list(updates) { w, e in
      w.string(e.cluster)
      w.key(e.key)
      w.hash(e.payload)
    }
    w.key(signer)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeBody(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    round = try r.u64("round-close round")
    open = try r.hash("round-close round-open")
    updates = try r.list("round-close updates") { r throws(DecodingError) in
      Entry(
        cluster: try r.string("round-close cluster"), key: try r.key("round-close cluster key"),
        payload: try r.hash("round-close update"))
    }
    signer = try r.key("round-close signer")
    signature = try r.signature("round-close signature")
  }

  /// How a ledger transaction carrying a round-close begins: format version 1, kind 5 (as the
  /// ledger's `Transaction` encodes it).
  public static let transactionPrefix: [UInt8] = [1, 5]

  /// The canonical bytes of the ledger transaction carrying this round-close.
  public var transactionBytes: [UInt8] { Self.transactionPrefix + canonicalBytes }

  /// The round-close a ledger transaction's canonical bytes carry; throws for any other kind.
  public init(transaction bytes: [UInt8]) throws(DecodingError) {
    guard bytes.starts(with: Self.transactionPrefix) else {
      throw .invalid(field: "transaction", problem: "is not a round-close (version 1, kind 5)")
    }
    var r = CanonicalReader(Array(bytes.dropFirst(Self.transactionPrefix.count)))
    try self.init(from: &r)
    try r.finish()
  }
}
