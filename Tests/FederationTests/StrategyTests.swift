import Federation
import XCTest

/// Aggregation rules on small vectors with answers worked out by hand.
final class StrategyTests: XCTestCase {
  func update(_ id: Int, _ delta: [Float], samples: Int = 1, base: String = "base") -> ClusterUpdate
  {
    ClusterUpdate(
      cluster: id, round: 1, baseModelHash: base, delta: delta, sampleCount: samples,
      trainLoss: 0, simulatedSeconds: 0)
  }

  func aggregate(
    _ strategy: StandardStrategy, _ updates: [ClusterUpdate], global: [Float]? = nil
  ) -> AggregationOutcome {
    strategy.begin(
      round: 1, baseModelHash: "base",
      global: global ?? [Float](repeating: 0, count: updates[0].delta.count))
    for u in updates { strategy.add(u) }
    return strategy.finish()
  }

  func testFedAvgWeighsBySamplesOrEqually() {
    let updates = [update(0, [1, 2], samples: 1), update(1, [5, 6], samples: 3)]
    let bySamples = aggregate(StandardStrategy(), updates, global: [10, 10])
    XCTAssertEqual(bySamples.parameters, [14, 15])
    XCTAssertEqual(bySamples.decisions.map(\.weight), [0.25, 0.75])
    let equal = aggregate(StandardStrategy(weighting: .equal), updates)
    XCTAssertEqual(equal.parameters, [3, 4])
  }

  /// Weighting by device: cluster 0 has one device holding 900 samples, cluster 1 nine
  /// devices with 100 samples between them. Every device counts once, so cluster 0 weighs 1/10
  /// and cluster 1 9/10, whatever their samples (by samples it would be the other way round).
  func testWeightingByDeviceGivesEveryDeviceTheSameWeightAcrossClusters() {
    var a = update(0, [10, 0], samples: 900)
    a.devices = 1
    var b = update(1, [0, 10], samples: 100)
    b.devices = 9
    let byDevice = aggregate(StandardStrategy(weighting: .devices), [a, b])
    XCTAssertEqual(byDevice.decisions.map(\.weight), [0.1, 0.9])
    XCTAssertEqual(byDevice.parameters[0], 1, accuracy: 1e-6)
    XCTAssertEqual(byDevice.parameters[1], 9, accuracy: 1e-6)
    let bySamples = aggregate(StandardStrategy(), [a, b])
    XCTAssertEqual(bySamples.decisions.map(\.weight), [0.9, 0.1])
    // A claim of no devices, or more than any cluster may enrol, is refused.
    var none = update(2, [1, 1])
    none.devices = 0
    var huge = update(3, [1, 1])
    huge.devices = 1 << 17
    let refused = aggregate(
      StandardStrategy(weighting: .devices, minimumCohort: 1), [a, none, huge])
    XCTAssertEqual(refused.decisions.filter { $0.verdict == .rejected }.map(\.cluster), [2, 3])
  }

  /// Fewer accepted updates than the minimum cohort move neither the model nor the server
  /// optimiser: the round aborts as if it never aggregated.
  func testFewerThanTheMinimumCohortMoveNeitherModelNorOptimiser() {
    let momentum = StandardStrategy(
      server: .momentum(learningRate: 1, momentum: 0.5), minimumCohort: 2)
    let short = aggregate(momentum, [update(0, [4, 4]), update(1, [.nan, 0])], global: [1, 1])
    XCTAssertEqual(short.parameters, [1, 1])
    // The next round steps as a first one would: velocity = the aggregate alone.
    let full = aggregate(momentum, [update(0, [2, 2]), update(1, [4, 4])], global: [1, 1])
    XCTAssertEqual(full.parameters, [4, 4])
  }

  func testMedianAndTrimmedMean() {
    let updates = [
      update(0, [1, 10]), update(1, [2, 20]), update(2, [3, 30]), update(3, [100, -1000]),
      update(4, [4, 40]),
    ]
    XCTAssertEqual(aggregate(StandardStrategy(rule: .median), updates).parameters, [3, 20])
    // beta 0.2 of 5 trims one value at each end of every coordinate.
    let trimmed = aggregate(StandardStrategy(rule: .trimmedMean(beta: 0.2)), updates)
    XCTAssertEqual(trimmed.parameters[0], 3, accuracy: 1e-6)
    XCTAssertEqual(trimmed.parameters[1], 20, accuracy: 1e-6)
    // With beta 0 the trimmed mean is the plain, equally weighted mean.
    let plain = aggregate(StandardStrategy(rule: .trimmedMean(beta: 0)), updates)
    let mean = aggregate(StandardStrategy(weighting: .equal), updates)
    XCTAssertEqual(plain.parameters[0], mean.parameters[0], accuracy: 1e-5)
    XCTAssertEqual(plain.parameters[1], mean.parameters[1], accuracy: 1e-4)
  }

