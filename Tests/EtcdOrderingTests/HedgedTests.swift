import NodeAPI
import XCTest

/// Asking nodes in turn without waiting on a silent one.
final class HedgedTests: XCTestCase {
  /// A silent first node (a stalled one) gives way to the second after the patience; a
  /// refusing one at once; the answer carries the failures before it.
  func testASilentOrRefusingNodeGivesWayToTheNext() async throws {
    let start = ContinuousClock.now
    let silent = try await Hedged.first(["stalled", "alive"], patience: .milliseconds(100)) {
      i -> String in
      if i == 0 { try await Task.sleep(for: .seconds(5)) }
      return "node \(i)"
    }
    XCTAssertEqual(silent.answer, "node 1")
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(2))

    struct Refused: Error {}
    let refused = try await Hedged.first(["liar", "honest"], patience: .seconds(10)) {
      i -> String in
      if i == 0 { throw Refused() }
      return "node \(i)"
    }
    XCTAssertEqual(refused.answer, "node 1")
    XCTAssertEqual(refused.problems.count, 1)
    XCTAssertTrue(refused.problems[0].hasPrefix("liar: "), refused.problems[0])
  }

  /// Every node failing, or none to ask, fails with each one's reason, at once.
  func testNoAnswerFailsWithEveryReason() async throws {
    struct Refused: Error {}
    do {
      _ = try await Hedged.first(["a", "b"], patience: .seconds(10)) { _ -> Int in
        throw Refused()
      }
      XCTFail("no node answered")
    } catch let failure as Hedged.Failure {
      XCTAssertEqual(failure.problems.count, 2)
    }
    do {
      _ = try await Hedged.first([], patience: .seconds(10)) { _ in 1 }
      XCTFail("no node to ask")
    } catch let failure as Hedged.Failure {
      XCTAssertTrue(failure.problems.isEmpty)
    }
  }
}
