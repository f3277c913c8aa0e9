import Attestation
import Canonical
import Crypto
import Foundation
import Ledger
import Ordering
import Records
import SGXTestSupport
import SwiftASN1
import X509
import XCTest

/// Endorsements by SGX enclaves: a DCAP quote binding the endorsing key to the network, with
/// the collateral to check it, judged at the block's time. The quotes come from a synthetic
/// DCAP PKI (test keys, not Intel's), which the test network's genesis pins as its SGX root;
/// genesis names its machines 0 to 3 by PPID, and machine 4 is a stranger.
final class SGXEndorsementTests: XCTestCase {
  static let clock: UInt64 = 1_800_000_000_000
  static let now = Date(timeIntervalSince1970: 1_800_000_000)
  static let sgx = SyntheticSGX(notBefore: now - 86_400, notAfter: now + 30 * 86_400, platforms: 5)
  let mrEnclave = Array(SHA256.hash(data: Array("fedledger-enclave under gramine".utf8)))
  let enclaveKeys = (0..<4).map { _ in SigningKey() }

  static var root: [UInt8] {
    var s = DER.Serializer()
    try! s.serialize(sgx.root)
    return s.serializedBytes
  }

  func network(root: [UInt8]? = SGXEndorsementTests.root) -> TestNetwork {
    TestNetwork(
      endorsers: (0..<4).map {
        .init(name: "node-\($0)", sgxPlatform: PPID(bytes: SyntheticSGX.ppid(platform: $0))!)
      },
      enclaveMeasurements: [Hash256(bytes: mrEnclave)!], sgxRootCA: root)
  }

