import Foundation
import Records

// Secure aggregation as the ledger judges it: in a round whose rules have it, each participant
// sends its keys, then its shares, in stages a node closes; only those who dealt may commit a
// masked update; once the round-close names the survivors, they reveal shares, and a last
// stage-close fixes those before anyone may endorse. The ledger checks who may send what and
// when; the messages' bodies are SecAgg+'s, which every cluster and aggregator reads alike.

/// A round's secure-aggregation messages as the ledger holds them.
public struct SecAggProgress: Sendable {
  /// Valid messages by stage: their transaction hashes in ledger order.
  public internal(set) var messages: [SecAggStage: [Hash256]] = [:]
  /// The cluster that sent each valid message.
  public internal(set) var sender: [Hash256: String] = [:]
  var senders: [SecAggStage: Set<String>] = [:]
  /// Each stage's close, once ordered.
  public internal(set) var closes: [SecAggStage: SecAggStageClose] = [:]
  /// The public keys the round's keys messages carry: a key is advertised once.
  var usedKeys: Set<[UInt8]> = []

  /// The clusters a closed stage holds a message from.
  public func closedSenders(_ stage: SecAggStage) -> Set<String>? {
    guard let close = closes[stage] else { return nil }
    return Set(close.messages.compactMap { sender[$0] })
  }
}

extension LedgerState {
  /// Why round `r` takes no secure-aggregation step now, or nil.
  private func secaggRound(_ round: UInt64) -> (RoundState?, TransactionOutcome?) {
    guard let r = rounds[round], round == currentRound else {
      return (nil, .invalid("round \(round) is not the open round"))
    }
    if r.abort != nil { return (nil, .invalid("round \(round) was aborted")) }
    guard r.open.rules.secureAggregation != nil else {
      return (nil, .invalid("round \(round) does not run secure aggregation"))
    }
    return (r, nil)
  }

  mutating func apply(
    _ m: SecAggMessage, hash: Hash256, verifySignatures: Bool
  ) -> TransactionOutcome {
    let (found, refusal) = secaggRound(m.round)
    guard let r = found else { return refusal! }
    guard let key = clusters[m.cluster] else {
      return .invalid("cluster \"\(m.cluster)\" is not enrolled")
    }
    guard r.open.participants.contains(m.cluster) else {
      return .invalid("cluster \"\(m.cluster)\" was not asked to train in round \(m.round)")
    }
    let s = r.secagg
    switch m.stage {
    case .keys:
      if s.closes[.keys] != nil { return .invalid("round \(m.round)'s keys stage is closed") }
    case .shares:
      guard let keyed = s.closedSenders(.keys) else {
        return .invalid("round \(m.round)'s keys stage is not closed yet")
      }
      guard keyed.contains(m.cluster) else {
        return .invalid("cluster \"\(m.cluster)\" sent no keys in round \(m.round)")
      }
      if s.closes[.shares] != nil { return .invalid("round \(m.round)'s shares stage is closed") }
    case .reveals:
      guard let close = r.close else {
        return .invalid("round \(m.round) is not closed: shares are revealed for its survivors")
      }
      guard close.updates.contains(where: { $0.cluster == m.cluster }) else {
        return .invalid("cluster \"\(m.cluster)\" is not a survivor of round \(m.round)")
      }
      if s.closes[.reveals] != nil {
        return .invalid("round \(m.round)'s reveals stage is closed")
      }
    }
    if s.senders[m.stage]?.contains(m.cluster) == true {
      return .invalid(
        "cluster \"\(m.cluster)\" already sent its \(m.stage.name) in round \(m.round)")
    }
    if verifySignatures && !m.verifies(network: network, key: key) {
      return .invalid("the signature of cluster \"\(m.cluster)\" does not verify")
    }
    if m.stage == .keys, let refusal = keysProblem(m, in: r) { return refusal }
    rounds[m.round]!.secagg.messages[m.stage, default: []].append(hash)
    if m.stage == .keys {
      rounds[m.round]!.secagg.usedKeys.formUnion([Array(m.body[4..<36]), Array(m.body[36..<68])])
    }
    rounds[m.round]!.secagg.sender[hash] = m.cluster
    rounds[m.round]!.secagg.senders[m.stage, default: []].insert(m.cluster)
    return .valid
  }

