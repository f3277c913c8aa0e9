import Federation
import Foundation
import Learning
import XCTest

/// Whole rounds on a small synthetic task.
final class SimulationTests: XCTestCase {
  let train = quadrants(count: 1600, seed: 1)
  let test = quadrants(count: 400, seed: 2)

  func configuration(_ edit: (inout SimulationConfiguration) -> Void = { _ in })
    -> SimulationConfiguration
  {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 6
    c.rounds = 3
    c.threads = 2
    c.partition = .dirichlet(alpha: 1)
    edit(&c)
    return c
  }

  func run(_ c: SimulationConfiguration) async throws -> (Simulation, [RoundRecord]) {
    let simulation = try Simulation(configuration: c, train: train, test: test)
    return (simulation, try await simulation.run())
  }

  func testFedAvgLearnsAndIsDeterministic() async throws {
    let (a, records) = try await run(configuration())
    XCTAssertEqual(records.count, 3)
    XCTAssertGreaterThanOrEqual(records.last!.accuracy!, 0.9)
    XCTAssertEqual(records[0].accepted, 6)
    let (b, _) = try await run(configuration())
    XCTAssertEqual(a.model.hash, b.model.hash)
    // The result does not depend on how many clusters train at once.
    let (c, _) = try await run(configuration { $0.threads = 1 })
    XCTAssertEqual(a.model.hash, c.model.hash)
    let (d, _) = try await run(configuration { $0.seed = 2 })
    XCTAssertNotEqual(a.model.hash, d.model.hash)
  }

  func testMultiKrumRejectsSignFlippers() async throws {
    let c = configuration {
      $0.attack.kind = .signFlip(factor: 4)
      $0.attack.fraction = 2.0 / 6
      $0.strategy.rule = .krum(f: 2, select: nil)
    }
    let (simulation, records) = try await run(c)
    let attackers = Set(simulation.attackers)
    XCTAssertEqual(attackers.count, 2)
    for record in records {
      let rejected = Set(record.decisions.filter { $0.verdict == .rejected }.map(\.cluster))
      XCTAssertEqual(rejected, attackers, "round \(record.round)")
    }
    XCTAssertGreaterThanOrEqual(records.last!.accuracy!, 0.85)
    // Undefended, the same attack ruins FedAvg.
    let (_, undefended) = try await run(
      configuration {
        $0.attack.kind = .signFlip(factor: 4)
        $0.attack.fraction = 2.0 / 6
      })
    XCTAssertLessThan(undefended.last!.accuracy!, 0.6)
  }

  func testSamplingDropoutsAndStragglersAreReported() async throws {
    var c = configuration {
      $0.participation.fraction = 0.5
      $0.participation.dropout = 0.3
      $0.participation.speedSpread = 1.0
      $0.rounds = 6
      // Rounds with one update aggregate too (the abort of smaller rounds is tested below).
      $0.strategy.minimumCohort = 1
    }
    // A deadline that half of the clusters miss.
    let probe = try Simulation(configuration: c, train: train, test: test)
    let needs = probe.clusters.map { $0.simulatedSeconds(for: c.local) }.sorted()
    c.participation.deadline = (needs[2] + needs[3]) / 2
    let simulation = try Simulation(configuration: c, train: train, test: test)
    let records = try await simulation.run()
    var dropped = 0
    var late = 0
    for r in records {
      XCTAssertEqual(r.participants.count, 3)
      XCTAssertEqual(r.decisions.count + r.missing.count, 3)
      dropped += r.missing.filter { $0.cause == .dropped }.count
      for m in r.missing where m.cause == .straggler {
        late += 1
        XCTAssertGreaterThan(
          simulation.clusters[m.cluster].simulatedSeconds(for: c.local), c.participation.deadline!)
        XCTAssertTrue(m.detail.contains("deadline"))
      }
      for d in r.decisions {
        XCTAssertLessThanOrEqual(
          simulation.clusters[d.cluster].simulatedSeconds(for: c.local), c.participation.deadline!)
      }
    }
    XCTAssertGreaterThan(dropped, 0)
    XCTAssertGreaterThan(late, 0)
  }

