import Canonical

/// An entry in an ordered log that ends the block being gathered: every transaction logged
/// since the marker before it goes into the next block(s), dated `timestamp` and named as
/// `proposer`'s. Any node's timer may write one; one that finds nothing gathered (another
/// node's cut the same transactions first) cuts nothing.
public struct CutMarker: CanonicalCodable, Equatable {
  /// Milliseconds since 1970 by the proposer's clock (a block is never dated before its
  /// predecessor, and each node refuses to sign one far from its own clock).
  public var timestamp: UInt64
  /// The genesis node that wrote the marker.
  public var proposer: String

  public init(timestamp: UInt64, proposer: String) {
    self.timestamp = timestamp
    self.proposer = proposer
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u64(timestamp)
    w.string(proposer)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    timestamp = try r.u64("cut timestamp")
    proposer = try r.string("cut proposer", limit: 256)
  }
}
