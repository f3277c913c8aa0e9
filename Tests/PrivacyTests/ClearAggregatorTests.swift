import Federation
import Learning
import Privacy
import Protection
import Records
import XCTest

/// Privacy mode none, node side: a node aggregates exactly the round the ledger closed.
final class ClearAggregatorTests: XCTestCase {
  let network = Hash256.of(Array("clear aggregator tests".utf8))
  let node = SigningKey()

  func model() throws -> Model {
    try Model(
      architecture: try Zoo.architecture(named: "mlp", inputShape: [4], classes: 2), seed: 3)
  }

  func aggregator(cohort: Int = 2, weighting: Weighting = .samples) -> ClearAggregator {
    ClearAggregator(
      strategy: StandardStrategy(
        rule: .mean, weighting: weighting, sampleCap: RoundRules().sampleCap,
        minimumCohort: cohort),
      key: node, network: network, nodes: [node.publicKey], quorum: 1,
      clusterName: { "cluster-\($0)" })
  }

  /// A closed round of `updates`, each committed under `committedAs` (default: its own name).
  func round(
    _ base: Model, _ updates: [ClusterUpdate], committedAs: [String]? = nil, cohort: Int = 2,
    payloads: [[UInt8]]? = nil, weighting: Weighting = .samples
  ) throws -> ClosedRound {
    let bytes = payloads ?? updates.map { UpdatePayload($0).encode() }
    let names = committedAs ?? updates.map { "cluster-\($0.cluster)" }
    let open = RoundOpen(
      network: network, round: 1, baseModel: try XCTUnwrap(Hash256(hex: base.hash)),
      participants: [], rules: RoundRules(weighting: weighting, minimumCohort: cohort),
      groupKey: nil, node: node)
    let close = RoundClose(
      network: network, round: 1, open: Hash256.of(open.transactionBytes),
      updates: zip(names, updates).map {
        .init(
          cluster: $0, key: SigningKey().publicKey, payload: Hash256.of(UpdatePayload($1).encode()))
      }, node: node)
    return ClosedRound(
      close: .lone(close.transactionBytes, network: network, signedBy: [node]),
      open: open.transactionBytes, baseModel: ModelFile.encode(base), payloads: bytes)
  }

  func update(_ cluster: Int, _ base: Model, value: Float) -> ClusterUpdate {
    ClusterUpdate(
      cluster: cluster, round: 1, baseModelHash: base.hash,
      delta: [Float](repeating: value, count: base.parameters.count), sampleCount: 10,
      trainLoss: 0.1, simulatedSeconds: 1)
  }

  /// It computes what the strategy computes, endorses it with its node key, and releases the
  /// model only against a commit of the statement it endorsed.
  func testEndorsesTheStrategysResultAndReleasesOnlyItsCommit() throws {
    let base = try model()
    let updates = (0..<3).map { update($0, base, value: Float($0) * 0.01) }
    let a = aggregator()
    guard case .endorsed(let e, let decisions, _) = try a.aggregate(try round(base, updates)) else {
      return XCTFail("three good updates endorse")
    }
    XCTAssertEqual(e.statement.accepted.count, 3)
    XCTAssertEqual(decisions?.count, 3)
    XCTAssertTrue(e.verifies(network: network))
    XCTAssertEqual(e.endorser, node.publicKey)
    let direct = StandardStrategy(
      rule: .mean, weighting: .samples, sampleCap: RoundRules().sampleCap, minimumCohort: 2)
    direct.begin(round: 1, baseModelHash: base.hash, global: base.parameters)
    updates.forEach(direct.add)
    let expected = try Model(
      architecture: base.architecture, parameters: direct.finish().parameters)
    XCTAssertEqual(e.statement.newModel, Hash256(hex: expected.hash))

    let s = e.statement
    let commit = ModelCommit(
      round: 1, model: s.newModel, modelBlob: s.newModelBlob, modelSize: s.newModelSize,
      statement: s.hash, endorsements: [])
    let file = try a.release(.lone(commit.transactionBytes, network: network, signedBy: [node]))
    XCTAssertEqual(Hash256.of(file), s.newModelBlob)
    var other = commit
    other.statement = Hash256.of([1])
    XCTAssertThrowsError(
      try a.release(.lone(other.transactionBytes, network: network, signedBy: [node]))
    ) { XCTAssertEqual($0 as? AggregatorError, .notEndorsed(statement: other.statement)) }
  }

