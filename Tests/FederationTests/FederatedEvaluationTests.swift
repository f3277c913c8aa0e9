import Federation
import Foundation
import Learning
import XCTest

/// Federated evaluation: clusters judge each committed model on data they keep apart.
final class FederatedEvaluationTests: XCTestCase {
  func report(
    _ cluster: Int, accuracy: Double, loss: Double, samples: Int, round: Int = 3,
    model: String = "m"
  ) -> EvaluationReport {
    EvaluationReport(
      cluster: cluster, round: round, modelHash: model, loss: loss, accuracy: accuracy,
      samples: samples, classCounts: [samples - samples / 2, samples / 2])
  }

  /// Hand-worked: accuracies 0.9 (100 samples), 0.5 (300), 0.8 (100). The sample-weighted
  /// mean is (90 + 150 + 80) / 500 = 0.64; the median of the three is 0.8. Losses 0.2, 1.0,
  /// 0.4: mean (20 + 300 + 40) / 500 = 0.72, median 0.4.
  func testWeightedMeanAndMedianAgainstHandWorkedValues() {
    let reports = [
      report(0, accuracy: 0.9, loss: 0.2, samples: 100),
      report(1, accuracy: 0.5, loss: 1.0, samples: 300),
      report(2, accuracy: 0.8, loss: 0.4, samples: 100),
    ]
    let mean = StandardEvaluation(rule: .mean).combine(reports)
    XCTAssertEqual(mean.accuracy, 0.64, accuracy: 1e-12)
    XCTAssertEqual(mean.loss, 0.72, accuracy: 1e-12)
    let median = StandardEvaluation(rule: .median).combine(reports)
    XCTAssertEqual(median.accuracy, 0.8)
    XCTAssertEqual(median.loss, 0.4)
    // An even count takes the middle two's mean: 0.5, 0.8, 0.9, 0.95 -> 0.85.
    let four = reports + [report(3, accuracy: 0.95, loss: 0.1, samples: 10)]
    XCTAssertEqual(StandardEvaluation(rule: .median).combine(four).accuracy, 0.85, accuracy: 1e-12)
    // A lying cluster (accuracy 1.0 over a huge claimed sample count) moves the median less.
    let lying = reports + [report(9, accuracy: 1, loss: 0, samples: 100_000)]
    XCTAssertGreaterThan(StandardEvaluation(rule: .mean).combine(lying).accuracy, 0.99)
    XCTAssertEqual(StandardEvaluation(rule: .median).combine(lying).accuracy, 0.85, accuracy: 1e-12)
  }

