import Records

/// A way to keep each cluster's update from everyone but what aggregates it.
///
/// A mode declares here what it can aggregate; its two halves are an `UpdateProtection` that a
/// cluster applies before an update leaves it and a `RoundAggregator` that each ledger node
/// runs on a closed round (module `Privacy`; the enclave half beside the enclave client in
/// `Host`). `none` and `tee` are the first two; SecAgg+ and threshold encryption arrive as new
/// conformances, not as branches (as Flower wraps any strategy in a SecAgg+ workflow).
public protocol PrivacyMode: Sendable {
  /// The mode's name in configuration files, flags and reports.
  static var name: String { get }
  /// Whether the nodes' hosts can read each update (nothing protects it from them).
  static var hostsReadUpdates: Bool { get }
  /// Why this mode cannot run `server` after its rules, or nil when it can.
  static func unsupported(server: ServerOptimizer) -> String?
  /// Why this mode cannot run `rule` with `normBound`, or nil when it can.
  static func unsupported(rule: AggregationRule, normBound: Float?) -> String?
}

extension PrivacyMode {
  public static func unsupported(rule: AggregationRule, normBound: Float?) -> String? { nil }
}

/// Updates travel and are aggregated in the clear; each node's key endorses what it computed.
public enum NoPrivacy: PrivacyMode {
  public static let name = "none"
  public static let hostsReadUpdates = true
  public static func unsupported(server: ServerOptimizer) -> String? { nil }
}

/// Updates are sealed to the attested enclaves' group key; only enclaves open and aggregate
/// them, and k of n enclaves must endorse the same result.
public enum EnclavePrivacy: PrivacyMode {
  public static let name = "tee"
  public static let hostsReadUpdates = false
  public static func unsupported(server: ServerOptimizer) -> String? {
    server == .plain
      ? nil
      : "enclaves apply the aggregate plainly (server optimiser state is not kept in enclaves yet): use privacy none for fedavgm or fedadam"
  }
}

/// SecAgg+ (Bell et al., CCS 2020): each cluster masks its update with pairwise and self masks
/// whose seeds are Shamir-shared among its neighbours, every step on the ledger; the nodes
/// unmask only the sum of the round's surviving updates.
public enum SecureAggregation: PrivacyMode {
  public static let name = "secagg"
  public static let hostsReadUpdates = false
  public static func unsupported(server: ServerOptimizer) -> String? {
    server == .plain
      ? nil
      : "the nodes apply the unmasked mean plainly under secure aggregation: use privacy none for fedavgm or fedadam"
  }

  public static func unsupported(rule: AggregationRule, normBound: Float?) -> String? {
    if rule != .mean {
      return
        "privacy secagg shows the nodes only the sum of the updates, so \(rule), which needs each update, cannot run: use the mean (fedavg), or privacy tee for robust rules"
    }
    if normBound == nil {
      return
        "privacy secagg needs a norm bound (strategy.normBound, --norm-bound): each cluster clips its own update to it, since no node sees one"
    }
    return nil
  }
}
