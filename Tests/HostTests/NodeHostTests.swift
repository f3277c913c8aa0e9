import Foundation
import Host
import Ledger
import Ordering
import Privacy
import Records
import XCTest

/// A node's host hands its aggregator only the round its own ledger closed, with the payloads
/// from its own blob store.
final class NodeHostTests: XCTestCase {
  /// Records what it was asked; endorses nothing.
  final class RecordingAggregator: RoundAggregator {
    var rounds: [ClosedRound] = []
    func aggregate(_ round: ClosedRound) throws -> AggregatorVerdict {
      rounds.append(round)
      return .tooFewUpdates("recorded")
    }
    func release(_ commit: InclusionProof) throws -> [UInt8] { [] }
    var evaluations: [ClosedEvaluation] = []
    func combine(_ evaluation: ClosedEvaluation) throws -> MetricVerdict {
      evaluations.append(evaluation)
      return .tooFewReports("recorded")
    }
  }

  let members = (0..<3).map { _ in SigningKey() }
  let clusters = (0..<3).map { _ in SigningKey() }
  let node = SigningKey()
  var directory = ""

  override func setUpWithError() throws {
    directory =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-nodehost-\(UUID().uuidString)"
      ).path
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

  func testItAggregatesOnlyTheCloseItsLedgerHoldsWithItsOwnPayloads() throws {
    let genesis = Genesis(
      network: "nodehost-test", createdAt: "2026-12-07T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: [.init(name: "node-0", member: "member-0", key: node.publicKey)],
      endorsers: [.init(name: "node-0", key: node.publicKey)], endorsementThreshold: 1,
      initialModel: Hash256.of([0]), round: [], rules: RoundRules(minimumCohort: 2),
      clustersPerMember: 1)
    try genesis.validate()
    let replica = try LedgerReplica(
      directory: directory + "/node-0", genesis: genesis, name: "node-0", key: node)
    let orderer = try EmbeddedOrderer(replicas: [replica])
    let aggregator = RecordingAggregator()
    let host = NodeHost(replica: replica, key: node, aggregator: aggregator)
    for (i, key) in clusters.enumerated() {
      orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
            member: "member-\(i)", memberKey: members[i])))
    }
    let open = host.roundOpen(
      round: 1, baseModel: Hash256.of([0]), participants: [], rules: genesis.rules,
      configuration: [], groupKey: nil)
    orderer.submit(open)
    var entries: [RoundClose.Entry] = []
    for (i, key) in clusters.enumerated() {
      let payload = Array("update \(i)".utf8)
      let hash = try replica.blobs.put(payload)
      entries.append(.init(cluster: "cluster-\(i)", key: key.publicKey, payload: hash))
      orderer.submit(
        .commitment(
          UpdateCommitment(
            network: genesis.hash, round: 1, cluster: "cluster-\(i)", payload: hash,
            payloadSize: UInt64(payload.count), clusterKey: key)))
    }
    let close = host.roundClose(round: 1, open: Hash256.of(open.canonicalBytes), updates: entries)
    orderer.submit(close)
    let proof = try XCTUnwrap(
      try orderer.cut().lazy.compactMap { $0.proof(of: close.canonicalBytes) }.first)
    let base = Array("base model file".utf8)

    _ = try host.aggregate(closed: proof, open: open.canonicalBytes, baseModel: base)
    XCTAssertEqual(aggregator.rounds.count, 1)
    XCTAssertEqual(
      aggregator.rounds[0].payloads, (0..<3).map { Array("update \($0)".utf8) },
      "the payloads come from the node's own blob store, in the close's order")

    // Attack: a close signed by the node's key (as a forked block would be) that drops a
    // cluster. The ledger this node holds closed the round otherwise: refused before the
    // aggregator sees anything.
    let forged = host.roundClose(
      round: 1, open: Hash256.of(open.canonicalBytes), updates: Array(entries.prefix(2)))
    let forgedProof = InclusionProof.lone(
      forged.canonicalBytes, network: genesis.hash, height: proof.header.height, signedBy: [node])
    XCTAssertThrowsError(
      try host.aggregate(closed: forgedProof, open: open.canonicalBytes, baseModel: base)
    ) {
      guard case .invalidRound(let why) = $0 as? AggregatorError else {
        return XCTFail("\($0)")
      }
      XCTAssertTrue(why.contains("not the one this node's ledger holds"), why)
    }
    XCTAssertEqual(aggregator.rounds.count, 1)
  }
}
