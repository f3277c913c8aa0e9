import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// A committed model's federated evaluation on the ledger: one evaluation-close per committed
/// round, of signed reports from enrolled clusters under genesis's evaluation rules; metric
/// endorsements that account for exactly its reports; a commit of k matching ones; and a
/// receipt that proves the metric beside its model.
final class EvaluationLedgerTests: XCTestCase {
  /// Every other round's model is judged; clusters have 60 s to report.
  let rules = EvaluationRules(minimumReports: 2, sampleCap: 64, classes: 2, every: 2, window: 60)
  lazy var net = TestNetwork(evaluation: rules)
  /// The nodes' and the orderer's clock, moved by hand.
  let clock = TestClock(1_800_000_000_000)

  /// A ledger with enrolled clusters and two committed rounds (round 1's model is not one the
  /// schedule judges, so round 2 opens at once).
  func twoRounds(_ dir: String, net: TestNetwork? = nil) throws -> EmbeddedOrderer {
    let net = net ?? self.net
    let orderer = try net.open(dir, ticking: clock)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    try orderer.cut()
    try net.round(1, on: orderer, base: model(0), newModel: model(1))
    try net.round(2, on: orderer, base: model(1), newModel: model(2))
    return orderer
  }

  func report(_ i: Int, round: UInt64 = 2, model m: Hash256 = model(2)) -> [UInt8] {
    ReportPayload(
      round: round, model: m, cluster: "cluster-\(i)", loss: 0.5, accuracy: 0.75,
      samples: 8, classCounts: [3, 5]
    ).canonicalBytes
  }

  func entry(_ i: Int, round: UInt64 = 2, model m: Hash256 = model(2)) -> EvaluationClose.Entry {
    EvaluationClose.Entry(
      cluster: "cluster-\(i)", key: net.clusters[i].publicKey,
      payload: Hash256.of(report(i, round: round, model: m)), payloadSize: 100)
  }

  /// Cluster `i`'s signed commitment to its report (signed with `key`, by default its own).
  func commitment(
    _ i: Int, round: UInt64 = 2, model m: Hash256 = model(2), size: UInt64 = 100,
    key: SigningKey? = nil
  ) -> Transaction {
    .reportCommitment(
      ReportCommitment(
        network: net.network, round: round, model: m, cluster: "cluster-\(i)",
        payload: Hash256.of(report(i, round: round, model: m)), payloadSize: size,
        clusterKey: key ?? net.clusters[i]))
  }

  func close(
    round: UInt64 = 2, model m: Hash256 = model(2), rules: EvaluationRules? = nil,
    entries: [EvaluationClose.Entry]? = nil, node: SigningKey? = nil
  ) -> EvaluationClose {
    EvaluationClose(
      network: net.network, round: round, model: m, rules: rules ?? self.rules,
      reports: entries ?? net.clusters.indices.map { entry($0, round: round, model: m) },
      node: node ?? net.nodes[0])
  }

  /// The verdicts on what `orderer` orders next.
  func outcomes(_ orderer: EmbeddedOrderer) throws -> [TransactionOutcome] {
    try orderer.cut().flatMap(\.outcomes)
  }

  func assertRefused(
    _ outcomes: [TransactionOutcome], _ reasons: [String], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertEqual(outcomes.count, reasons.count, file: file, line: line)
    for (outcome, reason) in zip(outcomes, reasons) {
      XCTAssert(
        outcome.reason?.contains(reason) ?? false, "\(outcome) should say \(reason)", file: file,
        line: line)
    }
  }