  /// Attack: a cluster names another cluster inside its payload (to take its place, or to
  /// count twice). The ledger proves who committed each payload; the impostor is rejected.
  func testAPayloadNamingAnotherClusterIsRejected() throws {
    let base = try model()
    var updates = (0..<3).map { update($0, base, value: 0.01) }
    updates[2].cluster = 0
    guard
      case .endorsed(let e, _, let refused) = try aggregator().aggregate(
        try round(base, updates, committedAs: ["cluster-0", "cluster-1", "cluster-2"]))
    else { return XCTFail("two good updates still make the cohort") }
    XCTAssertEqual(e.statement.accepted.count, 2)
    XCTAssertEqual(e.statement.rejected.count, 1)
    XCTAssertTrue(e.statement.rejected[0].reason.contains("cluster-2 committed it"))
    XCTAssertEqual(refused, e.statement.rejected, "the host's report names the impostor too")
  }

  /// Attack: a gateway claims more devices than its cluster enrolled with (the close carries
  /// the enrolled count, 1 here), to weigh more under weighting by device.
  func testAClaimOfMoreDevicesThanEnrolledIsRejected() throws {
    let base = try model()
    var updates = (0..<3).map { update($0, base, value: 0.01) }
    updates[1].devices = 5
    guard
      case .endorsed(let e, _, _) = try aggregator(weighting: .devices).aggregate(
        try round(base, updates, weighting: .devices))
    else { return XCTFail("two good updates still make the cohort") }
    XCTAssertEqual(e.statement.accepted.count, 2)
    XCTAssertEqual(e.statement.rejected.count, 1)
    XCTAssert(
      e.statement.rejected.first?.reason.contains(
        "claims more devices than the 1 its cluster enrolled") ?? false, "\(e.statement.rejected)")
    // Under weighting by samples the device count decides nothing, and is not judged.
    guard case .endorsed(let s, _, _) = try aggregator().aggregate(try round(base, updates))
    else { return XCTFail("three good updates endorse") }
    XCTAssertEqual(s.statement.accepted.count, 3)
  }

  /// Attack: a host hands its aggregator other bytes than the ones committed.
  func testAPayloadThatIsNotTheCommittedOneStopsTheRound() throws {
    let base = try model()
    let updates = (0..<3).map { update($0, base, value: 0.01) }
    var forged = updates
    forged[1].delta[0] = 100
    XCTAssertThrowsError(
      try aggregator().aggregate(
        try round(base, updates, payloads: forged.map { UpdatePayload($0).encode() }))
    ) {
      guard case .invalidRound(let why) = $0 as? AggregatorError else {
        return XCTFail("\($0)")
      }
      XCTAssertTrue(why.contains("does not hash to its commitment"))
    }
  }

  /// Attack: whoever hands the node its round (a coordinator, its host) forges a close, say
  /// with two clusters' names swapped to have both rejected, or names another round-open. Only
  /// a close in a block the ledger's quorum signed is read.
  func testARoundTheLedgerDoesNotProveIsRefused() throws {
    let base = try model()
    let updates = (0..<3).map { update($0, base, value: 0.01) }
    var proven = try round(base, updates)
    let swapped = try round(
      base, updates, committedAs: ["cluster-1", "cluster-0", "cluster-2"])
    var forged = swapped
    let close = try RoundClose(transaction: swapped.close.transaction)
    forged.close = .lone(close.transactionBytes, network: network, signedBy: [SigningKey()])
    XCTAssertThrowsError(try aggregator().aggregate(forged)) {
      guard case .invalidRound(let why) = $0 as? AggregatorError else { return XCTFail("\($0)") }
      XCTAssertTrue(why.contains("the ledger does not prove the round closed"), why)
    }
    let open = try RoundOpen(transaction: proven.open)
    proven.open =
      RoundOpen(
        network: network, round: 2, baseModel: open.baseModel, participants: [],
        rules: open.rules, groupKey: nil, node: node
      ).transactionBytes
    XCTAssertThrowsError(try aggregator().aggregate(proven)) {
      guard case .invalidRound(let why) = $0 as? AggregatorError else { return XCTFail("\($0)") }
      XCTAssertTrue(why.contains("not the one round 1's round-close names"), why)
    }
  }

