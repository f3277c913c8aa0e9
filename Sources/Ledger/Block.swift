import Records

/// A block: its header, its transactions (canonical bytes) and the nodes' signatures.
public struct Block: Sendable, Equatable {
  public var header: BlockHeader
  /// Canonical encodings, in order. Kept as bytes: the bytes are what is hashed and signed.
  public var transactions: [[UInt8]]
  public var signatures: BlockSignatures

  public init(header: BlockHeader, transactions: [[UInt8]], signatures: BlockSignatures) {
    self.header = header
    self.transactions = transactions
    self.signatures = signatures
  }

  /// A new, unsigned block over `transactions` with their verdicts, after `previous`.
  public static func make(
    network: Hash256, height: UInt64, previous: Hash256, transactions: [[UInt8]],
    outcomes: [TransactionOutcome], timestamp: UInt64, proposer: String
  ) -> Block {
    let header = BlockHeader(
      network: network, height: height, previous: previous,
      merkleRoot: root(transactions, outcomes: outcomes),
      transactionCount: UInt32(transactions.count), timestamp: timestamp, proposer: proposer)
    return Block(header: header, transactions: transactions, signatures: BlockSignatures([]))
  }

  /// The Merkle leaf of a transaction with its verdict.
  public static func leaf(_ transaction: [UInt8], valid: Bool) -> Hash256 {
    Merkle.leaf(transaction: transaction, valid: valid)
  }

  /// The Merkle root a header carries for these transactions and verdicts.
  public static func root(_ transactions: [[UInt8]], outcomes: [TransactionOutcome]) -> Hash256 {
    Merkle.root(zip(transactions, outcomes).map { leaf($0, valid: $1.isValid) })
  }

  /// The Merkle path of transaction `index`, given every transaction's verdict.
  public func path(of index: Int, valid: [Bool]) -> [Hash256] {
    Merkle.path(for: index, in: zip(transactions, valid).map { Self.leaf($0, valid: $1) })
  }

  /// Proof that this block holds transaction `index`, judged valid (see `path(of:valid:)`).
  public func inclusionProof(of index: Int, valid: [Bool]) -> InclusionProof {
    InclusionProof(
      header: header, signatures: signatures, transaction: transactions[index],
      index: UInt32(index), path: path(of: index, valid: valid))
  }

  public var hash: Hash256 { header.hash }
}
