import Federation
import Foundation
import Gateway
import Learning
import Ledger
import Records
import Simulator
import XCTest

/// Federated evaluation on the record, end to end in mode tee: clusters seal their reports, the
/// enclaves combine them, and the ledger commits the metric they computed, without the reports
/// a cluster got wrong (its own agent refuses to send those; a cluster that bypasses its agent
/// is refused by the enclaves: EnclaveEvaluationTests).
final class EvaluationSimulationTests: XCTestCase {
  func testTheLedgerRecordsWhatTheEnclavesComputedFromTheValidReportsAlone() async throws {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 6
    c.rounds = 2
    c.threads = 2
    c.partition = .iid
    c.privacy.mode = .tee
    c.evaluation.every = 2
    // Three of six clusters report below: the close waits out the (short) window.
    c.evaluation.window = 1
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-eval-\(UUID().uuidString)"
    ).path
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let simulation = try Simulation(
      configuration: c, train: SyntheticData.quadrants(count: 1200, seed: 3), test: nil)
    let network = try SimulatedNetwork(
      directory: dir, configuration: c, clusters: c.clusters, initialModel: simulation.model,
      rules: simulation.rules, evaluation: simulation.evaluationRules, enclaves: .inProcess)
    defer { network.shutdown() }
    simulation.backend = network
    let rules = try XCTUnwrap(simulation.evaluationRules)
    XCTAssertEqual(network.genesis.evaluation, rules)

    // Round 1 is not evaluated by the run (every 2 rounds): its reports are made here, three
    // honest and three a cluster got wrong.
    let first = try await simulation.runRound(1)
    XCTAssertNil(first.federated)
    let model = simulation.model
    // Each cluster checks the model against its receipt before it judges it.
    XCTAssertEqual(try network.prepareEvaluation(of: model, round: 1, by: Array(0..<6)), [:])
    var reports = try simulation.clusters.map {
      try XCTUnwrap(try $0.evaluate(model, round: 1, cap: Int(rules.sampleCap)))
    }
    reports[3].accuracy = 1.5
    reports[4].modelHash = String(repeating: "0", count: 64)
    reports[5].samples = Int(rules.sampleCap) + 1
    reports[5].classCounts[0] += Int(rules.sampleCap) + 1 - reports[5].classCounts.reduce(0, +)
    let metric = try XCTUnwrap(
      try network.recordEvaluation(reports, of: model, round: 1, rules: rules))
    XCTAssertTrue(metric.recorded)
    XCTAssertEqual(metric.clusters, 3)
    XCTAssertEqual(metric.samples, reports.prefix(3).reduce(0) { $0 + $1.samples })
    let reasons = Dictionary(uniqueKeysWithValues: metric.refused.map { ($0.cluster, $0.reason) })
    XCTAssertEqual(Set(reasons.keys), [3, 4, 5])
    XCTAssert(
      reasons[3]!.contains(
        "will not send its evaluation report: it claims an accuracy outside [0, 1]"), reasons[3]!)
    XCTAssert(reasons[4]!.contains("reports only on the model it checked last"), reasons[4]!)
    XCTAssert(reasons[5]!.contains("held-out cap"), reasons[5]!)
    XCTAssertTrue(metric.reports.isEmpty, "per-cluster figures stay private")

    // What the ledger committed is what the enclaves computed, bit for bit the combination of
    // the valid reports alone (the same arithmetic a run without a ledger uses).
    let recorded = try XCTUnwrap(network.orderer.replicas[1].state.rounds[1]?.recordedMetric)
    let local = simulation.evaluation.combine(Array(reports.prefix(3)))
    XCTAssertEqual(recorded.accuracy, local.accuracy)
    XCTAssertEqual(recorded.loss, local.loss)
    XCTAssertEqual(metric.accuracy, recorded.accuracy)
    XCTAssertEqual(recorded.counted, ["cluster-0", "cluster-1", "cluster-2"])
    XCTAssertTrue(recorded.refused.isEmpty, "nothing a cluster's agent refused reached the ledger")
    // Every node holds the same, and the round's receipt proves it from genesis alone.
    XCTAssertEqual(Set(network.orderer.heads.map(\.head)).count, 1)
    let receipt = try Receipt.parse(
      Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/models/round-001.receipt.json"))))
    XCTAssertEqual(try receipt.verifiedMetric(genesis: network.genesis), recorded)
    // A cluster checks each receipt once, but only that very receipt: a copy short of k
    // endorsements for the same model is checked again and refused, and the cluster then
    // reports on nothing until it checks the model again.
    let hash = try XCTUnwrap(Hash256(hex: model.hash))
    var short = receipt
    short.endorsements.removeLast(2)
    XCTAssertThrowsError(try network.agents[0].check(hash, receipt: short))
    XCTAssertThrowsError(
      try network.agents[0].reportSubmission(for: reports[0], model: hash, round: 1))

    // The model is judged once: reports again, or after the next round opens, make nothing.
    XCTAssertNil(try network.recordEvaluation(reports, of: model, round: 1, rules: rules))
    let second = try await simulation.runRound(2)
    let judged = try XCTUnwrap(second.federated)
    XCTAssertTrue(judged.recorded)
    XCTAssertEqual(judged.clusters, 6)
    let view = try LedgerView(store: network.orderer.replicas[0].store, genesis: network.genesis)
    XCTAssertEqual(view.rounds.compactMap(\.metric).map(\.clusters), [3, 6])
    XCTAssertEqual(view.invalidTransactions.count, 0)
  }
}
