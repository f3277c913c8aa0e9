import Foundation
import Records

/// One node's copy of the ledger: its store, its blobs, and the state machine that checks
/// every block before it is kept.
///
/// Opening a replica replays the stored blocks, so a node restarted after a crash resumes at
/// its last complete block with the same state it had.
public final class LedgerReplica {
  public let name: String
  public let genesis: Genesis
  public let directory: String
  public let store: LedgerStore
  public let blobs: BlobStore
  private let key: SigningKey
  /// This node's clock, in milliseconds since 1970.
  private let clock: () -> UInt64
  public private(set) var state: LedgerState

  /// How far from its own clock a block's timestamp may be for this node to sign it. Blocks
  /// judge SGX evidence at their timestamp: one dated far ahead would make all collateral
  /// look expired, one dated far back could revive expired collateral.
  public static let maximumClockSkew: UInt64 = 5 * 60 * 1000

  public init(
    directory: String, genesis: Genesis, name: String, key: SigningKey,
    clock: @escaping () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }
  ) throws(LedgerError) {
    self.name = name
    self.clock = clock
    self.genesis = genesis
    self.directory = directory
    self.key = key
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw .storage(path: directory, reason: "cannot create: \(error.localizedDescription)")
    }
    store = try LedgerStore(path: directory + "/ledger.sqlite")
    blobs = try BlobStore(directory: directory + "/blobs")
    blobs.sweep()
    state = try Self.replay(store: store, genesis: genesis, verifySignatures: false)
  }

  public var publicKey: PublicKey { key.publicKey }
  public var head: Hash256 { state.head }

  /// A receipt for the model committed in `round`.
  public func receipt(round: UInt64) throws -> Receipt {
    try store.receipt(round: round, network: state.network)
  }

  /// A receipt for the newest commit of `model`.
  public func receipt(model: Hash256) throws -> Receipt {
    try store.receipt(model: model, network: state.network)
  }
  public var height: UInt64? { state.nextHeight == 0 ? nil : state.nextHeight - 1 }

  /// Rebuilds the state from stored blocks, checking each against the chain.
  /// `visit` sees each block after it checked, with its transactions' outcomes.
  static func replay(
    store: LedgerStore, genesis: Genesis, verifySignatures: Bool,
    visit: (Block, [TransactionOutcome]) throws -> Void = { _, _ in }
  ) throws(LedgerError) -> LedgerState {
    var state = LedgerState(genesis: genesis)
    do {
      try store.forEachBlock { block, stored, storedHash in
        let h = block.header.height
        if h == 0 && block.header.network != state.network {
          // Block 0 holding this genesis under another network name was altered; anything
          // else is another network's ledger.
          if block.transactions == [Transaction.genesis(genesis).canonicalBytes] {
            throw LedgerError.corruptBlock(
              height: 0,
              problem:
                "its header names network \(block.header.network.short), but it holds the genesis of \(state.network.short)"
            )
          }
          throw LedgerError.wrongNetwork(
            path: store.path, stored: block.header.network, expected: state.network)
        }
        if storedHash != block.hash {
          throw LedgerError.corruptBlock(
            height: h, problem: "its stored hash differs from the hash of its stored header")
        }
        if let p = state.problem(with: block.header, transactions: block.transactions)
          ?? state.problem(with: block.header, transactions: block.transactions, outcomes: stored)
        {
          throw LedgerError.corruptBlock(height: h, problem: "it \(p)")
        }
        if let p = state.problem(with: block.signatures, on: block.header) {
          throw LedgerError.corruptBlock(height: h, problem: "it \(p)")
        }
        // Signatures and enclave evidence inside valid transactions were checked when the
        // block was appended, and `LedgerAudit` checks them again; invalid ones are always
        // re-checked. Only validity is compared: a reason's wording (a verifier's message, a
        // date's format) may change between versions without the verdict changing.
        var (next, outcomes) = state.evaluate(
          block.transactions, timestamp: block.header.timestamp
        ) { i in
          verifySignatures || !stored[i].isValid
        }
        if let i = outcomes.indices.first(where: { outcomes[$0].isValid != stored[$0].isValid }) {
          throw LedgerError.corruptBlock(
            height: h,
            problem:
              "transaction \(i) was stored as \(describe(stored[i])) but checks as \(describe(outcomes[i]))"
          )
        }
        next.seal(block.header)
        state = next
        try visit(block, outcomes)
      }
    } catch let error as LedgerError {
      throw error
    } catch {
      throw .storage(path: store.path, reason: "\(error)")
    }
    return state
  }

  /// A block's verdicts and the state after it, evaluated once per block: the proposer's
  /// `evaluate`, then `sign`, then `append` reuse it.
  private var prepared:
    (
      height: UInt64, timestamp: UInt64, root: Hash256, next: LedgerState,
      outcomes: [TransactionOutcome]
    )?

  /// This node's verdicts on `transactions` as the next block, with this timestamp, for a
  /// proposer to build the header's Merkle root from.
  public func evaluate(_ transactions: [[UInt8]], timestamp: UInt64) -> [TransactionOutcome] {
    let (next, outcomes) = state.evaluate(transactions, timestamp: timestamp)
    prepared = (
      state.nextHeight, timestamp, Block.root(transactions, outcomes: outcomes), next, outcomes
    )
    return outcomes
  }

  /// Runs `block` on this node's state (or reuses the run `evaluate` made of the same
  /// transactions) and checks the header's root against this node's own verdicts.
  private func execute(_ block: Block) throws(LedgerError) -> (LedgerState, [TransactionOutcome]) {
    let h = block.header.height
    if let p = state.problem(with: block.header, transactions: block.transactions) {
      throw .rejectedBlock(node: name, height: h, problem: p)
    }
    // The root binds the transactions and their verdicts, which follow from this state: a run
    // prepared at this height with this root is this block's run.
    if let p = prepared, p.height == state.nextHeight, p.timestamp == block.header.timestamp,
      p.root == block.header.merkleRoot
    {
      return (p.next, p.outcomes)
    }
    let (next, outcomes) = state.evaluate(
      block.transactions, timestamp: block.header.timestamp)
    if let p = state.problem(
      with: block.header, transactions: block.transactions, outcomes: outcomes)
    {
      throw .rejectedBlock(node: name, height: h, problem: p)
    }
    prepared = (
      state.nextHeight, block.header.timestamp, block.header.merkleRoot, next, outcomes
    )
    return (next, outcomes)
  }

  /// Signs a proposed block after checking that it can follow this node's chain and that its
  /// Merkle root carries the verdicts this node reaches on its transactions.
  ///
  /// It also refuses a block dated more than `maximumClockSkew` from this node's clock (only
  /// here: a stored block is replayed at its own time, whenever that is).
  public func sign(_ block: Block) throws(LedgerError) -> BlockSignature {
    let now = clock()
    let t = block.header.timestamp
    if t > now + Self.maximumClockSkew || t + Self.maximumClockSkew < now {
      throw .rejectedBlock(
        node: name, height: block.header.height,
        problem:
          "is dated \(t) ms since 1970, more than \(Self.maximumClockSkew / 1000) s from this node's clock (\(now))"
      )
    }
    _ = try execute(block)
    do {
      try store.recordSigned(block.hash, at: block.header.height)
    } catch .rejectedBlock(_, let height, let problem) {
      throw .rejectedBlock(node: name, height: height, problem: problem)
    }
    return BlockSignature(header: block.header, key: key)
  }

  /// This node's signed refusal of `block`, which it will not sign.
  public func refusal(of block: Block) -> BlockRefusal {
    BlockRefusal(header: block.header, key: key)
  }

  /// Lets this node sign another block at `block`'s height. Only for a block that can never be
  /// stored: a log in which `blockQuorum` nodes refused it (with `blockQuorum` more than half
  /// the nodes, at most `nodes - blockQuorum` could sign it, fewer than a quorum, unless
  /// `2 x blockQuorum - nodes` or more are Byzantine, the bound every fork needs anyway).
  public func forgetSignature(of block: Block) throws(LedgerError) {
    try store.forgetSigned(block.hash, at: block.header.height)
    if prepared?.height == block.header.height { prepared = nil }
  }

  /// Checks a signed block, runs its transactions and stores it with their outcomes. The state
  /// moves on only once the block is durably stored.
  @discardableResult
  public func append(_ block: Block) throws(LedgerError) -> [TransactionOutcome] {
    let h = block.header.height
    if let p = state.problem(with: block.signatures, on: block.header) {
      throw .rejectedBlock(node: name, height: h, problem: p)
    }
    var (next, outcomes) = try execute(block)
    try store.append(block, outcomes: outcomes)
    next.seal(block.header)
    state = next
    prepared = nil
    return outcomes
  }
}