  mutating func apply(_ c: SecAggStageClose, verifySignatures: Bool) -> TransactionOutcome {
    if let refusal = nodeSignatureProblem(c, verify: verifySignatures) { return refusal }
    let (found, refusal) = secaggRound(c.round)
    guard let r = found else { return refusal! }
    if c.open != r.openHash {
      return .invalid(
        "names round-open \(c.open.short), but round \(c.round) was opened by \(r.openHash.short)")
    }
    let s = r.secagg
    if s.closes[c.stage] != nil {
      return .invalid("round \(c.round)'s \(c.stage.name) stage is already closed")
    }
    switch c.stage {
    case .keys: break
    case .shares:
      if s.closes[.keys] == nil { return .invalid("round \(c.round)'s keys stage is not closed") }
    case .reveals:
      if r.close == nil { return .invalid("round \(c.round) is not closed") }
    }
    let held = s.messages[c.stage] ?? []
    if c.messages != held {
      return .invalid(
        "lists \(c.messages.count) \(c.stage.name) message(s), but the ledger holds \(held.count) for round \(c.round) with other hashes or order"
      )
    }
    if c.stage != .reveals && held.count < r.open.rules.minimumCohort {
      return .invalid(
        "closes round \(c.round)'s \(c.stage.name) with \(held.count) message(s); it needs at least \(r.open.rules.minimumCohort) (minimum cohort), or a round-abort"
      )
    }
    rounds[c.round]!.secagg.closes[c.stage] = c
    return .valid
  }

  /// Why a keys message is refused: its body must be the sender's own advertisement (its
  /// number in the round-open's list and two 32-byte keys) with keys no earlier message of the
  /// round carried, so a copier of another's keys is refused by name instead of knocking both
  /// out of the round.
  private func keysProblem(_ m: SecAggMessage, in r: RoundState) -> TransactionOutcome? {
    guard m.body.count == 68,
      let index = r.open.participants.firstIndex(of: m.cluster),
      m.body[0..<4].reduce(0, { $0 << 8 | UInt64($1) }) == UInt64(index)
    else {
      return .invalid(
        "cluster \"\(m.cluster)\"'s keys are not its advertisement as participant of round \(m.round)"
      )
    }
    let keys = [Array(m.body[4..<36]), Array(m.body[36..<68])]
    guard keys[0] != keys[1], !keys.contains(where: r.secagg.usedKeys.contains) else {
      return .invalid(
        "cluster \"\(m.cluster)\" advertises a key already advertised in round \(m.round)")
    }
    return nil
  }

  /// In a secure-aggregation round, why cluster `cluster` may not commit an update now.
  func secaggCommitmentProblem(_ r: RoundState, cluster: String) -> TransactionOutcome? {
    guard r.open.rules.secureAggregation != nil else { return nil }
    guard let dealt = r.secagg.closedSenders(.shares) else {
      return .invalid("round \(r.open.round)'s shares stage is not closed yet")
    }
    guard dealt.contains(cluster) else {
      return .invalid(
        "cluster \"\(cluster)\" dealt no shares in round \(r.open.round), so its masks could not be removed"
      )
    }
    return nil
  }
}

extension LedgerReplica {
  /// Round `round`'s messages in stage `stage`, as its stage-close fixes them: sender and
  /// body, in ledger order (nil before the close).
  public func secaggMessages(round: UInt64, stage: SecAggStage) throws -> [(
    cluster: String, body: [UInt8]
  )]? {
    guard let close = state.rounds[round]?.secagg.closes[stage] else { return nil }
    return try close.messages.map { hash in
      guard let stored = try store.transaction(hash),
        case .secaggMessage(let m) = try Transaction(canonical: stored.bytes)
      else {
        throw LedgerError.corruptBlock(
          height: state.nextHeight,
          problem: "secagg message \(hash.short) of round \(round) is missing from the store")
      }
      return (m.cluster, m.body)
    }
  }
}
