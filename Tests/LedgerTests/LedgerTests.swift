import Foundation
import GRDB
import Ledger
import Ordering
import Records
import XCTest

final class LedgerTests: XCTestCase {
  let net = TestNetwork()

  /// A ledger with enrolled clusters and two committed rounds.
  func twoRounds(_ dir: String) throws -> EmbeddedOrderer {
    let orderer = try net.open(dir)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    try orderer.cut()
    try net.round(1, on: orderer, base: model(0), newModel: model(1))
    try net.round(2, on: orderer, base: model(1), newModel: model(2))
    return orderer
  }

  func testRoundsCommitAndEveryNodeReachesTheSameHead() throws {
    let dir = temporaryDirectory()
    let orderer = try twoRounds(dir)
    let heads = Set(orderer.heads.map(\.head))
    XCTAssertEqual(heads.count, 1)
    let state = orderer.replicas[0].state
    XCTAssertEqual(state.latestModel, model(2))
    XCTAssertEqual(state.rounds[2]?.commit?.model, model(2))
    XCTAssertEqual(state.clusters.count, 3)
    // Every transaction ordered so far was valid.
    for r in orderer.replicas {
      XCTAssert(
        try r.store.transactions(kind: .commitment).allSatisfy { $0.outcome.isValid })
    }
    // Reopening replays the store to the same state.
    let again = try net.open(dir)
    XCTAssertEqual(again.replicas[0].head, orderer.replicas[0].head)
    XCTAssertEqual(again.replicas[0].state.latestModel, model(2))
  }

  /// The proof enclaves check before aggregating: a round-close as the ledger encodes it, in a
  /// block the nodes signed, verifies against genesis's nodes and quorum, and nothing less.
  func testARoundClosesInclusionProofVerifiesAgainstGenesisNodes() throws {
    let net = TestNetwork()
    let orderer = try net.open(temporaryDirectory())
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    let blocks = try net.round(1, on: orderer, base: model(0), newModel: model(1))
    guard
      case .roundClose(let close) = net.roundClose(
        net.roundOpen(1, base: model(0)),
        entries: net.clusters.indices.map {
          net.entry(cluster: $0, payload: Hash256.of(net.payload(round: 1, cluster: $0)))
        })
    else { return XCTFail() }
    XCTAssertEqual(Transaction.roundClose(close).canonicalBytes, close.transactionBytes)
    XCTAssertEqual(try RoundClose(transaction: close.transactionBytes), close)
    let block = try XCTUnwrap(
      blocks.first { $0.block.transactions.contains(close.transactionBytes) })
    let i = try XCTUnwrap(block.block.transactions.firstIndex(of: close.transactionBytes))
    let proof = block.block.inclusionProof(of: i, valid: block.outcomes.map(\.isValid))
    XCTAssertEqual(proof.transaction, close.transactionBytes)
    let policy = net.genesis.enclavePolicy()
    let nodes = Set(policy.ledgerNodes.compactMap { PublicKey(bytes: $0) })
    XCTAssertEqual(nodes, Set(net.nodes.map(\.publicKey)))
    XCTAssertNoThrow(
      try proof.verify(network: net.network, nodes: nodes, quorum: Int(policy.blockQuorum)))
    assertThrows(
      try proof.verify(network: net.network, nodes: nodes, quorum: net.nodes.count + 1),
      containing: "4 valid node signature(s); the quorum is 5")
    // Another transaction of the block is not the round-close.
    XCTAssertThrowsError(try RoundClose(transaction: block.block.transactions[0]))
  }

  /// Review: two quorums that share an honest node cannot both sign a block at one height only
  /// if that node never signs two. Each node records, durably, the one header it signed at
  /// each height, and refuses another there, across restarts.
  func testANodeSignsOneBlockPerHeightEvenAfterARestart() throws {
    let dir = temporaryDirectory()
    let orderer = try net.open(dir)
    try orderer.cut()
    let node = orderer.replicas[1]
    let lead = node.state
    func block(_ transactions: [Transaction]) -> Block {
      let bytes = transactions.map(\.canonicalBytes)
      let time: UInt64 = 1_800_000_000_000
      return Block.make(
        network: lead.network, height: lead.nextHeight, previous: lead.head,
        transactions: bytes, outcomes: node.evaluate(bytes, timestamp: time), timestamp: time,
        proposer: "node-0")
    }
    let x = block([net.enrol(0)])
    let y = block([net.enrol(1)])
    XCTAssertNoThrow(try node.sign(x))
    XCTAssertNoThrow(try node.sign(x), "the same block again is fine")
    assertThrows(try node.sign(y), containing: "a node signs one block per height")
    // After a restart, still.
    let again = try net.open(dir)
    assertThrows(try again.replicas[1].sign(y), containing: "a node signs one block per height")
    XCTAssertNoThrow(try again.replicas[1].sign(x))
    // Another node, which signed neither, signs y.
    XCTAssertNoThrow(try again.replicas[2].sign(y))
  }

