/// Asks several nodes the same thing, one after another, without waiting on a silent one: the
/// next is asked as soon as the one before fails, or has not answered within `patience` (a
/// stalled node accepts connections and answers nothing, for as long as the call's timeout).
/// The first answer counts, with the failures of the nodes asked before it.
///
/// Calls still out when an answer arrives are left to end by themselves (their timeout bounds
/// them), not cancelled: cancelling a gRPC call in flight can trap in NIO's async writer.
public enum Hedged {
  /// Why no node answered: each one's failure, in the order asked.
  public struct Failure: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
  }

  private enum Event<R: Sendable>: Sendable {
    case answer(R)
    case failed(String)
    case silent(Int)
  }

  /// Runs `attempt(i)` for each node i of `names` as said above (the names are for problems).
  public static func first<R: Sendable>(
    _ names: [String], patience: Duration,
    _ attempt: @escaping @Sendable (Int) async throws -> R
  ) async throws -> (answer: R, problems: [String]) {
    guard !names.isEmpty else { throw Failure(problems: []) }
    let (events, sink) = AsyncStream.makeStream(of: Event<R>.self)
    defer { sink.finish() }
    var next = 0
    var out = 0
    var problems: [String] = []
    func ask() {
      let i = next
      next += 1
      out += 1
      Task {
        do {
          sink.yield(.answer(try await attempt(i)))
        } catch {
          sink.yield(.failed("\(names[i]): \(error)"))
        }
      }
      Task {
        try? await Task.sleep(for: patience)
        sink.yield(.silent(i))
      }
    }
    ask()
    for await event in events {
      switch event {
      case .answer(let r):
        return (r, problems)
      case .failed(let problem):
        problems.append(problem)
        out -= 1
        if next < names.count {
          ask()
        } else if out == 0 {
          throw Failure(problems: problems)
        }
      case .silent(let i):
        // Only the newest one asked being silent calls for the next.
        if i == next - 1 && next < names.count { ask() }
      }
    }
    try Task.checkCancellation()
    throw Failure(problems: problems)
  }
}
