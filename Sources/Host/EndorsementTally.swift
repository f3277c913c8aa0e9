import Ledger
import Records

/// Counts a round's endorsements by the statement they sign, to find the one k agree on.
///
/// It only gathers what to commit; the ledger decides whether the commit is valid (distinct
/// genesis endorsers, evidence that verifies), so a tally that counted wrong commits nothing.
public struct EndorsementTally: Sendable {
  /// Endorsements a model needs (genesis's k).
  public let threshold: Int
  private var statements:
    [(statement: AggregationStatement, endorsements: [Hash256], nodes: [Int])] =
      []

  public init(threshold: Int) { self.threshold = threshold }

  /// Counts `endorsement` from `node` and returns the transaction that records it.
  public mutating func add(_ endorsement: Endorsement, node: Int) -> Transaction {
    let tx = Transaction.endorsement(endorsement)
    let hash = Hash256.of(tx.canonicalBytes)
    let statement = endorsement.statement.hash
    if let i = statements.firstIndex(where: { $0.statement.hash == statement }) {
      statements[i].endorsements.append(hash)
      statements[i].nodes.append(node)
    } else {
      statements.append((endorsement.statement, [hash], [node]))
    }
    return tx
  }

  /// The statement with at least `threshold` endorsements (with k > n/2 there is at most one),
  /// the hashes of their transactions and the nodes that endorsed it, in the order counted.
  public var quorum: (statement: AggregationStatement, endorsements: [Hash256], nodes: [Int])? {
    statements.first { $0.endorsements.count >= threshold }
  }

  /// How many endorsements each statement has, in the order first seen.
  public var counts: [Int] { statements.map(\.endorsements.count) }
}