  /// A round aggregates at least its minimum cohort, or aborts and keeps the model: an
  /// aggregate of fewer would come close to one cluster's update.
  func testRoundsWithFewerUpdatesThanTheMinimumCohortAbortAndKeepTheModel() async throws {
    let (_, records) = try await run(
      configuration {
        $0.participation.dropout = 0.6
        $0.rounds = 6
        $0.strategy.minimumCohort = 4
      })
    let aborted = records.filter { $0.aborted != nil }
    XCTAssertFalse(aborted.isEmpty)
    XCTAssertLessThan(aborted.count, records.count)
    for r in records {
      if let reason = r.aborted {
        XCTAssertEqual(r.modelHash, r.baseModelHash)
        XCTAssert(reason.contains("the round needs at least 4 (minimum cohort)"), reason)
        XCTAssertLessThan(6 - r.missing.count, 4)
      } else {
        XCTAssertGreaterThanOrEqual(r.accepted, 4)
        XCTAssertNotEqual(r.modelHash, r.baseModelHash)
      }
    }
  }

  /// Hole 3 of the review: sample-weighted FedAvg gives a cluster that claims a huge sample
  /// count nearly all the weight. Claims are capped per update (by default at the largest
  /// cluster's data), so the inflating cluster weighs no more than an honest large one.
  func testAnInflatedSampleClaimDominatesOnlyALooseCap() async throws {
    func attackerWeight(cap: UInt64?) async throws -> (Double, Int) {
      let (s, records) = try await run(
        configuration {
          $0.rounds = 1
          $0.attack.kind = .inflateSamples
          $0.attack.fraction = 1.0 / 6
          $0.strategy.sampleCap = cap
        })
      let attacker = try XCTUnwrap(s.attackers.first)
      let d = try XCTUnwrap(records[0].decisions.first { $0.cluster == attacker })
      return (try XCTUnwrap(d.weight), s.clusters.map(\.data.count).max()!)
    }
    let (loose, _) = try await attackerWeight(cap: 1_000_000)
    XCTAssertGreaterThan(loose, 0.99)
    let (capped, largest) = try await attackerWeight(cap: nil)
    XCTAssertLessThan(capped, 0.4)
    // What it claims is the cap, which by default covers the largest cluster's data.
    let defaults = try Simulation(configuration: configuration(), train: train, test: test)
    // Rounded up to a power of two, so the rules do not publish one cluster's exact size.
    var power = 1
    while power < largest { power *= 2 }
    XCTAssertEqual(defaults.rules.sampleCap, UInt64(power))
    // A claim above the cap is rejected, that update alone, with its reason.
    let strategy = StandardStrategy(sampleCap: 100)
    strategy.begin(round: 1, baseModelHash: "b", global: [0, 0])
    strategy.add(
      ClusterUpdate(
        cluster: 0, round: 1, baseModelHash: "b", delta: [1, 1], sampleCount: 101, trainLoss: 0,
        simulatedSeconds: 0))
    strategy.add(
      ClusterUpdate(
        cluster: 1, round: 1, baseModelHash: "b", delta: [0, 0], sampleCount: 100, trainLoss: 0,
        simulatedSeconds: 0))
    let outcome = strategy.finish()
    XCTAssertEqual(outcome.decisions.map(\.verdict), [.rejected, .accepted])
    XCTAssertEqual(
      outcome.decisions[0].reason, "claims more training samples than the round's cap of 100")
  }