  /// What SGX enclave `i` (on machine `i`, unless `machine` says another) puts on the ledger
  /// for `s`.
  func endorsement(
    _ net: TestNetwork, _ s: AggregationStatement, _ i: Int, mrEnclave: [UInt8]? = nil,
    collateral: Collateral = SGXEndorsementTests.sgx.collateral, key: SigningKey? = nil,
    policy: EnclavePolicy? = nil, machine: Int? = nil
  ) -> Endorsement {
    let key = key ?? enclaveKeys[i]
    let encryption = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
    let reportData = EnclaveEvidence.reportData(
      signingKey: key.publicKey.bytes, encryptionKey: encryption, groupKey: nil,
      policy: (policy ?? net.genesis.enclavePolicy()).digest,
      nonce: EnclaveEvidence.ledgerNonce(network: net.network.bytes))
    let quote = Self.sgx.quote(
      mrEnclave: mrEnclave ?? self.mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32),
      reportData: reportData, platform: machine ?? i)
    let evidence = EnclaveEvidence(
      signingKey: key.publicKey.bytes, encryptionKey: encryption, groupKey: nil,
      report: .sgx(quote: quote))
    return Endorsement(
      network: net.network, statement: s, key: key,
      evidence: Evidence(
        kind: .sgxDCAP,
        bytes: CollateralizedEvidence(evidence: evidence, collateral: collateral).canonicalBytes))
  }

  /// The record of the network's group key (`net.groupKey`, unless `key` says another), with
  /// the evidence of the SGX enclaves on `machines` that hold it (binding `bound` instead, if
  /// given), by default k = 3 of them.
  func groupKeyRecord(
    _ net: TestNetwork, key: [UInt8]? = nil, bound: [UInt8]? = nil, machines: [Int] = [0, 1, 2]
  ) -> Transaction {
    let group = key ?? net.groupKey!
    let holders = machines.enumerated().map { n, machine -> GroupKeyRecord.Holder in
      // A second enclave on a machine has a key of its own.
      let signing = machines[..<n].contains(machine) ? SigningKey() : enclaveKeys[machine]
      let encryption = Array(Curve25519.KeyAgreement.PrivateKey().publicKey.rawRepresentation)
      let reportData = EnclaveEvidence.reportData(
        signingKey: signing.publicKey.bytes, encryptionKey: encryption, groupKey: bound ?? group,
        policy: net.genesis.enclavePolicy().digest,
        nonce: EnclaveEvidence.ledgerNonce(network: net.network.bytes))
      let quote = Self.sgx.quote(
        mrEnclave: mrEnclave, mrSigner: [UInt8](repeating: 0x51, count: 32),
        reportData: reportData, platform: machine)
      let evidence = EnclaveEvidence(
        signingKey: signing.publicKey.bytes, encryptionKey: encryption,
        groupKey: bound ?? group, report: .sgx(quote: quote))
      return .init(
        enclave: signing.publicKey,
        evidence: Evidence(
          kind: .sgxDCAP,
          bytes: CollateralizedEvidence(evidence: evidence, collateral: Self.sgx.collateral)
            .canonicalBytes))
    }
    return .groupKey(GroupKeyRecord(groupKey: group, holders: holders))
  }

  /// Review: a host could point a cluster at another genuine enclave's group key, so the
  /// cluster's update would not open in the network's enclaves and be rejected, blamed on the
  /// cluster. The ledger fixes the network's group key once, with the evidence of k enclaves of
  /// distinct endorsers (so no one endorser can fix a key it alone holds and stall the
  /// network), every round-open names it, and enclaves aggregate only rounds that name the key
  /// they hold.
  func testTheGroupKeyIsFixedOnceOnTheLedgerAndEveryRoundOpenNamesIt() throws {
    let net = network()
    let orderer = try net.open(temporaryDirectory(), clock: Self.clock)
    orderer.submit(net.enrol(0))
    let outcomes = { (t: [Transaction]) throws -> [String] in
      for x in t { orderer.submit(x) }
      return try orderer.cut().flatMap(\.outcomes).map { $0.reason ?? "valid" }
    }
    XCTAssertEqual(
      try outcomes([net.roundOpen(1, base: model(0))]).last,
      "opens a round before the network's group key is recorded: clusters would not know what to seal to"
    )
    let other = [UInt8](repeating: 7, count: 32)
    let recorded = try outcomes([
      groupKeyRecord(net, bound: other),
      groupKeyRecord(net, machines: [3]),
      groupKeyRecord(net, machines: [1, 1, 2]),
      groupKeyRecord(net, machines: [1, 2, 3]),
      groupKeyRecord(net, key: other),
      groupKeyRecord(net),
    ])
    XCTAssert(recorded[0].contains("binds another group key (or none)"), recorded[0])
    XCTAssertEqual(
      recorded[1],
      "shows 1 distinct endorser(s) holding the key; genesis requires 3, as for a model")
    XCTAssert(recorded[2].contains("shows 2 distinct endorser(s)"), recorded[2])
    XCTAssertEqual(recorded[3], "valid")
    XCTAssert(
      recorded[4].contains("group key is already 424242424242; it is fixed once"), recorded[4])
    XCTAssert(recorded[5].contains("it is fixed once"), recorded[5])
    XCTAssertEqual(orderer.replicas[2].state.groupKey, net.groupKey)
    let wrong = RoundOpen(
      network: net.network, round: 1, baseModel: model(0), participants: [],
      rules: net.genesis.rules, groupKey: other, node: net.nodes[0])
    XCTAssertEqual(
      try outcomes([.roundOpen(wrong)]),
      ["names group key 070707070707, but the network's is 424242424242"])
    XCTAssertEqual(try outcomes([net.roundOpen(1, base: model(0))]), ["valid"])
    let view = try LedgerView(store: orderer.replicas[0].store, genesis: net.genesis)
    XCTAssertEqual(view.groupKey, Hex.encode(net.groupKey!))
  }

  /// Round 1's statement (its closed updates, from model 0) naming `newModel`.
  func roundOne(_ net: TestNetwork, newModel: Hash256) -> AggregationStatement {
    net.statement(
      round: 1, base: model(0),
      updates: net.clusters.indices.map { Hash256.of(net.payload(round: 1, cluster: $0)) },
      newModel: newModel)
  }

  /// An orderer on `clock` with every cluster enrolled and round 1 run, but for its
  /// endorsements: the commit that came with it named none and was refused.
  func roundOneUnendorsed(_ net: TestNetwork, clock: TestClock) throws -> EmbeddedOrderer {
    let orderer = try net.open(temporaryDirectory(), ticking: clock)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    orderer.submit(groupKeyRecord(net))
    try orderer.cut()
    try net.round(1, on: orderer, base: model(0), newModel: model(1), endorsers: [])
    return orderer
  }

  /// Commits model 1 for round 1's `statement` on `endorsements`, checks that it took effect,
  /// and returns what verifying its receipt checked.
  func commitRoundOne(
    _ net: TestNetwork, on orderer: EmbeddedOrderer, statement: Hash256, endorsements: [Hash256],
    line: UInt = #line
  ) throws -> [String] {
    orderer.submit(
      try net.commit(
        1, model: model(1), statement: statement, endorsements: endorsements, on: orderer))
    let committed = try orderer.cut()
    XCTAssert(committed.flatMap(\.outcomes).allSatisfy(\.isValid), "\(committed)", line: line)
    XCTAssertEqual(orderer.replicas[0].state.rounds[1]?.commit?.model, model(1), line: line)
    return try orderer.replicas[1].receipt(round: 1).verify(
      genesis: net.genesis, modelHash: model(1))
  }

  func testSGXEndorsementsCommitAModelWhoseReceiptVerifiesFromGenesisAlone() throws {
    let net = network()
    // Genesis keeps its SGX root through its JSON form.
    XCTAssertEqual(try Genesis.parse(net.genesis.json(), path: "genesis.json"), net.genesis)
    let orderer = try net.open(temporaryDirectory(), clock: Self.clock)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    orderer.submit(groupKeyRecord(net))
    try orderer.cut()
    try net.round(1, on: orderer, base: model(0), newModel: model(1)) { s, i in
      self.endorsement(net, s, i)
    }
    XCTAssertEqual(orderer.replicas[0].state.rounds[1]?.commit?.model, model(1))
    let receipt = try Receipt.parse(try orderer.replicas[2].receipt(round: 1).json())
    let lines = try receipt.verify(genesis: net.genesis, modelHash: model(1))
    XCTAssert(lines.contains { $0.contains("4 distinct endorsers") }, "\(lines)")
    XCTAssert(
      lines.contains {
        $0.contains("sgx-dcap, each quote checked") && $0.contains("the SGX root genesis names")
      },
      "\(lines)")
    // Under a genesis pinning Intel's root, the same receipt does not verify.
    var intel = net.genesis
    intel.sgxRootCA = nil
    XCTAssertThrowsError(try receipt.verify(genesis: intel, modelHash: model(1)))
  }

  /// An sgx-enclave endorser is its machine: an enclave with keys genesis never saw counts for
  /// the machine it runs on, and two enclaves on one machine count once, so neither a restart
  /// with lost state nor a second enclave gives a machine a second vote or a second statement.
  func testAnSGXEndorserIsItsMachineWhateverTheEnclavesKey() throws {
    let net = network()
    let orderer = try net.open(temporaryDirectory(), clock: Self.clock)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    orderer.submit(groupKeyRecord(net))
    try orderer.cut()
    // Round 1: endorsements 0 and 1 both come from machine 0 (the second from a fresh
    // enclave), 2 from machine 2: two machines, below k = 3.
    let blocks = try net.round(
      1, on: orderer, base: model(0), newModel: model(1), endorsers: [0, 1, 2]
    ) {
      s, i in self.endorsement(net, s, i, key: i == 1 ? SigningKey() : nil, machine: i == 1 ? 0 : i)
    }
    let reasons = blocks.flatMap(\.outcomes).compactMap(\.reason)
    XCTAssertEqual(reasons.count, 1, "\(reasons)")
    XCTAssert(reasons[0].contains("has 2 distinct endorsement(s); genesis requires 3"), reasons[0])
    XCTAssertEqual(orderer.replicas[0].state.rounds[1]?.endorsements.count, 3)
    XCTAssertNil(orderer.replicas[0].state.rounds[1]?.commit)
    // A fresh enclave on machine 0 signing another statement for the round is equivocation.
    let s = roundOne(net, newModel: model(9))
    orderer.submit(.endorsement(endorsement(net, s, 0, key: SigningKey())))
    let equivocation = try orderer.cut()
    XCTAssert(
      equivocation.flatMap(\.outcomes).compactMap(\.reason).contains {
        $0.contains("(equivocation)")
      },
      "\(equivocation)")
    // Machine 3, with a key genesis never listed, completes k = 3 for the first statement.
    let first = roundOne(net, newModel: model(1))
    var hashes = orderer.replicas[0].state.rounds[1]!.endorsements.filter {
      $0.value.statement == first
    }.map(\.key)
    let rotated = Transaction.endorsement(endorsement(net, first, 3, key: SigningKey()))
    hashes.append(Hash256.of(rotated.canonicalBytes))
    orderer.submit(rotated)
    let lines = try commitRoundOne(net, on: orderer, statement: first.hash, endorsements: hashes)
    XCTAssert(
      lines.contains { $0.contains("3 distinct endorsers (node-0, node-2, node-3)") }, "\(lines)")
  }

  func testTheLedgerRefusesSGXEndorsementsItCannotCheck() throws {
    let net = network()
    let s = net.statement(
      round: 1, base: model(0), updates: [Hash256.of([1]), Hash256.of([2])], newModel: model(1))
    func refused(
      _ e: Endorsement, _ text: String, at time: Date = SGXEndorsementTests.now,
      line: UInt = #line
    ) {
      switch net.genesis.endorser(of: e, at: time) {
      case .success(let who): XCTFail("counted for \(who.name)", line: line)
      case .failure(let why):
        XCTAssert(why.description.contains(text), why.description, line: line)
      }
    }
    XCTAssertEqual(
      try net.genesis.endorser(of: endorsement(net, s, 1), at: Self.now).get().name, "node-1")
    refused(endorsement(net, s, 1, mrEnclave: Array(repeating: 1, count: 32)), "MRENCLAVE")
    refused(endorsement(net, s, 0, collateral: Self.sgx.collateral(revokingPCK: true)), "revoked")
    // Collateral that has expired by the block's time, or is not yet valid.
    refused(endorsement(net, s, 1), "does not verify", at: Self.now + 60 * 86_400)
    refused(endorsement(net, s, 1), "does not verify", at: Self.now - 2 * 86_400)
    // Evidence made for another network.
    let other = TestNetwork(
      threshold: 4, endorsers: net.genesis.endorsers,
      enclaveMeasurements: net.genesis.enclaveMeasurements, sgxRootCA: Self.root)
    XCTAssertNotEqual(other.network, net.network)
    let moved = Endorsement(
      network: net.network, statement: s, key: enclaveKeys[1],
      evidence: endorsement(other, s, 1).evidence)
    refused(moved, "REPORTDATA")
    // An enclave its host started under another policy (here accepting any TCB status).
    var lax = net.genesis.enclavePolicy()
    lax.acceptedTCBStatuses.insert("OutOfDate")
    refused(endorsement(net, s, 1, policy: lax), "REPORTDATA")
    // A machine genesis does not list, and one enclave's evidence under another's key.
    refused(endorsement(net, s, 1, machine: 4), "not an sgx-enclave endorser")
    var swapped = endorsement(net, s, 1)
    swapped.endorser = enclaveKeys[2].publicKey
    refused(swapped, "another key than the endorsing one")
    // Simulated-enclave evidence cannot pass as SGX's, nor the reverse.
    var relabelled = endorsement(net, s, 1)
    relabelled.evidence.kind = .simulatedEnclave
    refused(relabelled, "does not decode")
  }

  func testAnEndorsementWhoseCollateralExpiredByItsBlockCommitsNothing() throws {
    let net = network()
    // The group key is recorded in time; then the clocks move past the collateral's window.
    let clock = TestClock(Self.clock)
    let orderer = try net.open(temporaryDirectory(), ticking: clock)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    orderer.submit(groupKeyRecord(net))
    try orderer.cut()
    clock.now = Self.clock + 60 * 86_400_000
    let blocks = try net.round(1, on: orderer, base: model(0), newModel: model(1)) { s, i in
      self.endorsement(net, s, i)
    }
    XCTAssertNil(orderer.replicas[0].state.rounds[1]?.commit)
    let reasons = blocks.flatMap(\.outcomes).compactMap { outcome -> String? in
      if case .invalid(let why) = outcome { return why }
      return nil
    }
    XCTAssert(reasons.contains { $0.contains("expired") }, "\(reasons)")
  }

  /// Endorsements recorded while their collateral held do not commit a model once it has
  /// expired: the commit judges them again at its own time, as a receipt for it would.
  func testACommitAfterTheCollateralExpiredCommitsNothing() throws {
    let net = network()
    let clock = TestClock(Self.clock)
    let orderer = try roundOneUnendorsed(net, clock: clock)
    let s = roundOne(net, newModel: model(1))
    var hashes: [Hash256] = []
    for i in 0..<4 {
      let tx = Transaction.endorsement(endorsement(net, s, i))
      hashes.append(Hash256.of(tx.canonicalBytes))
      orderer.submit(tx)
    }
    let endorsed = try orderer.cut()
    XCTAssert(endorsed.flatMap(\.outcomes).allSatisfy(\.isValid), "\(endorsed)")
    XCTAssertEqual(orderer.replicas[0].state.rounds[1]?.endorsements.count, 4)
    // Sixty days on, past the collateral's window, the commit comes.
    clock.now += 60 * 86_400_000
    orderer.submit(
      try net.commit(1, model: model(1), statement: s.hash, endorsements: hashes, on: orderer))
    let committed = try orderer.cut()
    let outcome = try XCTUnwrap(committed.last?.outcomes.last)
    XCTAssert(
      outcome.reason?.contains("no longer holds at the commit's time") ?? false, "\(outcome)")
    XCTAssertNil(orderer.replicas[0].state.rounds[1]?.commit)
  }

  /// An endorsement whose collateral lapses before the commit can be renewed: the machine
  /// endorses the same statement again with fresh collateral (counted once), and the commit
  /// names the renewed endorsements.
  func testAnEndorsementWhoseCollateralLapsedIsRenewedAndTheRoundCommits() throws {
    let net = network()
    let clock = TestClock(Self.clock)
    let orderer = try roundOneUnendorsed(net, clock: clock)
    let s = roundOne(net, newModel: model(1))
    func endorse(from: Date, until: Date) throws -> [Hash256] {
      let txs = (0..<3).map {
        Transaction.endorsement(
          endorsement(net, s, $0, collateral: Self.sgx.collateral(issued: from, until: until)))
      }
      for tx in txs { orderer.submit(tx) }
      let blocks = try orderer.cut()
      XCTAssert(blocks.flatMap(\.outcomes).allSatisfy(\.isValid), "\(blocks)")
      return txs.map { Hash256.of($0.canonicalBytes) }
    }
    // Collateral current for a day; the commit comes two days on.
    let first = try endorse(from: Self.now - 3600, until: Self.now + 86_400)
    clock.now += 2 * 86_400_000
    orderer.submit(
      try net.commit(1, model: model(1), statement: s.hash, endorsements: first, on: orderer))
    let lapsed = try orderer.cut()
    XCTAssert(
      lapsed.last?.outcomes.last?.reason?.contains("no longer holds at the commit's time") ?? false,
      "\(lapsed)")
    // The same machines endorse the same statement again, with collateral issued since.
    let renewed = try endorse(
      from: Self.now + 2 * 86_400 - 3600, until: Self.now + 10 * 86_400)
    XCTAssertEqual(orderer.replicas[0].state.rounds[1]?.endorsedBy.count, 3)
    XCTAssertNoThrow(
      try commitRoundOne(net, on: orderer, statement: s.hash, endorsements: renewed))
  }

  /// Nodes sign only blocks dated near their own clocks: a proposer dating a block a day
  /// ahead (which would make every collateral look expired) gets no signatures.
  func testNodesRefuseToSignABlockDatedFarFromTheirClocks() throws {
    let net = network()
    let orderer = try net.open(
      temporaryDirectory(), ticking: TestClock(Self.clock), ahead: 86_400_000)
    orderer.submit(net.enrol(0))
    assertThrows(try orderer.cut(), containing: "from this node's clock")
    // Within the bound, they sign.
    let close = try net.open(temporaryDirectory(), ticking: TestClock(Self.clock), ahead: 60_000)
    close.submit(net.enrol(0))
    XCTAssertNoThrow(try close.cut())
  }
}
