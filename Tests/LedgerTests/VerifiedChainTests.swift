import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// A follower that keeps no ledger checks each block from genesis on and reaches the nodes'
/// state; it refuses blocks the nodes never signed, out of order, or altered.
final class VerifiedChainTests: XCTestCase {
  func testAChainCheckedFromGenesisReachesTheNodesStateAndRefusesForgeries() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-chain-\(UUID().uuidString)"
    ).path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let members = (0..<2).map { _ in SigningKey() }
    let nodeKeys = (0..<3).map { _ in SigningKey() }
    let genesis = Genesis(
      network: "chain", createdAt: "2026-12-07T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodeKeys.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0 % 2)", key: $1.publicKey)
      },
      endorsers: nodeKeys.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: 2, initialModel: Hash256.of([0]), round: [],
      rules: RoundRules(minimumCohort: 1), clustersPerMember: 1)
    let replicas = try nodeKeys.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(dir)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    let orderer = try EmbeddedOrderer(replicas: replicas)
    try orderer.cut()
    orderer.submit(
      .enrolment(
        ClusterEnrolment(
          network: genesis.hash, cluster: "cluster-0", key: SigningKey().publicKey,
          member: "member-0", memberKey: members[0])))
    try orderer.cut()
    let blocks = try (0...1).map { try XCTUnwrap(try replicas[0].store.block(at: $0)) }

    var chain = VerifiedChain(genesis: genesis)
    for b in blocks {
      let outcomes = try chain.append(
        header: b.header.canonicalBytes, transactions: b.transactions,
        signatures: b.signatures.canonicalBytes)
      XCTAssertTrue(outcomes.allSatisfy(\.isValid))
    }
    XCTAssertEqual(chain.state.head, replicas[0].head)
    XCTAssertEqual(chain.state.clusters, replicas[0].state.clusters)
    XCTAssertEqual(chain.nextHeight, 2)

    // Forgeries, each on a fresh chain.
    func refuses(_ block: Block, after: [Block] = [], _ expected: String) {
      var fresh = VerifiedChain(genesis: genesis)
      for b in after {
        _ = try? fresh.append(
          header: b.header.canonicalBytes, transactions: b.transactions,
          signatures: b.signatures.canonicalBytes)
      }
      XCTAssertThrowsError(
        try fresh.append(
          header: block.header.canonicalBytes, transactions: block.transactions,
          signatures: block.signatures.canonicalBytes)
      ) { XCTAssertTrue("\($0)".contains(expected), "\($0)") }
    }
    // One node's signature only (the quorum is two).
    var lonely = blocks[0]
    lonely.signatures = BlockSignatures(Array(lonely.signatures.all.prefix(1)))
    refuses(lonely, "genesis requires 2")
    // Block 1 first.
    refuses(blocks[1], "expected 0")
    // Block 1 with its enrolment swapped for another member's (same count, other bytes).
    var swapped = blocks[1]
    swapped.transactions[0] =
      Transaction.enrolment(
        ClusterEnrolment(
          network: genesis.hash, cluster: "cluster-0", key: SigningKey().publicKey,
          member: "member-1", memberKey: members[1])
      ).canonicalBytes
    refuses(swapped, after: [blocks[0]], "Merkle root")
  }
}
