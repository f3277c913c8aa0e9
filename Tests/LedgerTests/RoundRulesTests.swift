import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// The round's rules on the ledger: who may open, close and abort a round, when, with which
/// rules and how many updates; each test performs an attack from the security review and shows
/// the ledger refuse it, saying why.
final class RoundRulesTests: XCTestCase {
  /// Three clusters, a minimum cohort of three.
  let net = TestNetwork(clusters: 4, rules: RoundRules(minimumCohort: 3))

  func enrolled(_ net: TestNetwork? = nil) throws -> EmbeddedOrderer {
    let net = net ?? self.net
    let orderer = try net.open(temporaryDirectory())
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    try orderer.cut()
    return orderer
  }

  /// Submits `transactions` and returns each verdict ("valid" or the reason).
  func verdicts(_ orderer: EmbeddedOrderer, _ transactions: [Transaction]) throws -> [String] {
    for t in transactions { orderer.submit(t) }
    return try orderer.cut().flatMap(\.outcomes).map { $0.reason ?? "valid" }
  }

  func commitments(_ round: UInt64, clusters: [Int]) -> (
    transactions: [Transaction], entries: [RoundClose.Entry]
  ) {
    let payloads = clusters.map { net.payload(round: round, cluster: $0) }
    return (
      zip(clusters, payloads).map { net.commitment(round: round, cluster: $0, payload: $1) },
      zip(clusters, payloads).map { net.entry(cluster: $0, payload: Hash256.of($1)) }
    )
  }

  /// Review hole 2: whoever orders transactions could close a round right after the victim's
  /// commitment; the committed model minus the base would be that update.
  func testARoundClosedRightAfterOneCommitmentIsRefused() throws {
    let orderer = try enrolled()
    let open = net.roundOpen(1, base: model(0))
    let (txs, entries) = commitments(1, clusters: [0, 1, 2])
    XCTAssertEqual(
      try verdicts(
        orderer,
        [open, txs[0], net.roundClose(open, entries: [entries[0]])]),
      [
        "valid", "valid",
        "closes round 1 with 1 update(s); it needs at least 3 (minimum cohort), or a round-abort",
      ])
    // With the cohort in, the close takes.
    XCTAssertEqual(
      try verdicts(orderer, [txs[1], txs[2], net.roundClose(open, entries: entries)]),
      ["valid", "valid", "valid"])
  }

  /// Review hole 2: a round opened for one victim alone.
  func testAOneParticipantRoundIsRefused() throws {
    let orderer = try enrolled()
    XCTAssertEqual(
      try verdicts(orderer, [net.roundOpen(1, base: model(0), participants: ["cluster-0"])]),
      ["asks 1 cluster(s) to train; a round needs at least 3 (minimum cohort)"])
    XCTAssertEqual(
      try verdicts(
        orderer,
        [
          net.roundOpen(
            1, base: model(0), participants: ["cluster-0", "cluster-0", "cluster-1"])
        ]),
      ["names a participant twice"])
    XCTAssertEqual(
      try verdicts(
        orderer,
        [net.roundOpen(1, base: model(0), participants: ["cluster-0", "cluster-1", "cluster-2"])]),
      ["valid"])
  }

  /// Review hole 2: opening round r+1 right after r closed left r unable to commit. A round
  /// opens only after the one before committed or a node aborted it.
  func testARoundOpensOnlyAfterTheLastCommittedOrWasAborted() throws {
    let orderer = try enrolled()
    let open = net.roundOpen(1, base: model(0))
    let (txs, entries) = commitments(1, clusters: [0, 1, 2])
    _ = try verdicts(orderer, [open] + txs + [net.roundClose(open, entries: entries)])
    XCTAssertEqual(
      try verdicts(orderer, [net.roundOpen(2, base: model(0))]),
      [
        "round 1 has neither committed a model nor been aborted; a round opens only after the one before ends"
      ])
    // A node aborts round 1; nothing more happens in it, and round 2 opens on the same model.
    let s = net.statement(
      round: 1, base: model(0), updates: entries.map(\.payload) + [], newModel: model(1))
    XCTAssertEqual(
      try verdicts(
        orderer,
        [
          net.roundAbort(1, reason: "no statement reached k endorsements"),
          .endorsement(Endorsement(network: net.network, statement: s, key: net.nodes[0])),
          net.roundAbort(1),
          net.roundOpen(2, base: model(1)),
          net.roundOpen(2, base: model(0)),
        ]),
      [
        "valid", "round 1 was aborted", "round 1 was already aborted",
        "starts from model \(model(1).short), but the latest committed model is \(model(0).short)",
        "valid",
      ])
    // An abort needs a reason.
    XCTAssertEqual(try verdicts(orderer, [net.roundAbort(2, reason: "")]), ["gives no reason"])
    let view = try LedgerView(store: orderer.replicas[1].store, genesis: net.genesis)
    XCTAssertEqual(view.rounds.first?.aborted, "no statement reached k endorsements")
  }

