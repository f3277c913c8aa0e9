import Canonical

/// An entry in an ordered log that ends the block being gathered: every transaction logged
/// since the marker before it goes into the next block(s), dated `timestamp` and named as
/// `proposer`'s. Any node's timer may write one; the log accepts only marker `sequence` after
/// marker `sequence - 1`, so every node reads the same markers in the same places.
public struct CutMarker: CanonicalCodable, Equatable {
  /// 0 for the first marker of the log, then one more for each.
  public var sequence: UInt64
  /// Milliseconds since 1970 by the proposer's clock (a block is never dated before its
  /// predecessor, and each node refuses to sign one far from its own clock).
  public var timestamp: UInt64
  /// The genesis node that wrote the marker.
  public var proposer: String

  public init(sequence: UInt64, timestamp: UInt64, proposer: String) {
    self.sequence = sequence
    self.timestamp = timestamp
    self.proposer = proposer
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(sequence)
    w.u64(timestamp)
    w.string(proposer)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    sequence = try r.u64("cut sequence")
    timestamp = try r.u64("cut timestamp")
    proposer = try r.string("cut proposer", limit: 256)
  }
}
