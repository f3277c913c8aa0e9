import Ledger
import Records

/// Puts transactions in one order for every ledger node, as blocks.
///
/// An orderer decides only the order: every node judges every transaction itself, so a
/// transaction the orderer should not have taken is stored as invalid, with its reason, on
/// every node alike. The ledger does not know which orderer cut its blocks (as CCF keeps its
/// Merkle history apart from consensus); `EmbeddedOrderer` is the in-process one.
public protocol Orderer: AnyObject {
  /// Queues a transaction's canonical bytes for the next block.
  func submit(bytes: [UInt8])
  /// Orders everything submitted so far into blocks that every node has checked and stored,
  /// and returns them with the nodes' verdicts.
  func cut() throws(LedgerError) -> [OrderedBlock]
}

extension Orderer {
  public func submit(_ transaction: Transaction) { submit(bytes: transaction.canonicalBytes) }
}

/// One ordered block and the verdicts the nodes reached on its transactions.
public struct OrderedBlock: Sendable {
  public var block: Block
  public var outcomes: [TransactionOutcome]

  public init(block: Block, outcomes: [TransactionOutcome]) {
    self.block = block
    self.outcomes = outcomes
  }

  /// The ledger's proof that the block holds `transaction` as a valid transaction, if it does
  /// (an invalid copy of the same bytes before it does not hide it).
  public func proof(of transaction: [UInt8]) -> InclusionProof? {
    guard
      let i = block.transactions.indices.first(where: {
        outcomes[$0].isValid && block.transactions[$0] == transaction
      })
    else { return nil }
    return block.inclusionProof(of: i, valid: outcomes.map(\.isValid))
  }

}
