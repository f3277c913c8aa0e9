import Ledger

extension FuzzTargets {
  /// A transaction as a node takes it from a client, or reads it from etcd's log.
  static let transaction = FuzzTarget(
    "transaction", "Transaction (canonical), from a client's submission or the ordered log"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    try canonicalRoundTrip(Transaction.self, input, target: "transaction") != nil
  }
}
