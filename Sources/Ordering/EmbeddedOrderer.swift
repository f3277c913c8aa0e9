import Dispatch
import Foundation
import Ledger
import Records

/// Orders transactions for the ledger nodes of one process (the `embedded` ordering).
///
/// Pending transactions are cut into blocks; every node checks and signs each block, and each
/// stores it once it carries enough signatures.
public final class EmbeddedOrderer: Orderer {
  public let replicas: [LedgerReplica]
  public let maxBlockTransactions: Int
  private var pending: [[UInt8]] = []
  private let clock: () -> UInt64

  /// `clock` gives milliseconds since 1970; block timestamps never go backwards.
  public init(
    replicas: [LedgerReplica], maxBlockTransactions: Int = 1000,
    clock: @escaping () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }
  ) throws(LedgerError) {
    precondition(!replicas.isEmpty && maxBlockTransactions > 0)
    self.replicas = replicas
    self.maxBlockTransactions = maxBlockTransactions
    self.clock = clock
    try catchUp()
  }

  public var genesis: Genesis { replicas[0].genesis }
  var pendingCount: Int { pending.count }

  /// The node that proposes blocks: the first in genesis that this orderer serves.
  public var proposer: String {
    let names = Set(replicas.map(\.name))
    return genesis.nodes.first { names.contains($0.name) }?.name ?? replicas[0].name
  }

  public func submit(bytes: [UInt8]) { pending.append(bytes) }

  /// Cuts everything pending into blocks and has every node store them. Writes the genesis
  /// block first if the ledger is empty.
  @discardableResult
  public func cut() throws(LedgerError) -> [OrderedBlock] {
    var ordered: [OrderedBlock] = []
    if replicas[0].height == nil {
      ordered.append(try order([Transaction.genesis(genesis).canonicalBytes]))
    }
    while !pending.isEmpty {
      let batch = Array(pending.prefix(maxBlockTransactions))
      ordered.append(try order(batch))
      pending.removeFirst(batch.count)
    }
    return ordered
  }

  private func order(_ transactions: [[UInt8]]) throws(LedgerError) -> OrderedBlock {
    let lead = replicas[0].state
    // The proposer's verdicts go into the header's root; every node checks them as it signs.
    let timestamp = max(clock(), lead.lastTimestamp)
    var block = Block.make(
      network: lead.network, height: lead.nextHeight, previous: lead.head,
      transactions: transactions,
      outcomes: replicas[0].evaluate(transactions, timestamp: timestamp),
      timestamp: timestamp, proposer: proposer)
    let proposed = block
    block.signatures = BlockSignatures(
      try onEveryNode { (r: LedgerReplica) throws(LedgerError) in try r.sign(proposed) })
    let signed = block
    let outcomes = try onEveryNode { (r: LedgerReplica) throws(LedgerError) in
      try r.append(signed)
    }
    for (r, o) in zip(replicas, outcomes) where o != outcomes[0] {
      // Deterministic validation makes this impossible unless a node's state is damaged.
      throw .rejectedBlock(
        node: r.name, height: block.header.height,
        problem: "reached different verdicts on its transactions than node \(replicas[0].name)")
    }
    return OrderedBlock(block: block, outcomes: outcomes[0])

  }

  /// Runs `body` on every node at once, one thread per node (nodes share nothing but the
  /// block), and returns the results in node order or the first node's error.
  private func onEveryNode<T>(_ body: (LedgerReplica) throws(LedgerError) -> T) throws(LedgerError)
    -> [T]
  {
    if replicas.count == 1 { return [try body(replicas[0])] }
    var results = [Result<T, LedgerError>?](repeating: nil, count: replicas.count)
    results.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      nonisolated(unsafe) let body = body
      nonisolated(unsafe) let replicas = replicas
      DispatchQueue.concurrentPerform(iterations: replicas.count) { i in
        out[i] = Result { () throws(LedgerError) -> T in try body(replicas[i]) }
      }
    }
    var values: [T] = []
    for r in results { values.append(try r!.get()) }
    return values
  }

  /// Brings nodes that stopped behind (a crash between two nodes' writes) up to the furthest
  /// node, block by block, each checked as if it were new.
  public func catchUp() throws(LedgerError) {
    let stored = replicas.compactMap { r in r.height.map { (r, $0) } }
    guard let (lead, top) = stored.max(by: { $0.1 < $1.1 }) else { return }
    for r in replicas where r !== lead {
      let from = r.height.map { $0 + 1 } ?? 0
      guard from <= top else { continue }
      for h in from...top {
        guard let block = try lead.store.block(at: h) else {
          throw .corruptBlock(height: h, problem: "node \(lead.name) has no block at this height")
        }
        try r.append(block)
      }
    }
  }

  /// Each node's head hash; after `cut` they are all the same.
  public var heads: [(node: String, head: Hash256)] { replicas.map { ($0.name, $0.head) } }
}
