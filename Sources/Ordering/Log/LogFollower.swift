import Ledger
import Records

/// One node's side of ordering by a shared log: it reads the log in order, builds each block
/// the log's cut markers make, signs it (or signs a refusal), and stores it once a quorum of
/// nodes' signatures on it has appeared in the log.
///
/// Everything follows from the log alone: the blocks (`BlockCutter`), their dates and
/// proposers (the markers'), and their fate. Walking the votes on a block in log order, the
/// first `blockQuorum` valid signatures of distinct genesis nodes store it, carrying exactly
/// those, so every node stores byte-identical blocks; or, first, `blockQuorum` valid refusals
/// void it, and the next marker dates the same transactions again at the same height. A block
/// dated too far from the nodes' clocks, by a faulty node or because the network was down,
/// does not stall the ledger. A void is a quorum's refusal: with `blockQuorum` more than half
/// the nodes, the void block can never gather a quorum of signatures (unless
/// `2 x blockQuorum - nodes` nodes are Byzantine, as any fork needs), so its signers may sign
/// its successor. A split that reaches neither quorum waits (issue 17: rounds of votes).
/// Log ordering needs `blockQuorum` more than half the nodes (`problem(with:)`). A node's own votes
/// count only once the log has them, like anyone else's. Pure logic: the caller reads the log
/// and writes the votes this returns.
public final class LogFollower {
  public let replica: LedgerReplica
  private var cutter: BlockCutter
  /// Blocks cut and not yet stored, oldest first; the first is at the replica's next height.
  private var queue: [Queued] = []
  /// Height the next block cut will have (voids keep heights: a voided block is dated again).
  private var nextCutHeight: UInt64
  /// The block at the replica's next height, built from the first of `queue`, and whether
  /// this node signed it.
  private var proposal: (block: Block, signed: Bool)?
  /// Votes read from the log, by height, in log order.
  private var votes: [UInt64: [Vote]] = [:]
  /// The height whose votes were checked against this node's block.
  private var checked: UInt64?
  /// The genesis nodes' keys.
  private let nodes: Set<PublicKey>

  struct Queued {
    var content: BlockCutter.Content
    /// Voided: waits for the next marker to date it again.
    var voided = false
  }

  enum Vote: Equatable {
    case signature(BlockSignature)
    case refusal(BlockRefusal)

    var signer: PublicKey {
      switch self {
      case .signature(let s): s.signer
      case .refusal(let r): r.signer
      }
    }

    func verifies(_ header: BlockHeader) -> Bool {
      switch self {
      case .signature(let s): s.verifies(header)
      case .refusal(let r): r.verifies(header)
      }
    }

    var isRefusal: Bool { if case .refusal = self { true } else { false } }
  }

  /// What following the log asks of the node, or tells it.
  public enum Step: Sendable {
    /// Write this signature of the block at `height` to the log.
    case sign(height: UInt64, signature: BlockSignature)
    /// This node will not sign the block at `height`, for `problem`: write the refusal to the
    /// log (it stores the block anyway if a quorum signs it).
    case refuse(height: UInt64, refusal: BlockRefusal, problem: String)
    /// Enough nodes refused the block at `height`: the next marker dates its transactions
    /// again (a node's timer should cut).
    case voided(height: UInt64)
    /// The block is stored, with the node's verdicts.
    case stored(OrderedBlock)
  }

  /// Why `genesis` cannot be ordered by a log, if it cannot: voids are safe only when a
  /// block quorum is more than half the nodes.
  public static func problem(with genesis: Genesis) -> String? {
    genesis.blockQuorum * 2 > genesis.nodes.count
      ? nil
      : "its block quorum (\(genesis.blockQuorum) of \(genesis.nodes.count) nodes) is not more than half the nodes, which ordering by a log needs"
  }

  public init(replica: LedgerReplica, maxBlockTransactions: Int = 1000) {
    self.replica = replica
    nodes = Set(replica.genesis.nodes.map(\.key))
    cutter = BlockCutter(
      genesis: Transaction.genesis(replica.genesis).canonicalBytes,
      maxBlockTransactions: maxBlockTransactions)
    nextCutHeight = 0
  }

  /// Whether a marker would cut something: transactions read since the last one, or a voided
  /// block waiting to be dated again (the node's timer cuts when there is).
  public var pendingCount: Int { cutter.pendingCount + (queue.first?.voided == true ? 1 : 0) }
  /// Cut markers read so far.
  public var markers: Int { cutter.markers }
  /// Whether the genesis block has been cut.
  public var genesisCut: Bool { nextCutHeight > 0 }
  /// Blocks cut but not yet stored on this node.
  public var unstored: Int { queue.count }
  /// The transactions the log holds beyond this node's newest block, in log order: those of
  /// blocks cut but not stored, then those not cut yet (the ledger's tip, as far as this node
  /// has read it).
  public var unstoredTransactions: [[UInt8]] {
    queue.flatMap(\.content.transactions) + cutter.pendingTransactions
  }

  /// Reads the log's next transaction.
  public func take(transaction bytes: [UInt8]) { cutter.add(transaction: bytes) }

