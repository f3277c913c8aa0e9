import Ledger
import Records

/// Counts a round's endorsements, as the ledger judged them, by the statement they sign, to
/// find the one k agree on.
///
/// Only endorsements the ledger stored as valid count, each genesis endorser once (as the
/// ledger counts them: an enclave's machine, whatever keys it made), so a node that submits a
/// bad or repeated endorsement cannot make the commit name one the ledger refuses. The ledger
/// still decides whether the commit is valid.
public struct EndorsementTally<Statement: EndorsableStatement>: Sendable {
  /// Endorsements a model (or its metric) needs (genesis's k).
  public let threshold: Int
  private var statements: [(statement: Statement, endorsements: [Hash256], nodes: [Int])] = []
  private var counted: Set<String> = []

  public init(threshold: Int) { self.threshold = threshold }

  /// Counts `endorsement` from `node` if the ledger stored it as `valid` for genesis endorser
  /// `endorser` and that endorser has not been counted yet.
  public mutating func add(
    _ endorsement: Endorsed<Statement>, node: Int, endorser: String?, valid: Bool
  ) {
    guard valid, let endorser, counted.insert(endorser).inserted else { return }
    let hash = Hash256.of(endorsement.transactionBytes)
    let statement = endorsement.statement.hash
    if let i = statements.firstIndex(where: { $0.statement.hash == statement }) {
      statements[i].endorsements.append(hash)
      statements[i].nodes.append(node)
    } else {
      statements.append((endorsement.statement, [hash], [node]))
    }
  }

  /// The statement with at least `threshold` endorsers (with k > n/2 there is at most one),
  /// the hashes of their transactions and the nodes that endorsed it, in the order counted.
  public var quorum: (statement: Statement, endorsements: [Hash256], nodes: [Int])? {
    statements.first { $0.endorsements.count >= threshold }
  }

  /// How many endorsements each statement has, in the order first seen.
  public var counts: [Int] { statements.map(\.endorsements.count) }
}
