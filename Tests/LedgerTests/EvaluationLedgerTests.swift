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
  let rules = EvaluationRules(minimumReports: 2, sampleCap: 64, classes: 2)
  lazy var net = TestNetwork(evaluation: rules)

  /// A ledger with enrolled clusters and two committed rounds.
  func twoRounds(_ dir: String, net: TestNetwork? = nil) throws -> EmbeddedOrderer {
    let net = net ?? self.net
    let orderer = try net.open(dir)
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

  func entry(_ i: Int, round: UInt64 = 2, model m: Hash256 = model(2), key: SigningKey? = nil)
    -> EvaluationClose.Entry
  {
    EvaluationClose.Entry(
      network: net.network, round: round, model: m, cluster: "cluster-\(i)",
      payload: Hash256.of(report(i, round: round, model: m)), key: key ?? net.clusters[i])
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

  /// The reasons the ledger gave, by transaction, for what `orderer` ordered last.
  func outcomes(_ orderer: EmbeddedOrderer) throws -> [TransactionOutcome] {
    try orderer.cut().flatMap(\.outcomes)
  }

  func testAnEvaluationClosesOnlyACommittedModelWithSignedReportsOfEnrolledClusters() throws {
    let orderer = try twoRounds(temporaryDirectory())
    var twice = entry(0)
    twice.payload = Hash256.of([9])
    var forged = entry(1)
    forged.signature = entry(1, model: model(7)).signature
    let stranger = SigningKey()
    let attempts: [(EvaluationClose, String)] = [
      (close(round: 3), "round 3 has no committed model"),
      (close(model: model(1)), "but round 2 committed"),
      (
        close(rules: EvaluationRules(minimumReports: 2, sampleCap: 64, classes: 2, publish: true)),
        "not the network's"
      ),
      (
        close(rules: EvaluationRules(minimumReports: 1, sampleCap: 64, classes: 2)),
        "not the network's"
      ),
      (
        close(entries: [entry(0), entry(1), entry(0, key: net.clusters[2])]),
        "not its enrolled key"
      ),
      (close(entries: [entry(0), twice]), "two reports from \"cluster-0\""),
      (close(entries: [entry(0), forged]), "report signature of cluster \"cluster-1\""),
      (close(entries: [entry(0)]), "at least 2 (minimumReports)"),
      (close(node: stranger), "not a node in genesis"),
    ]
    for (c, _) in attempts { orderer.submit(.evaluationClose(c)) }
    let unenrolled = EvaluationClose.Entry(
      network: net.network, round: 2, model: model(2), cluster: "cluster-9",
      payload: Hash256.of([1]), key: stranger)
    orderer.submit(.evaluationClose(close(entries: [entry(0), unenrolled])))
    let refused = try outcomes(orderer)
    for ((_, reason), outcome) in zip(attempts, refused) {
      XCTAssert(outcome.reason?.contains(reason) ?? false, "\(outcome) should say \(reason)")
    }
    XCTAssert(refused.last?.reason?.contains("not an enrolled cluster") ?? false, "\(refused)")

    // The valid close is taken once; the round's model is judged once.
    orderer.submit(.evaluationClose(close()))
    orderer.submit(.evaluationClose(close(entries: [entry(1), entry(2)])))
    let taken = try outcomes(orderer)
    XCTAssertEqual(taken.first, .valid)
    XCTAssert(taken.last?.reason?.contains("already evaluated") ?? false)
    XCTAssertEqual(orderer.replicas[0].state.rounds[2]?.evaluation, close())

    // A network without evaluation rules records no metric.
    let none = TestNetwork()
    let plain = try twoRounds(temporaryDirectory(), net: none)
    plain.submit(
      .evaluationClose(
        EvaluationClose(
          network: none.network, round: 2, model: model(2), rules: rules, reports: [],
          node: none.nodes[0])))
    let reason = try outcomes(plain).first?.reason
    XCTAssert(reason?.contains("records no federated metric") ?? false, "\(reason ?? "valid")")
  }

  /// The statement k honest endorsers would sign for `close` (every report counted).
  func statement(_ c: EvaluationClose, published: [MetricStatement.Published] = [])
    -> MetricStatement
  {
    MetricStatement(
      round: c.round, model: c.model, close: Hash256.of(c.transactionBytes),
      combination: rules.combination, parameters: rules.statementParameters, accuracy: 0.75,
      loss: 0.5, clusters: UInt32(c.reports.count), samples: 8 * UInt64(c.reports.count),
      counted: c.payloads, refused: [], published: published)
  }

  func endorse(_ s: MetricStatement, by node: Int) -> Transaction {
    .metricEndorsement(MetricEndorsement(network: net.network, statement: s, key: net.nodes[node]))
  }

  func testAMetricCommitsOnKEndorsementsOfTheCloseItsReportsAndTheReceiptProvesIt() throws {
    let dir = temporaryDirectory()
    let orderer = try twoRounds(dir)
    let c = close()
    orderer.submit(.evaluationClose(c))
    try orderer.cut()
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
    few.refused = c.payloads.dropFirst(1).map { .init(update: $0, reason: "refused") }
    few.counted = [c.payloads[0]]
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
