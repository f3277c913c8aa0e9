import Canonical

/// Fixes which reports judge a committed model: for each, the cluster, the key it was enrolled
/// with, the payload's hash and the cluster's signature over them; and the evaluation rules,
/// which must be genesis's. A genesis node signs it; the ledger takes one per committed round.
///
/// An enclave that checks a proof of this transaction needs nothing else from its host but the
/// payloads these hashes name.
public struct EvaluationClose: TransactionBody, NodeSigned, Equatable, Sendable {
  /// One report a cluster committed to.
  public struct Entry: Equatable, Sendable {
    public var cluster: String
    public var key: PublicKey
    /// SHA-256 of the report payload (the sealed envelope in mode tee).
    public var payload: Hash256
    /// The cluster's signature over `message`.
    public var signature: Signature

    public init(cluster: String, key: PublicKey, payload: Hash256, signature: Signature) {
      self.cluster = cluster
      self.key = key
      self.payload = payload
      self.signature = signature
    }

    /// What the cluster signs: that this payload is its report on `model` of `round`.
    public static func message(
      network: Hash256, round: UInt64, model: Hash256, cluster: String, payload: Hash256
    ) -> [UInt8] {
      var w = CanonicalWriter()
      w.hash(network)
      w.u64(round)
      w.hash(model)
      w.string(cluster)
      w.hash(payload)
      return w.bytes
    }

    public func verifies(network: Hash256, round: UInt64, model: Hash256) -> Bool {
      key.verifies(
        signature,
        over: Self.message(
          network: network, round: round, model: model, cluster: cluster, payload: payload),
        for: .report)
    }
  }

  public var round: UInt64
  /// The model the round committed, which the reports judge.
  public var model: Hash256
  public var rules: EvaluationRules
  public var reports: [Entry]
  public var signer: PublicKey
  public var signature: Signature

  public init(
    round: UInt64, model: Hash256, rules: EvaluationRules, reports: [Entry], signer: PublicKey,
    signature: Signature
  ) {
    self.round = round
    self.model = model
    self.rules = rules
    self.reports = reports
    self.signer = signer
    self.signature = signature
  }

  public var payloads: [Hash256] { reports.map(\.payload) }

  public func encodeBody(to w: inout CanonicalWriter) {
    w.u64(round)
    w.hash(model)
    rules.encode(to: &w)
    w.list(reports) { w, e in
      w.string(e.cluster)
      w.key(e.key)
      w.hash(e.payload)
      w.signature(e.signature)
    }
    w.key(signer)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeBody(to: &w)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("evaluation-close round")
    model = try r.hash("evaluation-close model")
    rules = try EvaluationRules(from: &r)
    reports = try r.list("evaluation-close reports", limit: EvaluationRules.maximumReports) {
      r throws(CanonicalDecodingError) in
      Entry(
        cluster: try r.string("evaluation-close cluster"),
        key: try r.key("evaluation-close cluster key"),
        payload: try r.hash("evaluation-close report"),
        signature: try r.signature("evaluation-close report signature"))
    }
    signer = try r.key("evaluation-close signer")
    signature = try r.signature("evaluation-close signature")
  }

  public static let transactionKind = TransactionKind.evaluationClose
  public static let purpose = SigningPurpose.evaluationClose
}
