import Foundation

extension DCAPVerifier {
  /// `verify`, for callers that cannot suspend: an enclave answers one request at a time, and
  /// a ledger applies transactions in order.
  ///
  /// Certificate path validation in swift-certificates is async. The verification runs on a
  /// thread of its own (a task executor), never on the caller's, so blocking the caller cannot
  /// starve it, even when the caller is one of Swift's cooperative threads.
  public func verifyWaiting(_ quote: SGXQuote, collateral: Collateral, at time: Date)
    throws(QuoteError) -> DCAPVerdict
  {
    let result = VerificationThread.shared.wait { () async -> Result<DCAPVerdict, QuoteError> in
      do throws(QuoteError) {
        return .success(try await self.verify(quote, collateral: collateral, at: time))
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }

  /// `checkCollateral`, for callers that cannot suspend.
  public func checkCollateralWaiting(_ collateral: Collateral, at time: Date) throws(QuoteError)
    -> Date
  {
    let result = VerificationThread.shared.wait { () async -> Result<Date, QuoteError> in
      do throws(QuoteError) {
        return .success(try await self.checkCollateral(collateral, at: time))
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }
}

/// One thread that runs the async verification steps of callers that wait for them.
final class VerificationThread: TaskExecutor, @unchecked Sendable {
  static let shared = VerificationThread()

  private let condition = NSCondition()
  private var jobs: [UnownedJob] = []
  private var thread: Thread?

  private init() {
    let thread = Thread { [unowned self] in self.run() }
    thread.name = "fedledger-attestation"
    self.thread = thread
    thread.start()
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let job = UnownedJob(job)
    condition.lock()
    jobs.append(job)
    condition.signal()
    condition.unlock()
  }

  private func run() {
    while true {
      condition.lock()
      while jobs.isEmpty { condition.wait() }
      let job = jobs.removeFirst()
      condition.unlock()
      job.runSynchronously(on: asUnownedTaskExecutor())
    }
  }

  /// Runs `operation` on this thread and blocks the caller until it returns.
  func wait<T: Sendable>(_ operation: @escaping @Sendable () async -> T) -> T {
    // Waiting on this thread from this thread could never finish.
    precondition(Thread.current !== thread, "a verification waited for itself")
    let done = DispatchSemaphore(value: 0)
    let box = Box<T>()
    Task(executorPreference: self) {
      box.value = await operation()
      done.signal()
    }
    done.wait()
    return box.value!
  }

  private final class Box<T>: @unchecked Sendable {
    var value: T?
  }
}
