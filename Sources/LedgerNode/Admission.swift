import Foundation

/// Lets at most `limit` callers through at once and queues the others in arrival order. A
/// waiting caller leaves the queue at once when it is cancelled, or when the `Abandonment` it
/// waits under fires (its work was done elsewhere).
package final class Admission: @unchecked Sendable {
  /// Why a caller did not get through: it was abandoned while it waited.
  package struct Abandoned: Error, CustomStringConvertible {
    package var description: String { "no longer needed: answered elsewhere while it waited" }
  }

  private let lock = NSLock()
  private var free: Int
  private var next = 0
  private var waiting: [(id: Int, continuation: CheckedContinuation<Void, any Error>)] = []

  package init(limit: Int) { free = limit }

  /// Runs `body` once a place is free; throws `CancellationError` if cancelled before, and
  /// `Abandoned` if `abandonment` fires before.
  package func run<T>(unless abandonment: Abandonment? = nil, _ body: () async throws -> T)
    async throws -> T
  {
    try await enter(abandonment)
    defer { leave() }
    return try await body()
  }

  private func enter(_ abandonment: Abandonment?) async throws {
    let id = lock.withLock {
      next += 1
      return next
    }
    try await withTaskCancellationHandler {
      try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
        let go = lock.withLock { () -> Bool? in
          if Task.isCancelled { return nil }
          if free > 0 {
            free -= 1
            return true
          }
          waiting.append((id, c))
          return false
        }
        switch go {
        case true?: c.resume()
        case nil: c.resume(throwing: CancellationError())
        case false?:
          if let abandonment, !abandonment.onFire({ self.drop(id, Abandoned()) }) {
            drop(id, Abandoned())
          }
        }
      }
    } onCancel: {
      drop(id, CancellationError())
    }
  }

  /// Takes waiter `id` out of the queue, if it still waits, with `error`.
  private func drop(_ id: Int, _ error: any Error) {
    let gone = lock.withLock { () -> CheckedContinuation<Void, any Error>? in
      guard let at = waiting.firstIndex(where: { $0.id == id }) else { return nil }
      return waiting.remove(at: at).continuation
    }
    gone?.resume(throwing: error)
  }

  private func leave() {
    let next = lock.withLock { () -> CheckedContinuation<Void, any Error>? in
      if waiting.isEmpty {
        free += 1
        return nil
      }
      return waiting.removeFirst().continuation
    }
    next?.resume()
  }
}

/// Fires once; what waits under it (an `Admission`'s queue) stops waiting.
package final class Abandonment: @unchecked Sendable {
  private let lock = NSLock()
  private var fired = false
  private var actions: [@Sendable () -> Void] = []

  package init() {}

  package func fire() {
    let run = lock.withLock { () -> [@Sendable () -> Void] in
      fired = true
      defer { actions = [] }
      return actions
    }
    for action in run { action() }
  }

  /// Runs `action` when this fires; false (and `action` is not kept) if it fired already.
  func onFire(_ action: @escaping @Sendable () -> Void) -> Bool {
    lock.withLock {
      guard !fired else { return false }
      actions.append(action)
      return true
    }
  }
}