  /// Asked again for the same round (a retry), a node endorses the same statement: it never
  /// signs two for one round, even with a server optimiser whose state moves on `finish`.
  func testARetryGetsTheSameEndorsement() throws {
    let base = try model()
    let updates = (0..<3).map { update($0, base, value: 0.02) }
    let a = ClearAggregator(
      strategy: StandardStrategy(
        rule: .mean, weighting: .samples, server: .momentum(learningRate: 1, momentum: 0.9),
        sampleCap: RoundRules().sampleCap,
        minimumCohort: 2),
      key: node, network: network, nodes: [node.publicKey], quorum: 1,
      clusterName: { "cluster-\($0)" })
    let r = try round(base, updates)
    guard case .endorsed(let first, _, _) = try a.aggregate(r),
      case .endorsed(let again, _, _) = try a.aggregate(r)
    else { return XCTFail("endorsed") }
    XCTAssertEqual(first.statement, again.statement)
  }

  /// Attack: whoever hands the node its rounds asks for an older round after a newer one, or
  /// for the same round with another close, hoping a server optimiser's state has moved on:
  /// a node answers each round once.
  func testANodeAnswersEachRoundOnceAndOnlyForward() throws {
    let base = try model()
    let updates = (0..<3).map { update($0, base, value: 0.02) }
    let a = aggregator()
    let first = try round(base, updates)
    _ = try a.aggregate(first)
    let other = try round(base, Array(updates.prefix(2)))
    XCTAssertThrowsError(try a.aggregate(other)) {
      XCTAssertEqual($0 as? AggregatorError, .alreadyAnswered(round: 1, last: 1))
    }
  }

  /// An update of another round or base model than the close's is refused before the strategy
  /// sees it, whatever the strategy checks; a node whose strategy runs other rules than the
  /// round's endorses nothing.
  func testUpdatesAndStrategiesMustMatchTheRound() throws {
    let base = try model()
    var updates = (0..<4).map { update($0, base, value: 0.01) }
    updates[3].round = 9
    guard
      case .endorsed(let e, _, let refused) = try aggregator().aggregate(try round(base, updates))
    else { return XCTFail("three good updates endorse") }
    XCTAssertEqual(e.statement.accepted.count, 3)
    XCTAssertEqual(refused.count, 1)
    XCTAssertTrue(refused[0].reason.contains("is of round 9"), refused[0].reason)
    let median = ClearAggregator(
      strategy: StandardStrategy(
        rule: .median, weighting: .samples, sampleCap: RoundRules().sampleCap, minimumCohort: 2),
      key: node, network: network, nodes: [node.publicKey], quorum: 1,
      clusterName: { "cluster-\($0)" })
    XCTAssertThrowsError(try median.aggregate(try round(base, Array(updates.prefix(3))))) {
      XCTAssertTrue("\($0)".contains("runs median, the round's rules mean"), "\($0)")
    }
  }

  /// A strategy that cannot say which rules it runs.
  final class Unbound: Strategy {
    var description: String { "unbound" }
    func begin(round: Int, baseModelHash: String, global: [Float]) {}
    func add(_ update: ClusterUpdate) {}
    func finish() -> AggregationOutcome { AggregationOutcome(parameters: [], decisions: []) }
  }

  /// A node must not endorse as the round's what a strategy computed that cannot show it runs
  /// the round's rules.
  func testANodeRefusesToEndorseWithAStrategyThatCannotShowItsRules() throws {
    let base = try model()
    let updates = (0..<3).map { update($0, base, value: 0.01) }
    let a = ClearAggregator(
      strategy: Unbound(), key: node, network: network, nodes: [node.publicKey], quorum: 1,
      clusterName: { "cluster-\($0)" })
    XCTAssertThrowsError(try a.aggregate(try round(base, updates))) {
      XCTAssertTrue("\($0)".contains("cannot show that it runs the round's rules"), "\($0)")
    }
  }

  /// Fewer updates pass than the round-open's minimum cohort: no endorsement.
  func testTooFewPassingUpdatesEndorseNothing() throws {
    let base = try model()
    var updates = (0..<3).map { update($0, base, value: 0.01) }
    updates[1].delta[0] = .nan
    updates[2].baseModelHash = String(repeating: "0", count: 64)
    guard
      case .tooFewUpdates(let why) = try aggregator(cohort: 2).aggregate(
        try round(base, updates, cohort: 2))
    else { return XCTFail("one passing update is short of a cohort of 2") }
    XCTAssertEqual(why, RoundAbortReason.tooFewPassed(1, cohort: 2))
  }
}