  /// Review hole 2: round-open and round-close carried no authority. Now a genesis node signs
  /// each, and so each abort.
  func testRoundOpenCloseAndAbortMustBeSignedByAGenesisNode() throws {
    let orderer = try enrolled()
    let stranger = SigningKey()
    var forged = RoundOpen(
      network: net.network, round: 1, baseModel: model(0), participants: [],
      rules: net.genesis.rules, node: stranger)
    XCTAssertEqual(
      try verdicts(orderer, [.roundOpen(forged)]),
      ["is signed by key \(stranger.publicKey.short), which is not a node in genesis"])
    forged.signer = net.nodes[1].publicKey
    XCTAssertEqual(
      try verdicts(orderer, [.roundOpen(forged)]), ["the signature of its node does not verify"])
    // Signed by a node, but for another network.
    let replayed = RoundOpen(
      network: Hash256.of([1]), round: 1, baseModel: model(0), participants: [],
      rules: net.genesis.rules, node: net.nodes[0])
    XCTAssertEqual(
      try verdicts(orderer, [.roundOpen(replayed)]), ["the signature of its node does not verify"])
    let open = net.roundOpen(1, base: model(0))
    let (txs, entries) = commitments(1, clusters: [0, 1, 2])
    _ = try verdicts(orderer, [open] + txs)
    var close = RoundClose(
      network: net.network, round: 1, open: Hash256.of(open.canonicalBytes), updates: entries,
      node: stranger)
    XCTAssertEqual(
      try verdicts(orderer, [.roundClose(close)]),
      ["is signed by key \(stranger.publicKey.short), which is not a node in genesis"])
    close.signer = net.nodes[2].publicKey
    XCTAssertEqual(
      try verdicts(orderer, [.roundClose(close)]), ["the signature of its node does not verify"])
    let abort = RoundAbort(network: net.network, round: 1, reason: "r", node: stranger)
    XCTAssertEqual(
      try verdicts(orderer, [.roundAbort(abort)]),
      ["is signed by key \(stranger.publicKey.short), which is not a node in genesis"])
    // Any genesis node may close.
    XCTAssertEqual(
      try verdicts(orderer, [net.roundClose(open, entries: entries, by: 3)]), ["valid"])
  }

  /// A network without enclaves has no group key: none may be recorded, nor named.
  func testANetworkWithoutEnclavesHasNoGroupKey() throws {
    let orderer = try enrolled()
    let open = RoundOpen(
      network: net.network, round: 1, baseModel: model(0), participants: [],
      rules: net.genesis.rules, groupKey: [UInt8](repeating: 1, count: 32), node: net.nodes[0])
    XCTAssertEqual(
      try verdicts(
        orderer,
        [
          .groupKey(
            GroupKeyRecord(
              groupKey: [UInt8](repeating: 1, count: 32),
              holders: [.init(enclave: net.nodes[0].publicKey, evidence: .genesisKey)])),
          .roundOpen(open),
        ]),
      [
        "this network has no enclave endorsers to hold a group key",
        "names a group key, but this network has no enclaves",
      ])
  }

  /// Review hole 1: the aggregation rule and its settings came from each host. They come from
  /// the round-open now, and the ledger accepts only the network's own rules there.
  func testARoundOpenMustCarryTheNetworksRules() throws {
    let orderer = try enrolled()
    for rules in [
      RoundRules(rule: .median, minimumCohort: 3), RoundRules(minimumCohort: 3, sampleCap: 7),
      RoundRules(normBound: 1e-3, minimumCohort: 3),
      RoundRules(fractionalBits: 30, minimumCohort: 3), RoundRules(minimumCohort: 4),
    ] {
      let reason = try verdicts(orderer, [net.roundOpen(1, base: model(0), rules: rules)])[0]
      XCTAssert(reason.contains("not the network's (genesis)"), reason)
    }
  }

