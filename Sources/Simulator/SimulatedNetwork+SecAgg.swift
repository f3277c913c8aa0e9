import Federation
import Gateway
import Ledger
import Records

// Privacy mode secagg's steps around a round, each on the ledger: at the open, every asked
// cluster sends its keys, then (once a node closed the keys stage) its shares; after the
// round-close, the survivors reveal what the unmasking needs, and a node closes that stage
// before the nodes aggregate.

extension SimulatedNetwork {
  /// Stages 1 and 2, before the clusters train: keys and shares (training does not need them,
  /// and a cluster that drops out later is then recovered).
  func secaggSetUp(_ open: RoundOpen, participants: [ClusterID], parameters: Int) throws {
    let round = open.round
    try cut("round \(round) open")
    let asked = participants.filter { agents.indices.contains($0) }
    for id in asked {
      orderer.submit(
        try agents[id].secaggKeys(
          roundOpen: openTransaction, open: open, parameterCount: parameters))
    }
    try cut("round \(round) secure-aggregation keys")
    guard let keys = try closeStage(.keys, round: round) else { return }
    for id in asked {
      // A cluster left with too few neighbours deals nothing: it drops out of the round.
      if let shares = try? agents[id].secaggShares(keys) { orderer.submit(shares) }
    }
    try cut("round \(round) secure-aggregation shares")
    secaggShares = try closeStage(.shares, round: round)
  }

  /// Stage 4, after the round-close: the survivors' reveals and their close.
  func secaggReveal(round: Int) throws {
    let r = UInt64(round)
    let state = orderer.replicas[0].state.rounds[r]
    let survivors = state?.close?.updates.map(\.cluster) ?? []
    let dealers = state?.secagg.closedSenders(.shares) ?? []
    let dropped = dealers.subtracting(survivors).sorted()
    for name in survivors {
      guard let agent = agents.first(where: { $0.name == name }) else { continue }
      // A survivor left with fewer than t surviving neighbours reveals nothing.
      if let reveal = try? agent.secaggReveal(survivors: survivors, dropped: dropped) {
        orderer.submit(reveal)
      }
    }
    try cut("round \(round) secure-aggregation reveals")
    _ = try closeStage(.reveals, round: r)
  }

  /// Closes `stage` on exactly the messages the ledger holds, unless they are too few (the
  /// round then aborts for want of updates); returns the messages the close fixed.
  private func closeStage(_ stage: SecAggStage, round: UInt64) throws -> [(
    cluster: String, body: [UInt8]
  )]? {
    let held = orderer.replicas[0].state.rounds[round]?.secagg.messages[stage] ?? []
    if stage != .reveals && held.count < rules.minimumCohort { return nil }
    _ = try order(
      coordinator.secaggStageClose(
        round: round, open: Hash256.of(openTransaction), stage: stage, messages: held),
      round: Int(round), what: "secure-aggregation \(stage.name) close",
      in: "round \(round) \(stage.name) close")
    return try orderer.replicas[0].secaggMessages(round: round, stage: stage)
  }
}