  /// Attack (a coordinating node picking whose reports count, to isolate one cluster's figures
  /// among its own clusters', or to skew the metric): clusters commit their own reports, and
  /// the close must list exactly those, in ledger order.
  func testClustersCommitTheirReportsAndTheCloseListsExactlyThose() throws {
    let orderer = try twoRounds(temporaryDirectory())
    let stranger = SigningKey()
    // Reports only on a committed model being evaluated, from enrolled clusters, signed, of
    // a bounded size.
    for tx in [
      commitment(0, round: 3),
      commitment(0, model: model(1)),
      commitment(0, key: net.clusters[1]), commitment(0, size: rules.reportCap + 1),
      Transaction.reportCommitment(
        ReportCommitment(
          network: net.network, round: 2, model: model(2), cluster: "cluster-9",
          payload: Hash256.of([1]), payloadSize: 10, clusterKey: stranger)),
    ] { orderer.submit(tx) }
    assertRefused(
      try outcomes(orderer),
      [
        "round 3 has no committed model",
        "names model", "signature of cluster \"cluster-0\" does not verify",
        "the most a report commitment may name is \(rules.reportCap)",
        "\"cluster-9\" is not enrolled",
      ])
    for i in net.clusters.indices { orderer.submit(commitment(i)) }
    orderer.submit(commitment(0))
    XCTAssertEqual(
      try outcomes(orderer).map(\.reason),
      [nil, nil, nil, "cluster \"cluster-0\" already reported on round 2's model"])
    // The close: exactly the ledger's commitments, under genesis's rules, by a node.
    for c in [
      close(entries: [entry(0), entry(1)]), close(entries: [entry(2), entry(1), entry(0)]),
      close(
        rules: EvaluationRules(
          minimumReports: 2, sampleCap: 64, classes: 2, publish: true, every: 2, window: 60)),
      close(model: model(1)), close(node: stranger),
    ] { orderer.submit(.evaluationClose(c)) }
    assertRefused(
      try outcomes(orderer),
      [
        "the ledger holds 3 report commitment(s)", "the ledger holds 3 report commitment(s)",
        "not the network's", "names model", "not a node in genesis",
      ])
    orderer.submit(.evaluationClose(close()))
    orderer.submit(.evaluationClose(close()))
    orderer.submit(commitment(1))
    let taken = try outcomes(orderer)
    XCTAssertEqual(taken.first, .valid)
    assertRefused(Array(taken.dropFirst()), ["already evaluated", "already evaluated"])
    XCTAssertEqual(orderer.replicas[0].state.rounds[2]?.evaluation, close())

    // Attack (a node closing early on a chosen few): before the reporting window ends, only
    // every enrolled cluster's report closes the evaluation; after it, whatever arrived.
    let few = try twoRounds(temporaryDirectory())
    few.submit(commitment(0))
    few.submit(.evaluationClose(close(entries: [entry(0)])))
    assertRefused(
      Array(try outcomes(few).dropFirst()),
      ["closes with 1 of 3 enrolled clusters' reports before the 60 s reporting window ends"])
    clock.now += 60_000
    few.submit(.evaluationClose(close(entries: [entry(0)])))
    XCTAssertEqual(try outcomes(few), [.valid])

    // A network without evaluation rules records no metric.
    let none = TestNetwork()
    let plain = try twoRounds(temporaryDirectory(), net: none)
    plain.submit(
      .reportCommitment(
        ReportCommitment(
          network: none.network, round: 2, model: model(2), cluster: "cluster-0",
          payload: Hash256.of([1]), payloadSize: 10, clusterKey: none.clusters[0])))
    assertRefused(try outcomes(plain), ["records no federated metric"])
  }

  /// Round 2 evaluated: every cluster's report committed and closed.
  func evaluated(_ orderer: EmbeddedOrderer) throws -> EvaluationClose {
    for i in net.clusters.indices { orderer.submit(commitment(i)) }
    orderer.submit(.evaluationClose(close()))
    XCTAssert(try outcomes(orderer).allSatisfy(\.isValid))
    return close()
  }

  /// The statement k honest endorsers would sign for `close` (every report counted).
  func statement(_ c: EvaluationClose, published: [MetricStatement.Published] = [])
    -> MetricStatement
  {
    MetricStatement(
      round: c.round, model: c.model, close: Hash256.of(c.transactionBytes),
      combination: rules.combination, parameters: rules.statementParameters, accuracy: 0.75,
      loss: 0.5, clusters: UInt32(c.reports.count), samples: 8 * UInt64(c.reports.count),
      counted: c.reports.map(\.cluster), refused: [], published: published)
  }

