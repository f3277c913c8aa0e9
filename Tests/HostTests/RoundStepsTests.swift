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

  /// Three replicas ordered by an embedded orderer, past their genesis block.
  func network() throws -> (Genesis, LedgerReplica, EmbeddedOrderer) {
    let genesis = try genesis()
    let replicas = try nodeKeys.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    let orderer = try EmbeddedOrderer(replicas: replicas)
    try orderer.cut()
    return (genesis, replicas[0], orderer)
  }

  /// Submits the enrolment of clusters 0, 1 and 2.
  func enrol(_ genesis: Genesis, on orderer: EmbeddedOrderer) {
    for (i, key) in clusterKeys.enumerated() {
      orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
            member: "member-\(i)", memberKey: members[i])))
    }
  }

  func testOpenCloseAndAbortFollowTheLedgerAndTheClock() throws {
    let (genesis, replica, orderer) = try network()
    let s = steps(node: 0)
    let now = Date()
    let held: (Hash256) -> Bool = { _ in false }
    XCTAssertEqual(s.next(replica.state, now: now, held: held), [], "nobody is enrolled")

    enrol(genesis, on: orderer)
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

  /// The endorsement that completes the quorum carries the commit and the next round's open,
  /// whether the others are stored or only in the log; a forged endorsement read ahead in the
  /// log (attack: a node writes one under another endorser's key) costs only a commit the
  /// ledger refuses, and the honest commit follows.
  func testTheEndorsementThatCompletesTheQuorumCarriesTheCommit() throws {
    let (genesis, replica, orderer) = try network()
    enrol(genesis, on: orderer)
    let everyone = ["cluster-0", "cluster-1", "cluster-2"]
    orderer.submit(
      .roundOpen(
        RoundOpen(
          network: genesis.hash, round: 1, baseModel: genesis.initialModel!,
          participants: everyone, rules: genesis.rules, configuration: genesis.round,
          node: nodeKeys[0])))
    try orderer.cut()
    var updates: [Hash256] = []
    for i in 0..<3 {
      let payload = Array("update \(i)".utf8)
      updates.append(Hash256.of(payload))
      orderer.submit(
        .commitment(
          UpdateCommitment(
            network: genesis.hash, round: 1, cluster: "cluster-\(i)",
            payload: Hash256.of(payload), payloadSize: UInt64(payload.count),
            clusterKey: clusterKeys[i])))
    }
    try orderer.cut()
    let r = try XCTUnwrap(replica.state.rounds[1])
    orderer.submit(
      .roundClose(
        RoundClose(
          network: genesis.hash, round: 1, open: r.openHash, updates: r.entries,
          node: nodeKeys[0])))
    try orderer.cut()

    func statement(_ model: String) -> AggregationStatement {
      AggregationStatement(
        round: 1, baseModel: genesis.initialModel!, accepted: updates.map { .init(update: $0) },
        rejected: [], rule: genesis.rules.ruleName, parameters: genesis.rules.statementParameters,
        newModel: Hash256.of(Array(model.utf8)), newModelBlob: Hash256.of(Array(model.utf8)),
        newModelSize: 1)
    }
    let s = statement("model")
    func endorsement(_ i: Int) -> [UInt8] {
      Transaction.endorsement(Endorsement(network: genesis.hash, statement: s, key: nodeKeys[i]))
        .canonicalBytes
    }
    let steps0 = steps(node: 0)
    let now = Date()
    let held: (Hash256) -> Bool = { _ in false }
    func behind(_ beyond: [[UInt8]]) -> ModelCommit? {
      switch steps0.commitBehind(
        endorsement(0), round: 1, state: replica.state, beyond: beyond, now: now, held: held)
      {
      case .commitThenOpen(let c, let participants)?:
        XCTAssertEqual(participants, everyone)
        return c
      case nil: return nil
      case let other?:
        XCTFail("\(other)")
        return nil
      }
    }
    XCTAssertNil(behind([]), "the first endorsement of two does not complete the quorum")
    // Another endorser's, in the log but not stored yet: this one is the k-th.
    let early = try XCTUnwrap(behind([endorsement(1)]))
    XCTAssertEqual(early.statement, s.hash)
    XCTAssertEqual(early.endorsements.count, 2)

    // Attack: node-1's key on the statement, with a signature it never made.
    var forged = Endorsement(network: genesis.hash, statement: statement("other"), key: nodeKeys[1])
    forged.statement = s
    let forgedBytes = Transaction.endorsement(forged).canonicalBytes
    let fooled = try XCTUnwrap(behind([forgedBytes]))
    let (_, outcomes) = replica.state.evaluate(
      [forgedBytes, endorsement(0), Transaction.modelCommit(fooled).canonicalBytes],
      timestamp: replica.state.lastTimestamp)
    XCTAssertFalse(outcomes[0].isValid, "the forged endorsement is refused")
    XCTAssertTrue(outcomes[1].isValid)
    XCTAssertFalse(outcomes[2].isValid, "and so is the commit that counted it")

    // Stored: node-0's endorsement alone, then node-2's completes the quorum with it.
    orderer.submit(try Transaction(canonical: forgedBytes))
    orderer.submit(try Transaction(canonical: endorsement(0)))
    try orderer.cut()
    XCTAssertNil(replica.state.rounds[1]?.commit)
    guard
      case .commitThenOpen(let honest, _)? = steps(node: 2).commitBehind(
        endorsement(2), round: 1, state: replica.state, beyond: [], now: now, held: held)
    else { return XCTFail("node-2's endorsement completes the quorum") }
    orderer.submit(try Transaction(canonical: endorsement(2)))
    orderer.submit(.modelCommit(honest))
    try orderer.cut()
    XCTAssertEqual(replica.state.rounds[1]?.commit?.model, s.newModel)
  }
}