  /// Reads the log's next cut marker. Blocks this node already stored (a restart replays the
  /// log from its start) are checked against the log, not built again. A marker naming a
  /// proposer that is not a genesis node is not one (no node could sign its block).
  public func take(marker: CutMarker) throws(LedgerError) -> [Step] {
    guard replica.genesis.nodes.contains(where: { $0.name == marker.proposer }) else { return [] }
    if queue.first?.voided == true {
      queue[0].content.timestamp = marker.timestamp
      queue[0].content.proposer = marker.proposer
      queue[0].voided = false
    }
    for content in cutter.add(marker: marker) {
      let height = nextCutHeight
      nextCutHeight += 1
      if let top = replica.height, height <= top {
        guard let stored = try replica.store.block(at: height),
          stored.transactions == content.transactions
        else {
          throw .corruptBlock(
            height: height,
            problem: "this node stored other transactions at this height than the log holds")
        }
        continue
      }
      queue.append(Queued(content: content))
    }
    return try advance()
  }

  /// Reads the log's next block signature, written for `height`.
  public func take(signature bytes: [UInt8], height: UInt64) throws(LedgerError) -> [Step] {
    guard let signature = try? BlockSignature(canonical: bytes) else { return [] }
    return try take(.signature(signature), height: height)
  }

  /// Reads the log's next block refusal, written for `height`.
  public func take(refusal bytes: [UInt8], height: UInt64) throws(LedgerError) -> [Step] {
    guard let refusal = try? BlockRefusal(canonical: bytes) else { return [] }
    return try take(.refusal(refusal), height: height)
  }

  /// Only votes that can count are kept: for a block the log has cut and this node has not
  /// stored (an honest node votes only after the marker), by a genesis node, not already held,
  /// and once the block is built, valid for it and the signer's first of its kind. Each entry
  /// is checked once, so a flood costs a decode and a check each, never a check of all again.
  private func take(_ vote: Vote, height: UInt64) throws(LedgerError) -> [Step] {
    if let top = replica.height, height <= top { return [] }
    guard height < nextCutHeight, nodes.contains(vote.signer),
      !(votes[height] ?? []).contains(vote)
    else { return [] }
    if let block = proposal?.block, block.header.height == height {
      guard vote.verifies(block.header),
        !(votes[height] ?? []).contains(where: {
          $0.signer == vote.signer && $0.isRefusal == vote.isRefusal
        })
      else { return [] }
    }
    votes[height, default: []].append(vote)
    return try advance()
  }

  /// Builds, votes on and stores (or voids) what the log allows, in height order.
  private func advance() throws(LedgerError) -> [Step] {
    var steps: [Step] = []
    while let head = queue.first, !head.voided {
      let content = head.content
      let height = replica.state.nextHeight
      if proposal == nil {
        let state = replica.state
        let timestamp = max(content.timestamp, state.lastTimestamp)
        let block = Block.make(
          network: state.network, height: height, previous: state.head,
          transactions: content.transactions,
          outcomes: replica.evaluate(content.transactions, timestamp: timestamp),
          timestamp: timestamp, proposer: content.proposer)
        do {
          steps.append(.sign(height: height, signature: try replica.sign(block)))
          proposal = (block, true)
        } catch {
          steps.append(
            .refuse(height: height, refusal: replica.refusal(of: block), problem: "\(error)"))
          proposal = (block, false)
        }
      }
      guard let (block, signed) = proposal else { break }
      switch decision(for: block) {
      case nil:
        return steps
      case .store(let signatures):
        var stored = block
        stored.signatures = signatures
        let outcomes = try replica.append(stored)
        steps.append(.stored(OrderedBlock(block: stored, outcomes: outcomes)))
        queue.removeFirst()
      case .void:
        // A quorum refused it: it can never be stored, so this node may sign its successor.
        if signed { try replica.forgetSignature(of: block) }
        queue[0].voided = true
        steps.append(.voided(height: height))
      }
      votes[height] = nil
      checked = nil
      proposal = nil
    }
    return steps
  }

  enum Decision {
    case store(BlockSignatures)
    case void
  }

  /// What the votes on `block` decide, walking them in log order: `blockQuorum` valid
  /// signatures store it, `blockQuorum` valid refusals void it, whichever the log reaches
  /// first; nil while neither.
  private func decision(for block: Block) -> Decision? {
    // Votes taken before the block was built are checked here, once (then only valid ones,
    // each signer's first of each kind, stay in log order); later ones were checked as they came.
    let height = block.header.height
    if checked != height {
      var signers = Set<PublicKey>()
      var refusers = Set<PublicKey>()
      votes[height] = (votes[height] ?? []).filter {
        guard $0.verifies(block.header) else { return false }
        return $0.isRefusal
          ? refusers.insert($0.signer).inserted : signers.insert($0.signer).inserted
      }
      checked = height
    }
    let quorum = replica.genesis.blockQuorum
    var signatures: [BlockSignature] = []
    var refusals = 0
    for vote in votes[height] ?? [] {
      switch vote {
      case .signature(let s):
        signatures.append(s)
        if signatures.count == quorum { return .store(BlockSignatures(signatures)) }
      case .refusal:
        refusals += 1
        if refusals == quorum { return .void }
      }
    }
    return nil
  }
}