  /// Review hole 1: the host supplied each update's cluster and key. The round-close now lists
  /// them, and the ledger accepts it only if they are the enrolled ones of the round's own
  /// commitments, in order, and it names the round's own round-open.
  func testACloseMustListTheCommitmentsWithTheirEnrolledKeysAndNameItsOpen() throws {
    let orderer = try enrolled()
    let open = net.roundOpen(1, base: model(0))
    let (txs, entries) = commitments(1, clusters: [0, 1, 2])
    _ = try verdicts(orderer, [open] + txs)
    var wrongKey = entries
    wrongKey[1].key = SigningKey().publicKey
    var renamed = entries
    renamed[1].cluster = "cluster-3"
    let otherOpen = net.roundOpen(
      1, base: model(0), participants: ["cluster-0", "cluster-1", "cluster-2"])
    for (close, text) in [
      (net.roundClose(open, entries: wrongKey), "with other clusters, keys, payloads or order"),
      (net.roundClose(open, entries: renamed), "with other clusters, keys, payloads or order"),
      (
        net.roundClose(open, entries: entries.reversed()), "other clusters, keys, payloads or order"
      ),
      (net.roundClose(otherOpen, entries: entries), "but round 1 was opened by"),
    ] {
      let reason = try verdicts(orderer, [close])[0]
      XCTAssert(reason.contains(text), reason)
    }
    XCTAssertEqual(try verdicts(orderer, [net.roundClose(open, entries: entries)]), ["valid"])
  }

  /// Review hole 2: one member could enrol Sybil clusters to fill a cohort with updates it
  /// knows. Genesis can cap the clusters one member enrols.
  func testGenesisCapsTheClustersOneMemberEnrols() throws {
    let capped = TestNetwork(nodes: 1, threshold: 1, clusters: 3, clustersPerMember: 2)
    let orderer = try capped.open(temporaryDirectory())
    try orderer.cut()
    XCTAssertEqual(
      try verdicts(orderer, (0..<3).map { capped.enrol($0) }),
      [
        "valid", "valid",
        "member \"member-0\" already enrolled 2 cluster(s), the most genesis allows one member (clustersPerMember)",
      ])
  }

  /// Attack: a member enrols a cluster with a name long enough that reasons quoting it would
  /// swell past what statements hold, or with control characters that garble what readers
  /// print. The ledger enrols names of 1 to 64 bytes without control characters.
  func testClusterNamesAreShortAndPrintable() throws {
    let orderer = try net.open(temporaryDirectory())
    try orderer.cut()
    func enrol(_ name: String, _ member: Int) -> Transaction {
      .enrolment(
        ClusterEnrolment(
          network: net.network, cluster: name, key: SigningKey().publicKey,
          member: "member-\(member)", memberKey: net.members[member]))
    }
    let refusal = "a cluster name is 1 to 64 bytes without control characters"
    XCTAssertEqual(
      try verdicts(
        orderer,
        [
          enrol(String(repeating: "x", count: 65), 0), enrol("", 1), enrol("plant\u{1b}[2J", 2),
          enrol(String(repeating: "x", count: 64), 3),
        ]), [refusal, refusal, refusal, "valid"])
  }

  /// Review hole 3: weights could add up past the fixed-point sum's 2^31. A round holds at
  /// most 2^31 / sampleCap updates, so no update is ever rejected for the budget.
  func testARoundHoldsNoMoreUpdatesThanItsSampleCapLeavesRoomFor() throws {
    let tight = TestNetwork(clusters: 4, rules: RoundRules(minimumCohort: 2, sampleCap: 1 << 30))
    let orderer = try enrolled(tight)
    let open = tight.roundOpen(1, base: model(0))
    let commits = (0..<3).map {
      tight.commitment(round: 1, cluster: $0, payload: tight.payload(round: 1, cluster: $0))
    }
    XCTAssertEqual(
      try verdicts(orderer, [open] + commits),
      [
        "valid", "valid", "valid",
        "round 1 is full: it holds 2 update(s), the most its largest weight allows (2^31 / 1073741824)",
      ])
  }