  /// Krum keeps one update, so under privacy it would publish that update as the model: it
  /// needs a minimum cohort of 1, said plainly.
  func testKrumWithAMinimumCohortAboveOneIsRefused() throws {
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        overrides: ["strategy.rule": "krum"], sources: ["strategy.rule": "flag --strategy"])
    ) {
      XCTAssert(
        "\($0)".contains("keeps 1 update(s) a round, fewer than the minimum cohort of 3"), "\($0)")
    }
    // In mode tee a cohort of 1 (or 2) is refused too: a member's cluster and a victim's
    // would make one.
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        overrides: ["strategy.rule": "krum", "strategy.minimumCohort": 1],
        sources: ["strategy.minimumCohort": "flag --minimum-cohort"])
    ) {
      XCTAssert("\($0)".contains("privacy tee needs at least 3"), "\($0)")
    }
    XCTAssertNoThrow(
      try SimulationConfiguration.resolve(
        overrides: ["strategy.rule": "krum", "strategy.minimumCohort": 1, "privacy.mode": "none"],
        sources: ["strategy.rule": "flag --strategy"]))
  }

  func testFedProxKeepsUpdatesCloser() throws {
    let data = train.subset(Array(0..<300))
    let model = try Model(architecture: Zoo.mlp(classes: 4), seed: 1)
    let cluster = Cluster(id: 0, data: data)
    func norm(mu: Float) throws -> Double {
      let plan = RoundPlan(
        round: 1, baseModelHash: model.hash, participants: [0],
        training: LocalTraining(epochs: 2, proximalMu: mu), deadline: nil)
      let delta = try cluster.train(plan: plan, base: model, seed: 1).delta
      return delta.reduce(0.0) { $0 + Double($1 * $1) }.squareRoot()
    }
    XCTAssertLessThan(try norm(mu: 1), try norm(mu: 0) * 0.9)
  }

  func testClusterRefusesAnotherBaseModel() throws {
    let model = try Model(architecture: Zoo.mlp(classes: 4), seed: 1)
    let plan = RoundPlan(
      round: 3, baseModelHash: String(repeating: "0", count: 64), participants: [0],
      training: LocalTraining(), deadline: nil)
    XCTAssertThrowsError(
      try Cluster(id: 0, data: train.subset([0, 1])).train(plan: plan, base: model, seed: 1)
    ) {
      XCTAssertTrue("\($0)".contains("cluster 0, round 3: the base model has hash"), "\($0)")
    }
  }

  func testLabelFlippingPoisonsTheData() {
    let cluster = Cluster(id: 0, data: train.subset([0, 1, 2]), attack: .labelFlip)
    XCTAssertEqual(cluster.data.labels, train.subset([0, 1, 2]).labels.map { 3 - $0 })
  }
}

final class ConfigurationTests: XCTestCase {
  func testFileAndFlagsApplyWithClearErrors() throws {
    let json = Data(
      #"{"rounds": 5, "partition": {"kind": "shards", "classesPerCluster": 3}, "strategy": {"rule": "multi-krum", "f": 2}}"#
        .utf8)
    let c = try SimulationConfiguration.resolve(
      file: json, source: "sim.json", overrides: ["attack.kind": "sign-flip"],
      sources: ["attack.kind": "flag --attack"])
    XCTAssertEqual(c.rounds, 5)
    XCTAssertEqual(c.partition, .shards(classesPerCluster: 3))
    XCTAssertEqual(c.strategy.rule, .krum(f: 2, select: nil))
    XCTAssertEqual(c.attack.kind, .signFlip(factor: 4))
    XCTAssertEqual(c.attackerCount, 3)

    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        file: Data(#"{"partition": {"alpah": 1}}"#.utf8), source: "sim.json")
    ) {
      XCTAssertTrue("\($0)".contains("sim.json: 'partition.alpah' is not a known key"), "\($0)")
      XCTAssertTrue("\($0)".contains("partition.alpha"), "\($0)")
    }
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        overrides: ["partition.alpha": -1], sources: ["partition.alpha": "flag --alpha"])
    ) {
      XCTAssertEqual("\($0)", "flag --alpha: 'partition.alpha' must be a number > 0.0, got -1.0")
    }
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(overrides: ["strategy.rule": "fedsgd"])
    ) {
      XCTAssertTrue("\($0)".contains("must be one of fedavg, fedprox, median"), "\($0)")
    }
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(overrides: ["strategy.rule": "krum", "strategy.f": 4])
    ) {
      XCTAssertTrue("\($0)".contains("more than 2f + 2"), "\($0)")
    }
    // The default f is checked too.
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(overrides: ["clusters": 3, "strategy.rule": "krum"]))
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        overrides: ["rounds": true], sources: ["rounds": "x.json"])
    ) {
      XCTAssertEqual("\($0)", "x.json: 'rounds' must be a number, got a boolean")
    }

    // The effective settings written to config.json read back to the same configuration.
    let settings = try JSONEncoder().encode(c)
    XCTAssertEqual(try SimulationConfiguration.resolve(file: settings, source: "config.json"), c)
    // A section is an object: not null, and a flag cannot hide a file's non-object under it.
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(file: Data(#"{"strategy": null}"#.utf8), source: "s.json")
    ) { XCTAssertEqual("\($0)", "s.json: 'strategy' must be a JSON object, got null") }
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        file: Data(#"{"strategy": 3}"#.utf8), source: "s.json",
        overrides: ["strategy.rule": "median"], sources: ["strategy.rule": "flag --strategy"])
    ) {
      XCTAssertEqual(
        "\($0)", "s.json: 'strategy' must be a JSON object (flag --strategy sets strategy.rule)")
    }
    // Each section refuses keys it does not know, naming the ones it does.
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        overrides: ["ledger.nodez": 3], sources: ["ledger.nodez": "flag --nodez"])
    ) {
      XCTAssertEqual(
        "\($0)",
        "flag --nodez: 'ledger.nodez' is not a known key; known in 'ledger': ledger.enabled, ledger.nodes, ledger.endorsementThreshold, ledger.byzantineNodes"
      )
    }
  }
}