  func endorse(_ s: MetricStatement, by node: Int) -> Transaction {
    .metricEndorsement(MetricEndorsement(network: net.network, statement: s, key: net.nodes[node]))
  }

  func testAMetricCommitsOnKEndorsementsOfTheCloseItsReportsAndTheReceiptProvesIt() throws {
    let dir = temporaryDirectory()
    let orderer = try twoRounds(dir)
    let c = try evaluated(orderer)
    let honest = statement(c)
    // What endorsers must not sign: another close, a statement leaving a report out, figures
    // the network keeps private, figures no valid reports give, fewer reports than the rules.
    var otherClose = honest
    otherClose.close = Hash256.of([1])
    var missing = honest
    missing.counted.removeLast()
    let published = statement(
      c, published: [.init(cluster: "cluster-0", accuracy: 0.75, loss: 0.5, samples: 8)])
    var impossible = honest
    impossible.accuracy = 1.5
    var oversampled = honest
    oversampled.samples = 64 * 3 + 1
    var few = honest
    few.refused = c.reports.dropFirst(1).map { .init(cluster: $0.cluster, reason: "refused") }
    few.counted = [c.reports[0].cluster]
    few.clusters = 1
    let attempts: [(MetricStatement, String)] = [
      (otherClose, "another evaluation-close"), (missing, "does not account for exactly"),
      (published, "keep private"), (impossible, "no valid reports combine to"),
      (oversampled, "no valid reports combine to"), (few, "at least 2 (minimumReports)"),
    ]
    for (s, _) in attempts { orderer.submit(endorse(s, by: 3)) }
    for (outcome, (_, reason)) in zip(try outcomes(orderer), attempts) {
      XCTAssert(outcome.reason?.contains(reason) ?? false, "\(outcome) should say \(reason)")
    }
    // Honest endorsements; a node that endorses two metrics for one round is refused the second.
    var endorsements: [Hash256] = []
    for node in 0..<3 {
      let tx = endorse(honest, by: node)
      endorsements.append(Hash256.of(tx.canonicalBytes))
      orderer.submit(tx)
    }
    var other = honest
    other.accuracy = 0.5
    orderer.submit(endorse(other, by: 3))
    orderer.submit(endorse(honest, by: 3))
    let judged = try outcomes(orderer)
    XCTAssertEqual(Array(judged.prefix(4)), [.valid, .valid, .valid, .valid])
    XCTAssert(judged.last?.reason?.contains("equivocation") ?? false, "\(judged)")
    // A commit needs k (3) distinct endorsers of one statement.
    orderer.submit(
      .metricCommit(
        MetricCommit(
          round: 2, model: model(2), statement: honest.hash,
          endorsements: Array(endorsements.prefix(2)))))
    orderer.submit(
      .metricCommit(
        MetricCommit(
          round: 2, model: model(2), statement: other.hash, endorsements: endorsements)))
    orderer.submit(
      .metricCommit(
        MetricCommit(round: 2, model: model(2), statement: honest.hash, endorsements: endorsements))
    )
    let commits = try outcomes(orderer)
    XCTAssert(commits[0].reason?.contains("genesis requires 3") ?? false, "\(commits)")
    XCTAssert(commits[1].reason?.contains("signs a different statement") ?? false)
    XCTAssertEqual(commits[2], .valid)
    XCTAssertEqual(orderer.replicas[0].state.rounds[2]?.recordedMetric, honest)

    // The receipt of round 2's model proves its metric, offline, from genesis alone.
    let receipt = try orderer.replicas[0].receipt(round: 2)
    XCTAssertEqual(try receipt.verifiedMetric(genesis: net.genesis), honest)
    let lines = try receipt.verify(genesis: net.genesis, modelHash: model(2))
    XCTAssert(
      lines.last!.contains("accuracy 75.00% (loss 0.5000) over 3 clusters and 24 held-out"),
      lines.last!)
    let parsed = try Receipt.parse(receipt.json())
    XCTAssertEqual(parsed, receipt)
    XCTAssertNil(try orderer.replicas[0].receipt(round: 1).metric)
    // Attacks on the receipt's metric: fewer endorsements than k, another round's model, a
    // statement altered after signing, a path into another block.
    var short = receipt
    short.metric!.endorsements.removeLast()
    assertThrows(
      try short.verify(genesis: net.genesis, modelHash: nil), containing: "genesis requires 3")
    var moved = try orderer.replicas[0].receipt(round: 1)
    moved.metric = receipt.metric
    assertThrows(try moved.verify(genesis: net.genesis, modelHash: nil), containing: "metric")
    var altered = receipt
    var e = try MetricEndorsement(transaction: altered.metric!.endorsements[0])
    e.statement.accuracy = 0.99
    altered.metric!.endorsements[0] = e.transactionBytes
    assertThrows(
      try altered.verify(genesis: net.genesis, modelHash: nil), containing: "does not verify")
    var unproven = receipt
    unproven.metric!.path = [Hash256.of([0])]
    assertThrows(try unproven.verify(genesis: net.genesis, modelHash: nil), containing: "Merkle")
    // ledger show lists it.
    let view = try LedgerView(store: orderer.replicas[0].store, genesis: net.genesis)
    XCTAssertEqual(view.rounds.first { $0.round == 2 }?.metric?.clusters, 3)
    // And a node that reopens its store replays to the same metric.
    let again = try net.open(dir)
    XCTAssertEqual(again.replicas[0].state.rounds[2]?.recordedMetric, honest)
  }
}