  func testKrumAndMultiKrumRejectTheOutliers() {
    let honest: [[Float]] = [[1, 1], [1.1, 0.9], [0.9, 1.1], [1, 1.05], [1.05, 1]]
    var updates = honest.enumerated().map { update($0.offset, $0.element) }
    updates.append(update(5, [-4, -4]))
    updates.append(update(6, [-4.2, -3.9]))
    let multi = aggregate(StandardStrategy(rule: .krum(f: 2, select: nil)), updates)
    let rejected = multi.decisions.filter { $0.verdict == .rejected }.map(\.cluster)
    XCTAssertEqual(rejected, [5, 6])
    XCTAssertTrue(
      multi.decisions[5].reason!.hasPrefix("left out by Multi-Krum"), multi.decisions[5].reason!)
    XCTAssertEqual(multi.parameters[0], 1.01, accuracy: 1e-5)
    let krum = aggregate(StandardStrategy(rule: .krum(f: 2, select: 1)), updates)
    XCTAssertEqual(krum.decisions.filter { $0.verdict != .rejected }.count, 1)
    XCTAssertLessThan(abs(krum.parameters[0] - 1), 0.11)
  }

  func testNormBoundClipsAndReports() {
    let outcome = aggregate(
      StandardStrategy(weighting: .equal, normBound: 1),
      [update(0, [3, 4]), update(1, [0.3, 0.4])])
    XCTAssertEqual(outcome.decisions[0].verdict, .clipped)
    XCTAssertTrue(outcome.decisions[0].reason!.contains("L2 norm 5"), outcome.decisions[0].reason!)
    XCTAssertEqual(outcome.decisions[1].verdict, .accepted)
    XCTAssertEqual(outcome.parameters[0], (0.6 + 0.3) / 2, accuracy: 1e-6)
  }

  func testMalformedUpdatesAreRejectedWithReasons() {
    let outcome = aggregate(
      StandardStrategy(),
      [
        update(0, [1, 1]), update(1, [1]), update(2, [1, 1], base: "other"),
        update(3, [.nan, 1]), update(4, [1, 1], samples: 0),
      ])
    XCTAssertEqual(outcome.parameters, [1, 1])
    let reasons = outcome.decisions.filter { $0.verdict == .rejected }.map { $0.reason! }
    XCTAssertEqual(reasons.count, 4)
    XCTAssertTrue(reasons[0].contains("has 1 values"))
    XCTAssertTrue(reasons[1].contains("base model"))
    XCTAssertTrue(reasons[2].contains("not finite"))
    XCTAssertTrue(reasons[3].contains("no training samples"))
  }

  func testReplaysAndDuplicatesAreRejected() {
    let strategy = StandardStrategy()
    strategy.begin(round: 2, baseModelHash: "base", global: [0])
    strategy.add(update(0, [1]))  // made for round 1
    var current = update(1, [2])
    current.round = 2
    strategy.add(current)
    strategy.add(current)
    let outcome = strategy.finish()
    XCTAssertEqual(outcome.parameters, [2])
    let reasons = outcome.decisions.filter { $0.verdict == .rejected }.map { $0.reason! }
    XCTAssertEqual(reasons.count, 2)
    XCTAssertTrue(reasons.contains { $0.contains("is for round 1, this is round 2") })
    XCTAssertTrue(reasons.contains { $0.contains("second update") })
  }

  func testNothingAcceptedLeavesTheModelAndServerStateAlone() {
    let strategy = StandardStrategy(server: .momentum(learningRate: 1, momentum: 0.9))
    var global = aggregate(strategy, [update(0, [1])], global: [0]).parameters
    XCTAssertEqual(global, [1])
    global = aggregate(strategy, [update(0, [.infinity])], global: global).parameters
    XCTAssertEqual(global, [1])
    // The momentum is what it was after the first round: 0.9 * 1 + 1.
    global = aggregate(strategy, [update(0, [1])], global: global).parameters
    XCTAssertEqual(global[0], 1 + 1.9, accuracy: 1e-6)
  }

  func testServerOptimisers() {
    let momentum = StandardStrategy(server: .momentum(learningRate: 1, momentum: 0.5))
    var global: [Float] = [0]
    for _ in 0..<2 { global = aggregate(momentum, [update(0, [1])], global: global).parameters }
    XCTAssertEqual(global[0], 1 + 1.5, accuracy: 1e-6)
    let adam = StandardStrategy(
      server: .adam(learningRate: 0.1, beta1: 0.9, beta2: 0.99, tau: 1e-3))
    let first = aggregate(adam, [update(0, [2, -2])], global: [0, 0]).parameters
    // m = 0.2, v = 0.04: step = 0.1 * 0.2 / (0.2 + 0.001).
    XCTAssertEqual(first[0], 0.1 * 0.2 / 0.201, accuracy: 1e-5)
    XCTAssertEqual(first[1], -0.1 * 0.2 / 0.201, accuracy: 1e-5)
  }

  func testAttacksTransformUpdates() {
    var rng = SeededGeneratorForTests.make()
    var delta: [Float] = [1, -2]
    Attack.signFlip(factor: 4).tamper(&delta, rng: &rng)
    XCTAssertEqual(delta, [-4, 8])
    Attack.scaling(factor: 10).tamper(&delta, rng: &rng)
    XCTAssertEqual(delta, [-40, 80])
    Attack.freeRider.tamper(&delta, rng: &rng)
    XCTAssertEqual(delta, [0, 0])
    var noise = [Float](repeating: 0, count: 20000)
    Attack.gaussianNoise(sigma: 2).tamper(&noise, rng: &rng)
    let variance = noise.reduce(0.0) { $0 + Double($1 * $1) } / Double(noise.count)
    XCTAssertEqual(variance.squareRoot(), 2, accuracy: 0.05)
  }
}
