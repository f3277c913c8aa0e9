import Aggregation
import Crypto
import Foundation
import Protection
import Records
import XCTest

/// The fixed-point rules enclaves run: validation, clipping, robust rules, exact means.
final class FixedPointAggregationTests: XCTestCase {
  func candidates(_ n: Int, count: Int, seed: UInt8) -> [FixedPointAggregation.Outcome.Input] {
    var rng = SeededBytes(seed: seed)
    return (0..<n).map { i in
      .candidate(
        .init(
          values: (0..<count).map { _ in rng.float() * 0.01 },
          sampleCount: UInt64(10 + i * 7)))
    }
  }

  func accepted(_ r: FixedPointAggregation.Outcome) -> Int {
    r.verdicts.filter { if case .accepted = $0 { true } else { false } }.count
  }

  func testTheMeanIsTheWeightedMeanToOneStepAndTheSameBytesInAnyOrder() throws {
    let inputs = candidates(7, count: 300, seed: 1)
    let agg = FixedPointAggregation()
    let result = try agg.aggregate(inputs, parameterCount: 300)
    let delta = try XCTUnwrap(result.delta)
    var expected = [Double](repeating: 0, count: 300)
    var total = 0.0
    for case .candidate(let c) in inputs {
      total += Double(c.sampleCount)
      for j in 0..<300 { expected[j] += Double(c.sampleCount) * Double(c.values[j]) }
    }
    let step = 1.0 / FixedPoint.standard.scale
    for j in 0..<300 {
      XCTAssertEqual(Double(delta[j]) * step, expected[j] / total, accuracy: 1.5 * step)
    }
    // Reordered (as a node with another arrival order would have it): identical bytes.
    for rule in [AggregationRule.mean, .median, .trimmedMean(beta: 0.2)] {
      let a = try FixedPointAggregation(rule: rule).aggregate(inputs, parameterCount: 300).delta
      let b = try FixedPointAggregation(rule: rule).aggregate(
        inputs.reversed(), parameterCount: 300
      ).delta
      XCTAssertEqual(a, b, "\(rule)")
    }
    // Weights stay inside: a verdict says accepted, and at most that the update was clipped.
    XCTAssertEqual(
      result.verdicts, [FixedPointAggregation.Verdict](repeating: .accepted(note: ""), count: 7))
  }

  func testValidationRejectsWithReasonsThatPublishNoNumbersOfTheUpdate() throws {
    var inputs = candidates(3, count: 4, seed: 2)
    inputs.append(.candidate(.init(values: [1, 2, 3], sampleCount: 5)))
    inputs.append(.candidate(.init(values: [0, 0, 0, 0], sampleCount: 0)))
    inputs.append(.candidate(.init(values: [0, .nan, 0, 0], sampleCount: 5)))
    inputs.append(.candidate(.init(values: [0, 3000, 0, 0], sampleCount: 5)))
    inputs.append(.candidate(.init(values: [3, 4, 0, 0], sampleCount: 5)))
    inputs.append(.refused("did not open"))
    let agg = FixedPointAggregation(normBound: 1)
    let verdicts = try agg.aggregate(inputs, parameterCount: 4).verdicts
    func reason(_ i: Int) -> String {
      if case .rejected(let r) = verdicts[i] { return r }
      return "accepted"
    }
    XCTAssertEqual(reason(3), "has 3 values, the model has 4")
    XCTAssertEqual(reason(4), "claims no training samples")
    XCTAssertEqual(reason(5), "contains values that are not finite")
    XCTAssertEqual(reason(8), "did not open")
    // Clipped to norm 1 by the bound, so 3000 is no longer out of range; the note says only
    // that (the norm would publish the update's size).
    XCTAssertEqual(verdicts[7], .accepted(note: "clipped"))
    XCTAssertEqual(verdicts[6], .accepted(note: "clipped"))
    // Without a bound, values beyond the fixed-point range are refused, not wrapped, and the
    // reason does not say how many.
    let unbounded = try FixedPointAggregation().aggregate(inputs, parameterCount: 4).verdicts
    XCTAssertEqual(
      unbounded[6], .rejected("has values beyond ±2047.9999990463257, the fixed-point range"))
  }

