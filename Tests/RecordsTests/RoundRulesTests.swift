import Canonical
import Records
import XCTest

/// The round's rules as a round-open carries them: one encoding each, and no rules that would
/// leak one update or break the fixed-point sum.
final class RoundRulesTests: XCTestCase {
  func testRoundRulesRoundTripAndBadOnesAreRefused() throws {
    for rules in [
      RoundRules(),
      RoundRules(rule: .krum(f: 2, select: 3), weighting: .equal, normBound: 2.5),
      RoundRules(rule: .trimmedMean(beta: 0.1), minimumCohort: 5, sampleCap: 4096),
      RoundRules(rule: .median, fractionalBits: 16),
    ] {
      XCTAssertNil(rules.problem)
      XCTAssertEqual(try RoundRules(canonical: rules.canonicalBytes), rules)
    }
    func refused(_ r: RoundRules, _ text: String, line: UInt = #line) {
      XCTAssert(r.problem?.contains(text) == true, "\(r.problem ?? "nil")", line: line)
      XCTAssertThrowsError(try RoundRules(canonical: r.canonicalBytes), line: line)
    }
    refused(RoundRules(rule: .trimmedMean(beta: 0.5)), "beta is 0.5")
    refused(RoundRules(rule: .krum(f: 1, select: 1)), "Krum would keep fewer updates")
    refused(RoundRules(minimumCohort: 0), "minimumCohort is 0")
    refused(RoundRules(sampleCap: 0), "sampleCap is 0")
    refused(RoundRules(minimumCohort: 3, sampleCap: 1 << 31), "room for 1 update(s)")
    refused(RoundRules(fractionalBits: 31), "fractionalBits is 31")
    refused(RoundRules(normBound: -1), "normBound is -1")
    // Bounds a float32 cannot hold would clip nothing (infinity) or everything (zero).
    refused(RoundRules(normBound: 1e39), "normBound is 1e+39")
    refused(RoundRules(normBound: 1e-40), "normBound is 1e-40")
    // One value, one encoding: -0.0 would equal 0.0 yet hash differently.
    refused(RoundRules(rule: .trimmedMean(beta: -0.0)), "beta is -0.0")
    XCTAssertThrowsError(try RoundRules(canonical: [9, 0, 0, 20]))
    // A round holds what one enclave request carries, and under Krum (quadratic in the count)
    // at most 4096.
    XCTAssertEqual(RoundRules(weighting: .equal).capacity, RoundRules.maximumUpdates)
    XCTAssertEqual(RoundRules(rule: .krum(f: 1, select: nil), weighting: .equal).capacity, 4096)
    XCTAssertEqual(RoundRules(sampleCap: 1 << 20).capacity, 2048)
  }
}
