/// SecAgg+'s communication graph: N clients on a ring in a random order, each the neighbour of
/// the k/2 clients on either side (Bell et al., CCS 2020). Clients share their secrets with,
/// and mask against, their neighbours only.
public struct HararyGraph: Equatable, Sendable {
  public let clients: Int
  /// Neighbours per client, itself not counted (even).
  public let degree: Int
  /// The client at each ring position, and each client's position.
  public let order: [Int]
  private let position: [Int]

  /// The graph with the clients in `order` round the ring.
  public init(degree: Int, order: [Int]) throws(SecAggError) {
    guard degree % 2 == 0, degree >= 2, degree < order.count else {
      throw .invalidConfiguration(
        "a Harary graph's degree is even, at least 2 and below its \(order.count) clients, not \(degree)"
      )
    }
    guard order.count <= 1 << 24, Set(order) == Set(0..<order.count) else {
      throw .invalidConfiguration("a Harary graph's order is not a permutation of its clients")
    }
    clients = order.count
    self.degree = degree
    self.order = order
    var position = [Int](repeating: 0, count: order.count)
    for (p, c) in order.enumerated() { position[c] = p }
    self.position = position
  }

  /// The graph whose order is drawn from `seed` (Fisher–Yates over a keystream): anyone with
  /// the seed computes the same graph, and no one can steer it after the seed is fixed.
  public static func random(clients: Int, degree: Int, seed: [UInt8]) throws(SecAggError)
    -> HararyGraph
  {
    guard clients <= 1 << 24 else {
      throw .invalidConfiguration("\(clients) clients; a Harary graph holds at most 2^24")
    }
    var stream = try Keystream(seed: seed, purpose: "harary-order")
    var order = Array(0..<clients)
    var i = clients - 1
    while i > 0 {
      order.swapAt(i, Int(stream.uniform(below: UInt64(i + 1))))
      i -= 1
    }
    return try HararyGraph(degree: degree, order: order)
  }

  /// Client `c`'s neighbours, nearest first on each side.
  public func neighbours(of c: Int) -> [Int] {
    let p = position[c]
    return (1...(degree / 2)).flatMap { d in
      [order[(p - d + clients) % clients], order[(p + d) % clients]]
    }
  }

  public func areNeighbours(_ a: Int, _ b: Int) -> Bool {
    guard a != b else { return false }
    let d = abs(position[a] - position[b])
    return min(d, clients - d) <= degree / 2
  }
}
