import Canonical

/// Fixes which reports judge a committed model: exactly the report commitments the ledger holds
/// for the round, in ledger order (each cluster, its enrolled key, its payload's hash), so no
/// node picks whose reports count; and the evaluation rules, which must be genesis's. A genesis
/// node signs it; the ledger takes one, for the newest round while its model stands.
///
/// An enclave that checks a proof of this transaction needs nothing else from its host but the
/// payloads these hashes name.
public struct EvaluationClose: TransactionBody, NodeSigned, Equatable, Sendable {
  /// One report a cluster committed to on the ledger.
  public struct Entry: Equatable, Sendable {
    public var cluster: String
    /// The cluster's enrolled key, which signed the commitment (and, in mode tee, the envelope).
    public var key: PublicKey
    /// SHA-256 of the report payload (the sealed envelope in mode tee), and the size its
    /// commitment declared: a payload of another size is refused as its cluster's doing.
    public var payload: Hash256
    public var payloadSize: UInt64

    public init(cluster: String, key: PublicKey, payload: Hash256, payloadSize: UInt64) {
      self.cluster = cluster
      self.key = key
      self.payload = payload
      self.payloadSize = payloadSize
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
      w.u64(e.payloadSize)
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
        payloadSize: try r.u64("evaluation-close report size"))
    }
    signer = try r.key("evaluation-close signer")
    signature = try r.signature("evaluation-close signature")
  }

  public static let transactionKind = TransactionKind.evaluationClose
  public static let purpose = SigningPurpose.evaluationClose
}