  func testTwoSeparateNodesFedTheSameTransactionsReachTheSameHead() throws {
    let a = try twoRounds(temporaryDirectory("a"))
    let b = try twoRounds(temporaryDirectory("b"))
    XCTAssertEqual(a.replicas[0].head, b.replicas[3].head)
    XCTAssertEqual(a.replicas[0].height, b.replicas[0].height)
  }

  func testInvalidTransactionsAreStoredWithTheirReasonOnEveryNode() throws {
    let dir = temporaryDirectory()
    let orderer = try twoRounds(dir)
    let stranger = SigningKey()
    // Round 3 opened on the wrong base model.
    orderer.submit(net.roundOpen(3, base: model(1)))
    // A commitment for a round that is not open, one from an unenrolled cluster, and one with
    // a signature by the wrong key.
    orderer.submit(net.commitment(round: 2, cluster: 0, payload: [1]))
    orderer.submit(
      .commitment(
        UpdateCommitment(
          network: net.network, round: 3, cluster: "cluster-9", payload: model(9), payloadSize: 1,
          clusterKey: stranger)))
    let outcomes = try orderer.cut().flatMap(\.outcomes)
    XCTAssertEqual(
      outcomes.map { $0.reason ?? "valid" },
      [
        "starts from model \(model(1).short), but the latest committed model is \(model(2).short)",
        "round 2 is already closed",
        "round 3 is not the open round",
      ])
    orderer.submit(net.roundOpen(3, base: model(2)))
    orderer.submit(
      .commitment(
        UpdateCommitment(
          network: net.network, round: 3, cluster: "cluster-0", payload: model(9), payloadSize: 1,
          clusterKey: stranger)))
    orderer.submit(
      .commitment(
        UpdateCommitment(
          network: net.network, round: 3, cluster: "cluster-9", payload: model(9), payloadSize: 1,
          clusterKey: stranger)))
    XCTAssertEqual(
      try orderer.cut().flatMap(\.outcomes).map { $0.reason ?? "valid" },
      [
        "valid", "the signature of cluster \"cluster-0\" does not verify",
        "cluster \"cluster-9\" is not enrolled",
      ])
    for r in orderer.replicas {
      let stored = try r.store.transactions(kind: .commitment, round: 3)
      XCTAssertEqual(stored.count, 3)
      XCTAssert(stored.allSatisfy { !$0.outcome.isValid })
    }
    // The nodes reopen on the same head, reaching the same verdicts (bad signatures included).
    let again = try net.open(dir)
    XCTAssertEqual(again.replicas.map(\.head), orderer.replicas.map(\.head))
    XCTAssertNoThrow(try LedgerAudit.run(directory: dir + "/node-2", genesis: net.genesis))
  }

