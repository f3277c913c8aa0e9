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
