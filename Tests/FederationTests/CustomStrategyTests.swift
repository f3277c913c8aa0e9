import Federation
import Learning
import XCTest

/// The example from docs/simulate.md ("Extending"): a strategy written outside the library.
///
/// It keeps the updates whose L2 norm is at most twice the round's median norm and averages
/// them equally, rejecting the rest with a reason.
final class MedianNormFilter: Strategy {
  var description: String { "median-norm filter" }
  private var global: [Float] = []
  private var updates: [ClusterUpdate] = []

  func begin(round: Int, baseModelHash: String, global: [Float]) {
    self.global = global
    updates = []
  }

  func add(_ update: ClusterUpdate) { updates.append(update) }

  func finish() -> AggregationOutcome {
    let norms = updates.map { $0.delta.reduce(0) { $0 + $1 * $1 }.squareRoot() }
    let median = norms.sorted()[norms.count / 2]
    let kept = updates.indices.filter { norms[$0] <= 2 * median }
    var next = global
    for i in kept {
      for j in next.indices { next[j] += updates[i].delta[j] / Float(kept.count) }
    }
    let decisions = updates.indices.map { i in
      kept.contains(i)
        ? UpdateDecision(
          cluster: updates[i].cluster, verdict: .accepted, weight: 1 / Double(kept.count))
        : UpdateDecision(
          cluster: updates[i].cluster, verdict: .rejected, weight: 0,
          reason: "norm \(norms[i]) is over twice the median \(median)")
    }
    return AggregationOutcome(parameters: next, decisions: decisions)
  }
}

final class CustomStrategyTests: XCTestCase {
  func testACustomStrategyDrivesASimulation() async throws {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 6
    c.rounds = 2
    c.attack.kind = .scaling(factor: 50)
    c.attack.fraction = 1.0 / 6
    let simulation = try Simulation(
      configuration: c, train: SyntheticData.quadrants(count: 1200, seed: 1),
      test: SyntheticData.quadrants(count: 300, seed: 2), strategy: MedianNormFilter())
    let records = try await simulation.run()
    for record in records {
      let rejected = record.decisions.filter { $0.verdict == .rejected }.map(\.cluster)
      XCTAssertEqual(rejected, simulation.attackers)
    }
    XCTAssertGreaterThanOrEqual(records.last!.accuracy!, 0.9)
  }
}
