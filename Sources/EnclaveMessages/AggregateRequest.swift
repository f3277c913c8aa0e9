import Canonical
import Records

/// A closed round, as the host hands it to its enclave: the ledger's proof of the round-close,
/// the round-open it names, and the bytes their hashes fix (the base model file and each
/// envelope, in the round-close's order).
///
/// Nothing in it is taken on the host's word: the network, the round, the clusters and their
/// keys, the rules and the base model's hash all come from the proven round-close and the
/// round-open whose hash it carries; the bytes must hash to what those name. A host can change
/// no field without the whole request being refused.
public struct AggregateRequest: CanonicalCodable, Equatable {
  /// The round's round-close transaction, proven by a block the ledger's nodes signed.
  public var closed: InclusionProof
  /// The canonical bytes of the round-open transaction the round-close names by hash.
  public var open: [UInt8]
  /// The base model file the round-open names.
  public var baseModel: [UInt8]
  /// The sealed updates, in the round-close's order.
  public var envelopes: [[UInt8]]

  public init(closed: InclusionProof, open: [UInt8], baseModel: [UInt8], envelopes: [[UInt8]]) {
    self.closed = closed
    self.open = open
    self.baseModel = baseModel
    self.envelopes = envelopes
  }

  public func encode(to w: inout CanonicalWriter) {
    closed.encode(to: &w)
    w.bytes(open)
    w.bytes(baseModel)
    w.list(envelopes) { $0.bytes($1) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    closed = try InclusionProof(from: &r)
    open = try r.bytes("aggregate round-open", limit: 1 << 20)
    baseModel = try r.bytes("aggregate base model", limit: 1 << 30)
    envelopes = try r.list("aggregate envelopes", limit: 100_000) {
      r throws(CanonicalDecodingError) in
      try r.bytes("aggregate envelope", limit: 1 << 30)
    }
  }
}
