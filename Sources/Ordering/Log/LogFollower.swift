import Ledger
import Records

/// One node's side of ordering by a shared log: it reads the log in order, builds each block
/// the log's cut markers make, signs it, and stores it once a quorum of nodes' signatures on it
/// has appeared in the log.
///
/// Everything follows from the log alone: the blocks (`BlockCutter`), their dates and
/// proposers (the markers'), and the signatures each carries (the first `blockQuorum` valid
/// ones, in log order), so every node stores byte-identical blocks. A node's own signature
/// counts only once the log has it, like anyone else's. Pure logic: the caller reads the log
/// and writes the signatures this returns.
public final class LogFollower {
  public let replica: LedgerReplica
  private var cutter: BlockCutter
  /// Blocks cut and not yet stored, oldest first; the first is at the replica's next height.
  private var queue: [BlockCutter.Content] = []
  /// Height the next block cut will have.
  private var nextCutHeight: UInt64
  /// The block at the replica's next height, built from the first of `queue`.
  private var proposal: Block?
  /// Signatures read from the log, by height, in log order.
  private var signatures: [UInt64: [BlockSignature]] = [:]
  /// The height whose signatures were checked against this node's block.
  private var checked: UInt64?

  /// What following the log asks of the node, or tells it.
  public enum Step: Sendable {
    /// Write this signature of the block at `height` to the log.
    case sign(height: UInt64, signature: BlockSignature)
    /// This node will not sign the block at `height` (it stores it anyway if a quorum does).
    case refused(height: UInt64, problem: String)
    /// The block is stored, with the node's verdicts.
    case stored(OrderedBlock)
  }

  /// The genesis nodes' keys.
  private let nodes: Set<PublicKey>

  public init(replica: LedgerReplica, maxBlockTransactions: Int = 1000) {
    self.replica = replica
    nodes = Set(replica.genesis.nodes.map(\.key))
    cutter = BlockCutter(
      genesis: Transaction.genesis(replica.genesis).canonicalBytes,
      maxBlockTransactions: maxBlockTransactions)
    nextCutHeight = 0
  }

  /// Transactions read since the last marker (the node's timer cuts when there are any).
  public var pendingCount: Int { cutter.pendingCount }
  /// Cut markers read so far.
  public var markers: Int { cutter.markers }
  /// Whether the genesis block has been cut.
  public var genesisCut: Bool { nextCutHeight > 0 }
  /// Blocks cut but not yet stored on this node.
  public var unstored: Int { queue.count }

  /// Reads the log's next transaction.
  public func take(transaction bytes: [UInt8]) { cutter.add(transaction: bytes) }

  /// Reads the log's next cut marker. Blocks this node already stored (a restart replays the
  /// log from its start) are checked against the log, not built again. A marker naming a
  /// proposer that is not a genesis node is not one (no node could sign its block).
  public func take(marker: CutMarker) throws(LedgerError) -> [Step] {
    guard replica.genesis.nodes.contains(where: { $0.name == marker.proposer }) else { return [] }
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
      queue.append(content)
    }
    return try advance()
  }

  /// Reads the log's next block signature, written for `height`.
  ///
  /// Only signatures that can count are kept: for a block the log has cut and this node has
  /// not stored (an honest node signs only after the marker), by a genesis node, not already
  /// held, and once the block is built, valid for it. Each entry is checked once, so a flood
  /// costs a decode and a check each, never a check of everything again.
  public func take(signature bytes: [UInt8], height: UInt64) throws(LedgerError) -> [Step] {
    if let top = replica.height, height <= top { return [] }
    guard height < nextCutHeight, let signature = try? BlockSignature(canonical: bytes),
      nodes.contains(signature.signer), !(signatures[height] ?? []).contains(signature)
    else { return [] }
    if let block = proposal, block.header.height == height {
      guard signature.verifies(block.header),
        !(signatures[height] ?? []).contains(where: { $0.signer == signature.signer })
      else { return [] }
    }
    signatures[height, default: []].append(signature)
    return try advance()
  }

  /// Builds, signs and stores what the log allows, in height order.
  private func advance() throws(LedgerError) -> [Step] {
    var steps: [Step] = []
    while let content = queue.first {
      let height = replica.state.nextHeight
      if proposal == nil {
        let state = replica.state
        let timestamp = max(content.timestamp, state.lastTimestamp)
        let block = Block.make(
          network: state.network, height: height, previous: state.head,
          transactions: content.transactions,
          outcomes: replica.evaluate(content.transactions, timestamp: timestamp),
          timestamp: timestamp, proposer: content.proposer)
        proposal = block
        do {
          steps.append(.sign(height: height, signature: try replica.sign(block)))
        } catch {
          steps.append(.refused(height: height, problem: "\(error)"))
        }
      }
      guard var block = proposal, let signed = quorum(for: block) else { break }
      block.signatures = signed
      let outcomes = try replica.append(block)
      steps.append(.stored(OrderedBlock(block: block, outcomes: outcomes)))
      signatures[height] = nil
      proposal = nil
      queue.removeFirst()
    }
    return steps
  }

  /// The first `blockQuorum` valid signatures of distinct genesis nodes on `block`, in log
  /// order, once the log has that many.
  private func quorum(for block: Block) -> BlockSignatures? {
    // Signatures taken before the block was built are checked here, once (then only valid
    // ones of distinct nodes stay, in log order); later ones were checked as they came.
    let height = block.header.height
    if checked != height {
      var signers = Set<PublicKey>()
      signatures[height] = (signatures[height] ?? []).filter {
        $0.verifies(block.header) && signers.insert($0.signer).inserted
      }
      checked = height
    }
    let valid = signatures[height] ?? []
    let quorum = replica.genesis.blockQuorum
    return valid.count >= quorum ? BlockSignatures(Array(valid.prefix(quorum))) : nil
  }
}
