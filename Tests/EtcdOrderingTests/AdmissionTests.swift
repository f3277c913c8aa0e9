import Foundation
import LedgerNode
import XCTest

final class AdmissionTests: XCTestCase {
  /// Fifty callers at once through a limit of three: never more than three inside, every
  /// one gets through, and a caller that throws frees its place.
  func testAtMostTheLimitRunAtOnceAndEveryCallerGetsThrough() async throws {
    final class Count: @unchecked Sendable {
      let lock = NSLock()
      var inside = 0
      var most = 0
      var done = 0
    }
    let count = Count()
    let admission = Admission(limit: 3)
    struct Failure: Error {}
    await withTaskGroup(of: Void.self) { group in
      for i in 0..<50 {
        group.addTask {
          try? await admission.run {
            count.lock.withLock {
              count.inside += 1
              count.most = max(count.most, count.inside)
            }
            try await Task.sleep(for: .milliseconds(2))
            count.lock.withLock {
              count.inside -= 1
              count.done += 1
            }
            if i % 7 == 0 { throw Failure() }
          }
        }
      }
    }
    XCTAssertEqual(count.most, 3)
    XCTAssertEqual(count.done, 50)
    XCTAssertEqual(count.inside, 0)
  }
}

extension AdmissionTests {
  /// A waiter leaves the queue at once when what it waits under is abandoned, or when it is
  /// cancelled, and the places stay counted right for those after it.
  func testAWaiterLeavesWhenAbandonedOrCancelled() async throws {
    let admission = Admission(limit: 1)
    let holding = Task { try await admission.run { try await Task.sleep(for: .milliseconds(600)) } }
    try await Task.sleep(for: .milliseconds(50))
    let start = ContinuousClock.now
    let kept = Abandonment()
    let abandoned = Task { try await admission.run(unless: kept) { XCTFail("got through") } }
    try await Task.sleep(for: .milliseconds(50))
    kept.fire()
    do {
      try await abandoned.value
      XCTFail("an abandoned waiter went on")
    } catch is Admission.Abandoned {}
    do {
      try await admission.run(unless: kept) { XCTFail("got through after the abandonment") }
      XCTFail("a waiter under a fired abandonment went on")
    } catch is Admission.Abandoned {}
    let cancelled = Task { try await admission.run { XCTFail("got through") } }
    try await Task.sleep(for: .milliseconds(50))
    cancelled.cancel()
    do {
      try await cancelled.value
      XCTFail("a cancelled waiter went on")
    } catch is CancellationError {}
    XCTAssertLessThan(ContinuousClock.now - start, .milliseconds(500))
    try await holding.value
    let through = try await admission.run { true }
    XCTAssertTrue(through)
  }
}
