/// What every party of one SecAgg+ session agrees on before it starts.
public struct SecAggConfiguration: Equatable, Sendable {
  /// 32 bytes that bind every key, share and mask to this session (the round), so that none
  /// is valid in another.
  public var session: [UInt8]
  /// The cohort: clients are numbered 0 ..< N in its order.
  public var graph: NeighbourGraph
  /// Shares that recover a secret (t); each client needs t neighbours at every stage.
  public var threshold: Int
  /// Words per masked vector.
  public var length: Int
  public var modulus: MaskModulus

  public var clients: Int { graph.clients }

  public init(
    session: [UInt8], graph: NeighbourGraph, threshold: Int, length: Int, modulus: MaskModulus
  ) throws(SecAggError) {
    guard session.count == 32 else {
      throw .invalidConfiguration("the session is \(session.count) bytes, not 32")
    }
    guard graph.clients >= 2 else {
      throw .invalidConfiguration("\(graph.clients) clients; secure aggregation needs 2 or more")
    }
    // t = 1 would make every share the secret itself: one neighbour would hold both secrets.
    guard threshold >= 2, threshold <= graph.degree else {
      throw .invalidConfiguration(
        "the threshold is \(threshold); it must be 2 to \(graph.degree), the neighbours per client")
    }
    guard length > 0 else { throw .invalidConfiguration("the vector length must be positive") }
    self.session = session
    self.graph = graph
    self.threshold = threshold
    self.length = length
    self.modulus = modulus
  }
}
