import Learning
import Ledger
import Records

/// What a node-side aggregator (modes none and secagg) does first and last with a round: take
/// only the round the ledger proves, on the base model its round-open names, after the last
/// round it answered; and release a model only against the commit of the statement it endorsed.
enum NodeRound {
  /// The proven round and its base model, or why the round is not usable here.
  static func prove(
    _ round: ClosedRound, nodes: Set<PublicKey>, quorum: Int, network: Hash256,
    after last: UInt64?
  ) throws -> (ProvenRound, Model) {
    let proven: ProvenRound
    let base: Model
    do {
      proven = try ProvenRound(closed: round.close, open: round.open, nodes: nodes, quorum: quorum)
      base = try ModelFile.decode(round.baseModel, path: "round \(proven.round) base model")
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    // Rounds only move forward, and a round is answered once: an old or another close would
    // make this node sign a second statement.
    if let last, proven.close.round <= last {
      throw AggregatorError.alreadyAnswered(round: proven.close.round, last: last)
    }
    guard proven.network == network else {
      throw AggregatorError.invalidRound("the round is of another network")
    }
    guard Hash256(hex: base.hash) == proven.open.baseModel else {
      throw AggregatorError.invalidRound("the base model is not the one the round-open names")
    }
    return (proven, base)
  }

  /// The model file endorsed as `statement`, against the ledger's proof of its commit.
  static func release(_ commit: InclusionProof, endorsed statement: Hash256?, file: [UInt8])
    throws -> [UInt8]
  {
    let committed: ModelCommit
    do {
      committed = try ModelCommit(transaction: commit.transaction)
    } catch {
      throw AggregatorError.invalidRound("\(error)")
    }
    guard let statement, statement == committed.statement else {
      throw AggregatorError.notEndorsed(statement: committed.statement)
    }
    return file
  }
}