  func testKrumRejectsTheOutlierAndMedianIgnoresIt() throws {
    var inputs = candidates(6, count: 50, seed: 3)
    inputs.append(
      .candidate(.init(values: [Float](repeating: 5, count: 50), sampleCount: 1_000)))
    let krum = try FixedPointAggregation(rule: .krum(f: 1, select: nil)).aggregate(
      inputs, parameterCount: 50)
    // Neither its score nor its rank is published.
    XCTAssertEqual(
      krum.verdicts[6],
      .rejected("left out by Multi-Krum: not among the 6 most central of 7 (f = 1)"))
    XCTAssertEqual(accepted(krum), 6)
    let median = try XCTUnwrap(
      try FixedPointAggregation(rule: .median).aggregate(inputs, parameterCount: 50).delta)
    XCTAssert(median.allSatisfy { abs(Double($0) / FixedPoint.standard.scale) < 0.02 })
  }

  /// Hole 3 of the review: one cluster claiming 2^31 samples used up the round's weight budget,
  /// so every later (honest) update was rejected and blamed. A claim above the round's cap
  /// now rejects that update alone, and a claim at the cap weighs no more than the cap.
  func testAnInflatedSampleClaimRejectsOnlyItselfAndCannotExhaustTheBudget() throws {
    var inputs: [FixedPointAggregation.Outcome.Input] = [
      .candidate(.init(values: [1, 1], sampleCount: 1 << 31))
    ]
    inputs += (0..<5).map { _ in .candidate(.init(values: [0, 0], sampleCount: 1000)) }
    let agg = FixedPointAggregation(sampleCap: 4096)
    let result = try agg.aggregate(inputs, parameterCount: 2)
    XCTAssertEqual(
      result.verdicts[0], .rejected("claims more training samples than the round's cap of 4096"))
    XCTAssertEqual(accepted(result), 5)
    XCTAssertEqual(result.delta, [0, 0])
    // At the cap it is accepted, and weighs 4096 against 5 x 1000: its value is diluted.
    inputs[0] = .candidate(.init(values: [1, 1], sampleCount: 4096))
    let capped = try XCTUnwrap(try agg.aggregate(inputs, parameterCount: 2).delta)
    XCTAssertEqual(Double(capped[0]) / FixedPoint.standard.scale, 4096.0 / 9096, accuracy: 1e-5)
    // More updates than the cap leaves room for is refused outright, never resolved by
    // rejecting whoever comes last.
    let many = [FixedPointAggregation.Outcome.Input](
      repeating: .candidate(.init(values: [0, 0], sampleCount: 1)), count: 3)
    XCTAssertThrowsError(
      try FixedPointAggregation(sampleCap: 1 << 30).aggregate(many, parameterCount: 2)
    ) { XCTAssertEqual($0 as? AggregationError, .totalWeightTooLarge) }
    // Weighting equal ignores claims for the budget.
    XCTAssertNoThrow(
      try FixedPointAggregation(weighting: .equal, sampleCap: 1 << 30).aggregate(
        many, parameterCount: 2))
  }
}

/// Deterministic test bytes from a ChaCha20 keystream.
struct SeededBytes {
  var key: SymmetricKey
  var counter: UInt64 = 0
  var buffer: [UInt8] = []

  init(seed: UInt8) { key = SymmetricKey(data: [UInt8](repeating: seed, count: 32)) }

  mutating func float() -> Float {
    if buffer.count < 4 {
      counter += 1
      let nonce = try! ChaChaPoly.Nonce(data: Array(counter.bigEndianBytes) + [0, 0, 0, 0])
      buffer += Array(
        try! ChaChaPoly.seal([UInt8](repeating: 0, count: 64), using: key, nonce: nonce).ciphertext)
    }
    let bits = buffer.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    buffer.removeFirst(4)
    return Float(bits) / Float(UInt32.max) * 2 - 1
  }
}

extension FixedWidthInteger {
  var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
}