/// A short federated run on real Fashion-MNIST data (Debian's dataset-fashion-mnist).
final class FashionMNISTSimulationTests: XCTestCase {
  func testShortRealRun() async throws {
    let train = try DatasetLoader.load("fashion-mnist", split: .train).subset(Array(0..<6000))
    let test = try DatasetLoader.load("fashion-mnist", split: .test).subset(Array(0..<1000))
    var c = SimulationConfiguration()
    c.clusters = 4
    c.rounds = 2
    c.threads = 2
    let simulation = try Simulation(configuration: c, train: train, test: test)
    let records = try await simulation.run()
    XCTAssertEqual(simulation.model.architecture.name, "lenet5")
    XCTAssertEqual(records.map(\.accepted), [4, 4])
    XCTAssertGreaterThan(records[1].accuracy!, records[0].accuracy!)
    XCTAssertGreaterThanOrEqual(records[1].accuracy!, 0.7)
  }
}

/// The example configurations in examples/ stay valid.
final class ExampleConfigurationTests: XCTestCase {
  func testExamplesParse() throws {
    let directory = URL(fileURLWithPath: #filePath)
      .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
      .appendingPathComponent("examples")
    let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.hasSuffix(".json") }.sorted()
    XCTAssertEqual(files, ["fedavg-dirichlet.json", "iot-fleet.json", "sign-flip-multi-krum.json"])
    for file in files {
      let url = directory.appendingPathComponent(file)
      let c = try SimulationConfiguration.resolve(file: Data(contentsOf: url), source: file)
      XCTAssertTrue(c.output.directory.hasPrefix("runs/"), file)
    }
  }

  func testLedgerSettingsAreCheckedForASafeThreshold() throws {
    XCTAssertEqual(SimulationConfiguration().effectiveEndorsementThreshold, 3)
    let c = try SimulationConfiguration.resolve(
      file: Data(#"{"ledger": {"nodes": 7, "enabled": false}}"#.utf8), source: "l.json")
    XCTAssertEqual(c.effectiveEndorsementThreshold, 4)
    XCTAssertFalse(c.ledger.enabled)
    XCTAssertThrowsError(
      try SimulationConfiguration.resolve(
        overrides: ["ledger.endorsementThreshold": 2],
        sources: ["ledger.endorsementThreshold": "flag --endorsement-threshold"])
    ) {
      XCTAssertEqual(
        "\($0)",
        "flag --endorsement-threshold: 'ledger.endorsementThreshold' gives k = 2 of n = 4: k must be more than half of the nodes (at least 3) and at most n, so two different models can never both be endorsed"
      )
    }
    XCTAssertThrowsError(try SimulationConfiguration.resolve(overrides: ["ledger.enabled": "no"])) {
      XCTAssertTrue("\($0)".contains("must be true or false"), "\($0)")
    }
  }
}
