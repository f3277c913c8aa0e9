import Learning

/// Where a round's steps are recorded as they happen: the ledger, in the full protocol.
///
/// The simulation calls these in protocol order: `open`, then `arrived` for each update in
/// cluster order, then `close`, then `aggregated` with the strategy's result.
public protocol RoundRecorder: AnyObject {
  /// The round opens on `plan`, starting from `base`.
  func open(_ plan: RoundPlan, base: Model) throws
  /// An update arrived; a returned reason keeps it out of aggregation.
  func arrived(_ update: ClusterUpdate) throws -> String?
  /// No more updates: the set the round aggregates is fixed.
  func close(round: Int) throws
  /// The round cannot commit (too few updates arrived or passed): it ends without a model,
  /// and the next opens from the same one.
  func abort(round: Int, reason: String) throws
  /// The strategy turned the closed set into `model`, deciding each update as `decisions`.
  func aggregated(round: Int, decisions: [UpdateDecision], model: Model) throws
  /// True when the recorder aggregates the updates itself (in enclaves, privacy mode tee): the
  /// simulation then never hands an update to its strategy, only to `arrived`.
  var aggregates: Bool { get }
  /// Aggregates the closed round starting from `base` (called only when `aggregates`).
  func aggregate(round: Int, base: Model) throws -> AggregationOutcome
  /// Of the last `aggregate`, the nanoseconds spent recording on the ledger (ordering the
  /// endorsements and the model commit), which reports count as ledger time.
  var ledgerNanoseconds: UInt64 { get }
}

extension RoundRecorder {
  public var aggregates: Bool { false }
  public var ledgerNanoseconds: UInt64 { 0 }
  public func aggregate(round: Int, base: Model) throws -> AggregationOutcome {
    preconditionFailure("aggregate is called only on recorders that aggregate")
  }
}
