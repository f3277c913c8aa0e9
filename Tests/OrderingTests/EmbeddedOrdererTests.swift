import Foundation
import Ledger
import Ordering
import Records
import RecordsJSON
import XCTest

/// The orderer decides only the order: every node judges every transaction itself.
final class EmbeddedOrdererTests: XCTestCase {
  let members = (0..<3).map { _ in SigningKey() }
  let nodes = (0..<3).map { _ in SigningKey() }
  var directory = ""

  override func setUpWithError() throws {
    directory =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-ordering-\(UUID().uuidString)"
      ).path
  }

  override func tearDown() { try? FileManager.default.removeItem(atPath: directory) }

  func orderer() throws -> (EmbeddedOrderer, Genesis) {
    let genesis = Genesis(
      network: "ordering-test", createdAt: "2026-12-07T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodes.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: nodes.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: 2, initialModel: Hash256.of([0]), round: [],
      rules: RoundRules(minimumCohort: 2), clustersPerMember: 1)
    try genesis.validate()
    let replicas = try nodes.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    return (try EmbeddedOrderer(replicas: replicas), genesis)
  }

  func enrolment(_ cluster: String, member: Int, signedBy key: SigningKey? = nil, network: Hash256)
    -> Transaction
  {
    .enrolment(
      ClusterEnrolment(
        network: network, cluster: cluster, key: SigningKey().publicKey, member: "member-\(member)",
        memberKey: key ?? members[member]))
  }

  /// A transaction the orderer should not have taken is stored as invalid, with its reason, on
  /// every node alike; a proof exists only for valid ones, and it verifies against genesis.
  func testEveryNodeJudgesEveryTransactionAndProofsAreOfValidOnes() throws {
    let (orderer, genesis) = try orderer()
    let good = enrolment("cluster-0", member: 0, network: genesis.hash)
    let forged = enrolment("cluster-1", member: 1, signedBy: SigningKey(), network: genesis.hash)
    orderer.submit(good)
    orderer.submit(forged)
    let blocks = try orderer.cut()
    XCTAssertEqual(blocks.count, 2, "the genesis block, then ours")
    let block = try XCTUnwrap(blocks.last)
    XCTAssertEqual(block.outcomes.map(\.isValid), [true, false])
    XCTAssertNotNil(block.outcomes[1].reason)
    XCTAssertEqual(Set(orderer.heads.map(\.head)).count, 1, "every node stored the same block")
    for r in orderer.replicas {
      XCTAssertEqual(r.state.head, block.block.hash)
    }
    let proof = try XCTUnwrap(block.proof(of: good.canonicalBytes))
    let signers = try proof.verify(
      network: genesis.hash, nodes: Set(nodes.map(\.publicKey)), quorum: 2)
    XCTAssertEqual(signers.count, 3)
    XCTAssertNil(block.proof(of: forged.canonicalBytes), "no proof of an invalid transaction")
    XCTAssertNil(block.proof(of: [1, 2, 3]), "no proof of what is not in the block")
  }

  /// A node that stopped behind is brought up to the others when an orderer opens, block by
  /// block, each checked as if it were new.
  func testANodeBehindCatchesUp() throws {
    let (orderer, genesis) = try orderer()
    orderer.submit(enrolment("cluster-0", member: 0, network: genesis.hash))
    try orderer.cut()
    let head = orderer.replicas[0].head
    // Node 2 loses its ledger (as if it crashed before its first write).
    try FileManager.default.removeItem(atPath: "\(directory)/node-2")
    let replicas = try nodes.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    XCTAssertNil(replicas[2].height)
    let reopened = try EmbeddedOrderer(replicas: replicas)
    XCTAssertEqual(reopened.replicas[2].head, head)
    XCTAssertEqual(reopened.replicas[2].height, reopened.replicas[0].height)
  }
}
