import Records

/// The ledger as someone who keeps no copy of it checks it, block by block, from genesis: a
/// cluster following a node it does not trust. Each block must follow the last (height,
/// previous hash, network), carry a quorum of genesis nodes' signatures, and have a Merkle
/// root over its transactions and the verdicts this chain's own state machine reaches on
/// them; the state is then what every honest node holds. A node can withhold blocks, but
/// cannot make up a round, a model commit or a verdict.
public struct VerifiedChain: Sendable {
  public private(set) var state: LedgerState

  public init(genesis: Genesis) { state = LedgerState(genesis: genesis) }

  /// The height the next block must have.
  public var nextHeight: UInt64 { state.nextHeight }

  /// Checks the block made of these canonical parts and moves past it; returns its
  /// transactions' verdicts.
  @discardableResult
  public mutating func append(header bytes: [UInt8], transactions: [[UInt8]], signatures: [UInt8])
    throws(VerifiedChainError) -> [TransactionOutcome]
  {
    let header: BlockHeader
    let signed: BlockSignatures
    do {
      header = try BlockHeader(canonical: bytes)
      signed = try BlockSignatures(canonical: signatures)
    } catch {
      throw .unreadable(height: state.nextHeight, "\(error)")
    }
    if let p = state.problem(with: header, transactions: transactions) {
      throw .refused(height: header.height, p)
    }
    if let p = state.problem(with: signed, on: header) {
      throw .refused(height: header.height, p)
    }
    let (next, outcomes) = state.evaluate(transactions, timestamp: header.timestamp)
    if let p = state.problem(with: header, transactions: transactions, outcomes: outcomes) {
      throw .refused(height: header.height, p)
    }
    state = next
    state.seal(header)
    return outcomes
  }
}

/// Why a block did not extend a verified chain.
public enum VerifiedChainError: Error, Equatable, CustomStringConvertible {
  case unreadable(height: UInt64, String)
  case refused(height: UInt64, String)

  public var description: String {
    switch self {
    case .unreadable(let h, let why): "the block for height \(h) does not decode: \(why)"
    case .refused(let h, let why): "block \(h) \(why)"
    }
  }
}
