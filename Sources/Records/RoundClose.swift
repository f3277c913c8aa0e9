import Canonical

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
