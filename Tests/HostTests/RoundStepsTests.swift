import Federation
import Foundation
import Host
import Ledger
import Ordering
import Records
import XCTest

/// What each node does next, read from its ledger alone.
final class RoundStepsTests: XCTestCase {
  let members = (0..<3).map { _ in SigningKey() }
  let nodeKeys = (0..<3).map { _ in SigningKey() }
  let clusterKeys = (0..<3).map { _ in SigningKey() }
  var directory = ""

  override func setUp() {
    directory =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-steps-\(UUID().uuidString)"
      ).path
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

  var configuration: SimulationConfiguration {
    var c = SimulationConfiguration()
    c.clusters = 3
    c.rounds = 2
    c.participation.fraction = 1
    return c
  }

  func genesis() throws -> Genesis {
    Genesis(
      network: "steps", createdAt: "2026-12-07T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodeKeys.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: nodeKeys.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: 2, initialModel: Hash256.of([0]),
      round: try configuration.recordedSettings, rules: RoundRules(minimumCohort: 2),
      clustersPerMember: 1)
  }

  func steps(node: Int) -> RoundSteps {
    RoundSteps(
      configuration: configuration, node: "node-\(node)", nodes: ["node-0", "node-1", "node-2"],
      roundTimeout: 60)
  }

  func testEachRoundHasOneCoordinatorAndTheOthersFollowInTurn() {
    // Round 1 is node-0's, round 2 node-1's, round 3 node-2's, round 4 node-0's again.
    XCTAssertEqual((1...4).map { steps(node: 0).rank(round: $0) }, [0, 2, 1, 0])
    XCTAssertEqual((1...4).map { steps(node: 1).rank(round: $0) }, [1, 0, 2, 1])
    XCTAssertEqual((1...4).map { steps(node: 2).rank(round: $0) }, [2, 1, 0, 2])
    // A name genesis does not list never steps in before every node has.
    let stranger = RoundSteps(
      configuration: configuration, node: "node-9", nodes: ["node-0", "node-1"], roundTimeout: 1)
    XCTAssertEqual(stranger.rank(round: 1), 2)
  }

  func testTheParticipantsAreTheSimulationsSample() {
    var c = configuration
    c.clusters = 10
    c.participation.fraction = 0.3
    let s = RoundSteps(configuration: c, node: "node-0", nodes: ["node-0"], roundTimeout: 1)
    for round in 1...5 {
      var rng = Participants.generator(round: round, seed: c.seed)
      let drawn = Participants.sample(clusters: 10, fraction: 0.3, using: &rng)
      XCTAssertEqual(s.participants(round: UInt64(round)), drawn.map { "cluster-\($0)" })
      XCTAssertEqual(drawn.count, 3)
    }
  }

  func testOpenCloseAndAbortFollowTheLedgerAndTheClock() throws {
    let genesis = try genesis()
    let replicas = try nodeKeys.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    let replica = replicas[0]
    let orderer = try EmbeddedOrderer(replicas: replicas)
    try orderer.cut()
    let s = steps(node: 0)
    let now = Date()
    let held: (Hash256) -> Bool = { _ in false }
    XCTAssertEqual(s.next(replica.state, now: now, held: held), [], "nobody is enrolled")

    for (i, key) in clusterKeys.enumerated() {
      orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
            member: "member-\(i)", memberKey: members[i])))
    }
    try orderer.cut()
    let everyone = ["cluster-0", "cluster-1", "cluster-2"]
    XCTAssertEqual(
      s.next(replica.state, now: now, held: held),
      [.init(step: .open(round: 1, participants: everyone), rank: 0)])
    XCTAssertEqual(steps(node: 2).next(replica.state, now: now, held: held).map(\.rank), [2])

    orderer.submit(
      .roundOpen(
        RoundOpen(
          network: genesis.hash, round: 1, baseModel: genesis.initialModel!,
          participants: everyone, rules: genesis.rules, configuration: genesis.round,
          node: nodeKeys[0])))
    try orderer.cut()
    XCTAssertEqual(s.next(replica.state, now: now, held: held), [], "the clusters are training")
    let late = now.addingTimeInterval(61)
    // Deadlines run from when this node saw the round open and close, by its own clock.
    let seen = RoundSteps.Sightings(opened: now, closed: now)
    XCTAssertEqual(s.next(replica.state, now: late, held: held), [], "not seen open: no deadline")
    guard
      case .abort(1, let why)? = s.next(replica.state, now: late, seen: seen, held: held).first?
        .step
    else { return XCTFail("a round that timed out with no update aborts") }
    XCTAssertTrue(why.contains("0 update(s) arrived"), why)

    func commit(round: UInt64 = 1, _ i: Int) {
      let payload = Array("update \(i) of \(round)".utf8)
      orderer.submit(
        .commitment(
          UpdateCommitment(
            network: genesis.hash, round: round, cluster: "cluster-\(i)",
            payload: Hash256.of(payload), payloadSize: UInt64(payload.count),
            clusterKey: clusterKeys[i])))
    }
    commit(0)
    commit(1)
    try orderer.cut()
    XCTAssertEqual(s.next(replica.state, now: now, held: held), [], "one cluster is still to come")
    XCTAssertEqual(
      s.next(replica.state, now: late, seen: seen, held: held),
      [.init(step: .close(round: 1), rank: 0)],
      "at the deadline the round closes on the cohort that arrived")
    commit(2)
    try orderer.cut()
    XCTAssertEqual(
      s.next(replica.state, now: now, held: held), [.init(step: .close(round: 1), rank: 0)],
      "with every participant in, the round closes at once")

    let r = try XCTUnwrap(replica.state.rounds[1])
    orderer.submit(
      .roundClose(
        RoundClose(
          network: genesis.hash, round: 1, open: r.openHash, updates: r.entries,
          node: nodeKeys[0])))
    try orderer.cut()
    XCTAssertEqual(
      s.next(replica.state, now: now, held: held), [.init(step: .aggregate(round: 1), rank: 0)])
    // No statement found k endorsers long after the close: the coordinator aborts.
    let stalled = s.next(replica.state, now: late, seen: seen, held: held).map(\.step)
    XCTAssertEqual(stalled.count, 2)
    guard case .abort(1, _) = stalled[1] else { return XCTFail("\(stalled)") }

    orderer.submit(
      .roundAbort(
        RoundAbort(network: genesis.hash, round: 1, reason: "test", node: nodeKeys[1])))
    try orderer.cut()
    XCTAssertEqual(
      s.next(replica.state, now: now, held: held),
      [.init(step: .open(round: 2, participants: everyone), rank: 2)],
      "after an abort the next round opens, coordinated by node-1")

    // Attack: a node opens round 2 for clusters of its choosing; no node closes or aggregates
    // it, any proposes its abort at once.
    orderer.submit(
      .roundOpen(
        RoundOpen(
          network: genesis.hash, round: 2, baseModel: genesis.initialModel!,
          participants: ["cluster-0", "cluster-1"], rules: genesis.rules,
          configuration: genesis.round, node: nodeKeys[2])))
    commit(round: 2, 0)
    commit(round: 2, 1)
    try orderer.cut()
    let steps = s.next(replica.state, now: late, seen: seen, held: held)
    XCTAssertEqual(steps.count, 1)
    XCTAssertEqual(steps.first?.rank, 0)
    guard case .abort(2, let reason)? = steps.first?.step else { return XCTFail("\(steps)") }
    XCTAssertTrue(reason.contains("other clusters than the network's schedule"), reason)
  }
}