extension EvaluationLedgerTests {
  /// Attack (a node keeping a model from being judged by opening rounds at once): a model the
  /// schedule judges is judged while the next round trains (that round opens at once); the
  /// round after waits for its evaluation-close, or until twice the reporting window has
  /// passed (for any node to close it), and then its evaluation is over.
  func testTheRoundAfterNextWaitsForAScheduledEvaluation() throws {
    let orderer = try twoRounds(temporaryDirectory())
    // Round 3 opens and commits while round 2's model is judged; round 4 waits for it.
    XCTAssert(
      try net.round(3, on: orderer, base: model(2), newModel: model(3)).allSatisfy {
        $0.outcomes.allSatisfy(\.isValid)
      })
    XCTAssert(orderer.replicas[0].state.evaluationOpen(2))
    orderer.submit(net.roundOpen(4, base: model(3)))
    assertRefused(try outcomes(orderer), ["round 2's model is being evaluated"])
    // Attack (closing the newer evaluation first, so that enclaves, which sign metrics of
    // rounds that only move forward, can no longer sign the older one's): refused.
    let third = net.clusters.indices.map { entry($0, round: 3, model: model(3)) }
    for i in net.clusters.indices { orderer.submit(commitment(i, round: 3, model: model(3))) }
    orderer.submit(.evaluationClose(close(round: 3, model: model(3), entries: third)))
    let reported = try outcomes(orderer)
    XCTAssert(reported.dropLast().allSatisfy(\.isValid), "\(reported)")
    assertRefused(Array(reported.suffix(1)), ["round 2's evaluation is still open"])
    _ = try evaluated(orderer)
    orderer.submit(.evaluationClose(close(round: 3, model: model(3), entries: third)))
    XCTAssertEqual(try outcomes(orderer), [.valid])
    orderer.submit(net.roundOpen(4, base: model(3)))
    XCTAssertEqual(try outcomes(orderer), [.valid])

    // Without a close, round 4 opens once twice the window has passed since round 2's commit.
    let late = try twoRounds(temporaryDirectory())
    try net.round(3, on: late, base: model(2), newModel: model(3))
    clock.now += 119_000
    late.submit(net.roundOpen(4, base: model(3)))
    assertRefused(try outcomes(late), ["being evaluated"])
    clock.now += 1_000
    late.submit(net.roundOpen(4, base: model(3)))
    XCTAssertEqual(try outcomes(late), [.valid])
    // And the model it passed over can no longer be evaluated.
    XCTAssertFalse(late.replicas[0].state.evaluationOpen(2))
    late.submit(commitment(0))
    assertRefused(try outcomes(late), ["round 2's evaluation is over"])
  }
}