  /// Review: a cluster that commits a payload too large for one enclave request would make
  /// its round impossible to aggregate. The ledger bounds each payload and each round's total.
  func testPayloadsTooLargeForAnEnclaveRequestAreRefused() throws {
    let orderer = try enrolled()
    let open = net.roundOpen(1, base: model(0))
    func commitment(_ i: Int, size: UInt64) -> Transaction {
      .commitment(
        UpdateCommitment(
          network: net.network, round: 1, cluster: "cluster-\(i)", payload: model(10 + i),
          payloadSize: size, clusterKey: net.clusters[i]))
    }
    XCTAssertEqual(
      try verdicts(
        orderer,
        [
          open, commitment(0, size: RoundRules.maximumPayload + 1),
          commitment(0, size: RoundRules.maximumPayload),
        ] + (1..<4).map { commitment($0, size: RoundRules.maximumPayload * 3) }),
      [
        "valid",
        "names a payload of 67108865 bytes; the most a commitment may name is 67108864 (the round's payload cap)",
        "valid",
        "names a payload of 201326592 bytes; the most a commitment may name is 67108864 (the round's payload cap)",
        "names a payload of 201326592 bytes; the most a commitment may name is 67108864 (the round's payload cap)",
        "names a payload of 201326592 bytes; the most a commitment may name is 67108864 (the round's payload cap)",
      ])
    let full = (1..<4).map { commitment($0, size: RoundRules.maximumPayload) }
    XCTAssertEqual(try verdicts(orderer, full), ["valid", "valid", "valid"])
    XCTAssertEqual(
      orderer.replicas[0].state.rounds[1]?.payloadBytes, 4 * RoundRules.maximumPayload)
    // A round's own payload cap, set near its model's update size, is the limit: a few
    // clusters declaring huge payloads cannot use up the round's bytes.
    let capped = TestNetwork(clusters: 4, rules: RoundRules(minimumCohort: 3, payloadCap: 300_000))
    let cappedOrderer = try enrolled(capped)
    XCTAssertEqual(
      try verdicts(
        cappedOrderer,
        [
          capped.roundOpen(1, base: model(0)),
          .commitment(
            UpdateCommitment(
              network: capped.network, round: 1, cluster: "cluster-0", payload: model(30),
              payloadSize: 300_001, clusterKey: capped.clusters[0])),
        ]),
      [
        "valid",
        "names a payload of 300001 bytes; the most a commitment may name is 300000 (the round's payload cap)",
      ])
    XCTAssertEqual(RoundRules.payloadCap(parameters: 61_706), 312_360)
    // Eight such payloads fill a round; the ninth would not fit one enclave request.
    let wide = TestNetwork(nodes: 9, threshold: 5, clusters: 9)
    let wideOrderer = try enrolled(wide)
    let wideOpen = wide.roundOpen(1, base: model(0))
    let nine = (0..<9).map { i in
      Transaction.commitment(
        UpdateCommitment(
          network: wide.network, round: 1, cluster: "cluster-\(i)", payload: model(20 + i),
          payloadSize: RoundRules.maximumPayload, clusterKey: wide.clusters[i]))
    }
    let outcomes = try verdicts(wideOrderer, [wideOpen] + nine)
    XCTAssertEqual(outcomes.filter { $0 == "valid" }.count, 9)
    XCTAssertEqual(
      outcomes.last,
      "round 1 is full: its payloads would exceed 536870912 bytes, what one enclave request carries"
    )
  }

  /// An endorsement must state the round's own rule and parameters, and accept at least the
  /// minimum cohort: a statement under another rule, or one that publishes a single update as
  /// the model, never counts.
  func testEndorsementsMustStateTheRoundsRulesAndAcceptTheCohort() throws {
    let orderer = try enrolled()
    let open = net.roundOpen(1, base: model(0))
    let (txs, entries) = commitments(1, clusters: [0, 1, 2, 3])
    _ = try verdicts(orderer, [open] + txs + [net.roundClose(open, entries: entries)])
    let updates = entries.map(\.payload)
    var median = net.statement(round: 1, base: model(0), updates: updates, newModel: model(1))
    median.rule = "median"
    let one = AggregationStatement(
      round: 1, baseModel: model(0), accepted: [.init(update: updates[0])],
      rejected: updates.dropFirst().map { .init(update: $0, reason: "rejected") },
      rule: net.genesis.rules.ruleName, parameters: net.genesis.rules.statementParameters,
      newModel: model(1), newModelBlob: model(2), newModelSize: 1)
    let good = net.statement(round: 1, base: model(0), updates: updates, newModel: model(1))
    XCTAssertEqual(
      try verdicts(
        orderer,
        [median, one, good].map {
          .endorsement(Endorsement(network: net.network, statement: $0, key: net.nodes[0]))
        }),
      [
        "states rule median with other parameters than round 1's rules (mean)",
        "accepts 1 update(s); round 1 aggregates at least 3 (minimum cohort) or aborts", "valid",
      ])
  }
}