private func describe(_ o: TransactionOutcome) -> String {
  switch o {
  case .valid: "valid"
  case .invalid(let r): "invalid (\(r))"
  }
}

extension LedgerStore {
  /// The genesis stored in block 0, as this store holds it (not checked against anything).
  public func storedGenesis() throws -> Genesis? {
    guard let block = try block(at: 0), let first = block.transactions.first else { return nil }
    guard case .genesis(let g) = try Transaction(canonical: first) else {
      throw LedgerError.corruptBlock(height: 0, problem: "its first transaction is not a genesis")
    }
    do {
      try g.validate()
    } catch {
      throw LedgerError.corruptBlock(height: 0, problem: "its genesis is not valid: \(error)")
    }
    return g
  }

  /// A receipt for the model committed in `round`.
  public func receipt(round: UInt64, network: Hash256) throws -> Receipt {
    guard
      let commit = try transactions(kind: .modelCommit, round: round).first(where: {
        guard $0.outcome.isValid, case .modelCommit(let m) = try? Transaction(canonical: $0.bytes)
        else { return false }
        return m.round == round
      })
    else { throw ReceiptError.notCommitted(round: round) }
    return try receipt(for: commit, network: network)
  }

  /// A receipt for the newest commit of `model`.
  public func receipt(model: Hash256, network: Hash256) throws -> Receipt {
    let commits = try transactions(kind: .modelCommit).filter { $0.outcome.isValid }
    for c in commits.reversed() {
      if case .modelCommit(let m) = try Transaction(canonical: c.bytes), m.model == model {
        return try receipt(for: c, network: network)
      }
    }
    throw ReceiptError.modelNotCommitted(model: model)
  }

