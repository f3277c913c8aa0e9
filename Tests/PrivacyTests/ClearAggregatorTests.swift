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

  func aggregator(cohort: Int = 2) -> ClearAggregator {
    ClearAggregator(
      strategy: StandardStrategy(rule: .mean, weighting: .samples, minimumCohort: cohort),
      key: node, network: network, clusterName: { "cluster-\($0)" })
  }

  /// A closed round of `updates`, each committed under `committedAs` (default: its own name).
  func round(
    _ base: Model, _ updates: [ClusterUpdate], committedAs: [String]? = nil, cohort: Int = 2,
    payloads: [[UInt8]]? = nil
  ) throws -> ClosedRound {
    let bytes = payloads ?? updates.map { UpdatePayload($0).encode() }
    let names = committedAs ?? updates.map { "cluster-\($0.cluster)" }
    let open = RoundOpen(
      network: network, round: 1, baseModel: try XCTUnwrap(Hash256(hex: base.hash)),
      participants: [], rules: RoundRules(minimumCohort: cohort), groupKey: nil, node: node)
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
    guard case .endorsed(let e, let decisions) = try a.aggregate(try round(base, updates)) else {
      return XCTFail("three good updates endorse")
    }
    XCTAssertEqual(e.statement.accepted.count, 3)
    XCTAssertEqual(decisions?.count, 3)
    XCTAssertTrue(e.verifies(network: network))
    XCTAssertEqual(e.endorser, node.publicKey)
    let direct = StandardStrategy(rule: .mean, weighting: .samples, minimumCohort: 2)
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
      case .endorsed(let e, _) = try aggregator().aggregate(
        try round(base, updates, committedAs: ["cluster-0", "cluster-1", "cluster-2"]))
    else { return XCTFail("two good updates still make the cohort") }
    XCTAssertEqual(e.statement.accepted.count, 2)
    XCTAssertEqual(e.statement.rejected.count, 1)
    XCTAssertTrue(e.statement.rejected[0].reason.contains("cluster-2 committed it"))
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