  /// A commit the nodes judged invalid cannot be passed off with a receipt, even when k
  /// endorsers signed its statement: the block's root binds every transaction's verdict.
  func testAReceiptCannotProveACommitTheNodesRejected() throws {
    let orderer = try net.open(temporaryDirectory())
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    try orderer.cut()
    let round = UInt64(1)
    let open = net.roundOpen(round, base: model(0))
    orderer.submit(open)
    let updates = (0..<3).map { Hash256.of(net.payload(round: round, cluster: $0)) }
    for i in 0..<3 {
      orderer.submit(
        net.commitment(round: round, cluster: i, payload: net.payload(round: round, cluster: i)))
    }
    orderer.submit(
      net.roundClose(
        open, entries: updates.enumerated().map { net.entry(cluster: $0, payload: $1) }))
    // Endorsers sign a statement on the wrong base model: signatures fine, ledger says no.
    let wrong = net.statement(round: round, base: model(5), updates: updates, newModel: model(1))
    let endorsements = (0..<3).map {
      Transaction.endorsement(
        Endorsement(network: net.network, statement: wrong, key: net.nodes[$0]))
    }
    for e in endorsements { orderer.submit(e) }
    let commit = Transaction.modelCommit(
      ModelCommit(
        round: round, model: model(1), modelBlob: model(9), modelSize: 1, statement: wrong.hash,
        endorsements: endorsements.map { Hash256.of($0.canonicalBytes) }))
    orderer.submit(commit)
    let last = try XCTUnwrap(try orderer.cut().last)
    XCTAssertEqual(last.outcomes.last?.isValid, false)
    XCTAssertThrowsError(try orderer.replicas[0].receipt(round: round))
    // Forge the receipt by hand from the stored block.
    let stored = try orderer.replicas[0].store.transactions(at: last.block.header.height)
    let index = stored.count - 1
    let leaves = stored.map { Block.leaf($0.bytes, valid: $0.outcome.isValid) }
    let forged = Receipt(
      network: net.network, round: round, model: model(1), height: last.block.header.height,
      header: last.block.header, signatures: last.block.signatures.all,
      transaction: commit.canonicalBytes, index: index, path: Merkle.path(for: index, in: leaves),
      endorsements: endorsements.map(\.canonicalBytes))
    assertThrows(
      try forged.verify(genesis: net.genesis, modelHash: model(1)), containing: "wrong Merkle path")
  }

  func testAModelNeedsKMatchingEndorsementsAndADivergentOneIsRecorded() throws {
    let orderer = try net.open(temporaryDirectory())
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    // Only two of the four endorse: below k = 3, the commit is invalid.
    let blocks = try net.round(
      1, on: orderer, base: model(0), newModel: model(1), endorsers: [0, 1])
    XCTAssertEqual(
      blocks.last!.outcomes.last, .invalid("has 2 distinct endorsement(s); genesis requires 3"))
    XCTAssertNil(orderer.replicas[0].state.rounds[1]?.commit)

    // A Byzantine node endorses another aggregate; the others agree. Its endorsement is stored
    // (evidence against it) but cannot be counted towards the commit.
    let updates = (0..<3).map { Hash256.of(net.payload(round: 1, cluster: $0)) }
    let honest = net.statement(round: 1, base: model(0), updates: updates, newModel: model(1))
    let evil = net.statement(round: 1, base: model(0), updates: updates, newModel: model(66))
    let divergent = Transaction.endorsement(
      Endorsement(network: net.network, statement: evil, key: net.nodes[3]))
    orderer.submit(divergent)
    orderer.submit(
      .endorsement(Endorsement(network: net.network, statement: honest, key: net.nodes[2])))
    // Node 0 tries to endorse a second, different statement: equivocation.
    orderer.submit(
      .endorsement(Endorsement(network: net.network, statement: evil, key: net.nodes[0])))
    // A commit that counts the divergent endorsement fails; one with the three honest passes.
    let honestHashes = (0..<3).map {
      Hash256.of(
        Transaction.endorsement(
          Endorsement(network: net.network, statement: honest, key: net.nodes[$0])
        ).canonicalBytes)
    }
    func commit(_ m: Hash256, _ s: AggregationStatement, _ e: [Hash256], blob: Hash256? = nil)
      -> Transaction
    {
      .modelCommit(
        ModelCommit(
          round: 1, model: m, modelBlob: blob ?? Hash256.of(modelBytes(m)),
          modelSize: UInt64(modelBytes(m).count), statement: s.hash, endorsements: e.sorted()))
    }
    orderer.submit(commit(model(66), evil, [Hash256.of(divergent.canonicalBytes)]))
    // Review: an unsigned commit naming another file than the endorsed statement's would
    // leave the model unreachable; the statement names the file, and the commit must match.
    orderer.submit(commit(model(1), honest, honestHashes, blob: model(5)))
    orderer.submit(commit(model(1), honest, honestHashes))
    let outcomes = try orderer.cut().flatMap(\.outcomes)
    XCTAssertEqual(outcomes[0], .valid, "the divergent endorsement is recorded")
    XCTAssertEqual(outcomes[1], .valid)
    XCTAssertEqual(
      outcomes[2],
      .invalid(
        "endorser \"node-0\" already endorsed a different statement for round 1 (equivocation)"))
    XCTAssertEqual(outcomes[3], .invalid("has 1 distinct endorsement(s); genesis requires 3"))
    XCTAssert(outcomes[4].reason?.contains("(file \(model(5).short), ") == true, "\(outcomes[4])")
    XCTAssertEqual(outcomes[5], .valid)
    XCTAssertEqual(orderer.replicas[2].state.latestModel, model(1))
  }

