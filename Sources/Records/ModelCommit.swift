import Canonical

/// Makes a round's model final: it names k matching endorsements already on the ledger. An
/// enclave hands its host a round's model only against a proof of this transaction, so no
/// aggregate of a round that never commits is ever seen outside the enclaves.
public struct ModelCommit: Hashable, Sendable {
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

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    round = try r.u64("model-commit round")
    model = try r.hash("model-commit model")
    modelBlob = try r.hash("model-commit model blob")
    modelSize = try r.u64("model-commit model size")
    statement = try r.hash("model-commit statement")
    endorsements = try r.list("model-commit endorsements", limit: 1024) {
      r throws(CanonicalDecodingError) in try r.hash("model-commit endorsement")
    }
    for (a, b) in zip(endorsements, endorsements.dropFirst()) where !(a < b) {
      throw .invalid(
        field: "model-commit endorsements", problem: "are not sorted or repeat \(b.short)")
    }
  }
}

extension ModelCommit: TransactionBody {
  public static let transactionKind = TransactionKind.modelCommit
}