  /// Every bad report the issue names is refused with its reason, and the metric is computed
  /// without it.
  func testBadReportsAreRefusedWithTheirReason() {
    let v = ReportValidation(
      round: 3, modelHash: "m", asked: [0, 1, 2, 3, 4, 5, 6, 7, 8], sampleCap: 1000, classes: 2)
    var wrongCounts = report(7, accuracy: 0.5, loss: 1, samples: 10)
    wrongCounts.classCounts = [3, 3]
    // Attack: counts that would overflow when added, to crash whatever combines them.
    var overflowing = report(8, accuracy: 0.5, loss: 1, samples: 10)
    overflowing.classCounts = [Int.max, 1]
    let reports = [
      report(0, accuracy: 0.8, loss: 0.3, samples: 100),
      report(0, accuracy: 0.9, loss: 0.3, samples: 100),
      report(1, accuracy: 0.8, loss: 0.3, samples: 100, model: "other"),
      report(2, accuracy: 0.8, loss: 0.3, samples: 100, round: 2),
      report(9, accuracy: 0.8, loss: 0.3, samples: 100),
      report(3, accuracy: 1.2, loss: 0.3, samples: 100),
      report(4, accuracy: 0.8, loss: -1, samples: 100),
      report(5, accuracy: 0.8, loss: .infinity, samples: 100),
      report(6, accuracy: 0.8, loss: 0.3, samples: 5000),
      wrongCounts, overflowing,
    ]
    let (valid, refused) = v.sort(reports)
    XCTAssertEqual(valid.map(\.cluster), [0])
    XCTAssertEqual(valid[0].accuracy, 0.8, "a cluster's first report is judged, its second refused")
    let reasons = Dictionary(refused.map { ($0.cluster, $0.reason) }, uniquingKeysWith: { $1 })
    XCTAssertEqual(reasons[0], "a second report for this round")
    XCTAssertTrue(reasons[1]!.contains("not the one round 3 committed"))
    XCTAssertTrue(reasons[2]!.contains("is for round 2"))
    XCTAssertTrue(reasons[9]!.contains("was not asked"))
    XCTAssertTrue(reasons[3]!.contains("outside [0, 1]"))
    XCTAssertTrue(reasons[4]!.contains("negative or non-finite loss"))
    XCTAssertTrue(reasons[5]!.contains("negative or non-finite loss"))
    XCTAssertTrue(reasons[6]!.contains("the held-out cap of 1000"))
    XCTAssertTrue(reasons[7]!.contains("adding up to its samples"))
    XCTAssertTrue(reasons[8]!.contains("adding up to its samples"))
    // The reasons name no claimed figure (they are written where reports are private).
    XCTAssertFalse(reasons.values.contains { $0.contains("5000") || $0.contains("1.2") })
  }

  /// A consortium without a central test set: the clusters' held-out data is the only judge,
  /// the run completes, every round is judged, and the best model can be named.
  func testARunWithoutACentralTestSetIsJudgedByTheClusters() async throws {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 4
    c.rounds = 3
    c.threads = 2
    c.ledger.enabled = false
    c.privacy.mode = .none
    c.evaluation.every = 1
    c.evaluation.combine = .median
    let train = quadrants(count: 800, seed: 4)
    let simulation = try Simulation(configuration: c, train: train, test: nil)
    // Held-out data is the cluster's own, apart from what it trains on.
    for cluster in simulation.clusters {
      let held = try XCTUnwrap(cluster.heldOut)
      XCTAssertEqual(
        held.count + cluster.data.count, simulation.histograms[cluster.id].reduce(0, +))
      XCTAssertEqual(
        Double(held.count), 0.1 * Double(simulation.histograms[cluster.id].reduce(0, +)),
        accuracy: 1)
    }
    // A report may claim at most the largest held-out split, rounded up to a power of two.
    let largest = simulation.clusters.map { $0.heldOut?.count ?? 0 }.max()!
    XCTAssertGreaterThanOrEqual(simulation.heldOutCap, UInt64(largest))
    XCTAssertLessThan(simulation.heldOutCap, UInt64(2 * largest))
    let records = try await simulation.run()
    XCTAssertTrue(
      records.allSatisfy { $0.accuracy == nil }, "no central test set, no central figure")
    let judged = records.compactMap(\.federated)
    XCTAssertEqual(judged.map(\.round), [1, 2, 3])
    XCTAssertTrue(
      judged.allSatisfy { $0.clusters == 4 && $0.refused.isEmpty && $0.reports.isEmpty })
    XCTAssertEqual(judged.last?.combination, "median")
    XCTAssertGreaterThan(judged.last!.accuracy, 0.8)
    let best = try XCTUnwrap(judged.max { $0.accuracy < $1.accuracy })
    XCTAssertEqual(best.modelHash, records[best.round - 1].modelHash)
    // The same seed gives the same split and the same model.
    let again = try Simulation(configuration: c, train: train, test: nil)
    let records2 = try await again.run()
    XCTAssertEqual(records2.last?.modelHash, records.last?.modelHash)
    // No test set and nothing held out: nothing could judge the model.
    c.evaluation.heldOut = 0
    XCTAssertThrowsError(try Simulation(configuration: c, train: train, test: nil))
  }
}
