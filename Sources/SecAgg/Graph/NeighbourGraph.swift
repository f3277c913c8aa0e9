/// Whom each client shares its secrets with and masks against: SecAgg+'s sparse Harary graph
/// (Bell et al., CCS 2020), or every other client, as the original SecAgg (Bonawitz et al.,
/// CCS 2017) does.
public enum NeighbourGraph: Equatable, Sendable {
  case harary(HararyGraph)
  case full(clients: Int)

  public var clients: Int {
    switch self {
    case .harary(let g): g.clients
    case .full(let n): n
    }
  }

  /// Neighbours per client, itself not counted.
  public var degree: Int {
    switch self {
    case .harary(let g): g.degree
    case .full(let n): n - 1
    }
  }

  /// Client `c`'s neighbours, in ascending order (so that every party iterates them alike).
  public func neighbours(of c: Int) -> [Int] {
    switch self {
    case .harary(let g): g.neighbours(of: c).sorted()
    case .full(let n): (0..<n).filter { $0 != c }
    }
  }

  public func areNeighbours(_ a: Int, _ b: Int) -> Bool {
    switch self {
    case .harary(let g): g.areNeighbours(a, b)
    case .full(let n): a != b && (0..<n).contains(a) && (0..<n).contains(b)
    }
  }
}
