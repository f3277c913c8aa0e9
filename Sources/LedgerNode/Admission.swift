import Foundation

/// Lets at most `limit` callers through at once and queues the others in arrival order.
///
/// A node that takes a thousand 250 KB submissions at the same moment works on a few at a
/// time instead of all at once: all at once, it held every copy in memory (717 MB at the
/// peak), and its holds at peers waited past their patience, which hedges each to another
/// peer and adds load where there was too much already.
package final class Admission: @unchecked Sendable {
  private let lock = NSLock()
  private var free: Int
  private var waiting: [CheckedContinuation<Void, Never>] = []

  package init(limit: Int) { free = limit }

  /// Runs `body` once a place is free.
  package func run<T>(_ body: () async throws -> T) async rethrows -> T {
    await enter()
    defer { leave() }
    return try await body()
  }

  private func enter() async {
    await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
      let go = lock.withLock { () -> Bool in
        if free > 0 {
          free -= 1
          return true
        }
        waiting.append(c)
        return false
      }
      if go { c.resume() }
    }
  }

  private func leave() {
    let next = lock.withLock { () -> CheckedContinuation<Void, Never>? in
      if waiting.isEmpty {
        free += 1
        return nil
      }
      return waiting.removeFirst()
    }
    next?.resume()
  }
}