  func testReceiptsVerifyOfflineAndNameEveryFailure() throws {
    let orderer = try twoRounds(temporaryDirectory())
    let replica = orderer.replicas[1]
    let receipt = try replica.receipt(round: 2)
    XCTAssertEqual(try replica.receipt(model: model(1)).round, 1)
    // Through the JSON form, as a cluster would get it.
    let parsed = try Receipt.parse(receipt.json())
    XCTAssertEqual(parsed, receipt)
    let lines = try parsed.verify(genesis: net.genesis, modelHash: model(2))
    XCTAssertEqual(lines.count, 6)
    XCTAssert(lines[1].contains("signed by 4 of 4 nodes"), lines[1])
    XCTAssert(lines[3].contains("4 distinct endorsers"), lines[3])

    func fails(_ edit: (inout Receipt) -> Void, modelHash: Hash256 = model(2), _ text: String) {
      var r = receipt
      edit(&r)
      assertThrows(
        try r.verify(genesis: net.genesis, modelHash: modelHash), containing: text)
    }
    fails({ _ in }, modelHash: model(3), "model bytes changed")
    fails({ $0.path[0] = model(9) }, "wrong Merkle path")
    fails({ $0.index += 1 }, "wrong Merkle path")
    fails({ $0.path.removeLast() }, "wrong Merkle path")
    fails(
      {
        var b = $0.signatures[0].signature.bytes
        b[5] ^= 1
        $0.signatures[0].signature = Signature(bytes: b)!
      }, "block signature of node")
    fails({ $0.signatures.removeLast(2) }, "carries 2 valid node signature(s); genesis requires 3")
    let stranger = SigningKey()
    fails(
      { $0.signatures.append(BlockSignature(header: $0.header, key: stranger)) }, "block signer key"
    )
    fails(
      { $0.endorsements.removeLast(2) }, "only 2 distinct valid endorsement(s); genesis requires 3")
    var reordered = receipt
    reordered.endorsements.reverse()
    XCTAssertNoThrow(try reordered.verify(genesis: net.genesis, modelHash: model(2)))
    fails(
      { $0.endorsements = Array(repeating: $0.endorsements[0], count: 4) },
      "only 1 distinct valid endorsement(s)")
    // An endorsement by a key genesis does not list.
    let statement: AggregationStatement = {
      guard case .endorsement(let e) = try! Transaction(canonical: receipt.endorsements[0]) else {
        fatalError()
      }
      return e.statement
    }()
    fails(
      {
        $0.endorsements[0] =
          Transaction.endorsement(
            Endorsement(network: net.network, statement: statement, key: stranger)
          )
          .canonicalBytes
      }, "endorser key")
    // A real endorser's signature over another statement: the endorsements disagree.
    var other = statement
    other.newModel = model(42)
    fails(
      {
        $0.endorsements[0] =
          Transaction.endorsement(
            Endorsement(network: net.network, statement: other, key: net.nodes[0])
          )
          .canonicalBytes
      }, "endorsements disagree: node-0 signed statement")
    // A forged endorsement signature.
    fails(
      {
        $0.endorsements[1][$0.endorsements[1].count - 3] ^= 1
      }, "endorsement signature of endorser")
    // Re-wrapping a signed statement in other evidence breaks the endorser's signature.
    fails(
      {
        guard case .endorsement(var e) = try! Transaction(canonical: $0.endorsements[2]) else {
          fatalError()
        }
        e.evidence = Evidence(kind: .simulatedEnclave, bytes: [1, 2, 3])
        $0.endorsements[2] = Transaction.endorsement(e).canonicalBytes
      }, "counts for no genesis endorser")
    fails({ $0.round = 1 }, "the receipt's \"round\" says 1 but the signed data says 2")
    fails({ $0.height += 1 }, "\"height\" says")
    // A receipt from another network.
    let otherNet = TestNetwork(threshold: 4)
    assertThrows(
      try receipt.verify(genesis: otherNet.genesis, modelHash: model(2)),
      containing: "the receipt is for another network")
  }
}