  private func receipt(for commit: StoredTransaction, network: Hash256) throws -> Receipt {
    guard let block = try block(at: commit.height),
      case .modelCommit(let m) = try Transaction(canonical: commit.bytes)
    else {
      throw LedgerError.corruptBlock(height: commit.height, problem: "its model commit is gone")
    }
    let valid = try transactions(at: commit.height).map(\.outcome.isValid)
    var endorsements: [[UInt8]] = []
    for h in m.endorsements {
      guard let e = try transaction(h) else {
        throw LedgerError.corruptBlock(
          height: commit.height, problem: "endorsement \(h.short) of its model commit is not stored"
        )
      }
      endorsements.append(e.bytes)
    }
    return Receipt(
      network: network, round: m.round, model: m.model, height: block.header.height,
      header: block.header, signatures: block.signatures.all, transaction: commit.bytes,
      index: commit.position, path: block.path(of: commit.position, valid: valid),
      endorsements: endorsements, metric: try metricProof(round: m.round, model: m.model))
  }

  /// The proof of the federated metric committed for `round`'s `model`, if there is one.
  private func metricProof(round: UInt64, model: Hash256) throws -> Receipt.MetricProof? {
    guard
      let commit = try transactions(kind: .metricCommit, round: round).first(where: {
        guard $0.outcome.isValid, case .metricCommit(let m) = try? Transaction(canonical: $0.bytes)
        else { return false }
        return m.round == round && m.model == model
      }),
      let block = try block(at: commit.height),
      case .metricCommit(let m) = try Transaction(canonical: commit.bytes)
    else { return nil }
    let valid = try transactions(at: commit.height).map(\.outcome.isValid)
    var endorsements: [[UInt8]] = []
    for h in m.endorsements {
      guard let e = try transaction(h) else {
        throw LedgerError.corruptBlock(
          height: commit.height,
          problem: "metric endorsement \(h.short) of its metric commit is not stored")
      }
      endorsements.append(e.bytes)
    }
    return Receipt.MetricProof(
      height: block.header.height, header: block.header, signatures: block.signatures.all,
      transaction: commit.bytes, index: commit.position,
      path: block.path(of: commit.position, valid: valid), endorsements: endorsements)
  }
}
