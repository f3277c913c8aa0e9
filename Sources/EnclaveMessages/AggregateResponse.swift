import Canonical

/// What the enclave returns for a round: its signed endorsement (a ledger endorsement
/// transaction body; the statement names the new model's hash, file hash and size, all a model
/// commit needs). The model itself stays inside until the ledger proves the commit
/// (`Enclave.release`): a round that never commits (aborted, or short of k endorsements) shows
/// its aggregate to no one.
public struct AggregateResponse: CanonicalCodable, Equatable {
  /// Canonical bytes of the `Endorsement`.
  public var endorsement: [UInt8]
  /// Time the enclave spent on the request, for reports.
  public var nanoseconds: UInt64

  public init(endorsement: [UInt8], nanoseconds: UInt64) {
    self.endorsement = endorsement
    self.nanoseconds = nanoseconds
  }

  public func encode(to w: inout CanonicalWriter) {
    w.bytes(endorsement)
    w.u64(nanoseconds)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    endorsement = try r.bytes("response endorsement", limit: 1 << 26)
    nanoseconds = try r.u64("response time")
  }
}
