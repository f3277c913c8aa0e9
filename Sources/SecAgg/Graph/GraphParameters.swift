import Foundation

/// Whom SecAgg+'s parameters must hold against: nobody, a server that follows the protocol
/// and looks (semi-honest), or one that may also lie about who dropped out (semi-malicious).
public enum SecAggAdversary: String, Sendable, CaseIterable {
  case none
  case curiousServer = "curious-server"
  case semiMaliciousServer = "semi-malicious-server"
}

/// A k-regular Harary graph's degree (neighbours, self not counted) and the Shamir threshold
/// t, for N clients of which a fraction γ may be corrupt and a fraction δ may drop out.
public struct HararyParameters: Equatable, Sendable {
  public var degree: Int
  public var threshold: Int
}

/// Why no parameters were found.
public enum GraphParameterError: Error, Equatable, CustomStringConvertible {
  case invalid(String)
  /// No degree below N − 1 is safe enough: use the full graph.
  case noSparseGraph(clients: Int)

  public var description: String {
    switch self {
    case .invalid(let why): why
    case .noSparseGraph(let n):
      "no Harary graph over \(n) clients meets the bounds; the full graph is needed"
    }
  }
}

extension HararyParameters {
  /// Statistical security (2^-σ) and correctness (2^-η) parameters, as Bell et al. (CCS 2020)
  /// and Google's implementation of SecAgg+ set them.
  public static let security = 40.0
  public static let correctness = 20.0

  /// The smallest even degree k whose graph stays connected once the corrupt and dropped
  /// clients are removed, except with probability 2^-(σ+1), and whose threshold window is
  /// open: more than t neighbours are corrupt with probability below 2^-(σ+1)/N, and fewer
  /// than t survive with probability below 2^-η/N. The smallest t in that window is taken.
  public static func find(
    clients n: Int, corrupt gamma: Double, dropout delta: Double, against adversary: SecAggAdversary
  ) throws(GraphParameterError) -> HararyParameters {
    guard n > 0, n <= 1_000_000 else {
      throw .invalid("the number of clients is \(n); it must be 1 to 1,000,000")
    }
    guard (0..<1).contains(gamma), (0..<1).contains(delta) else {
      throw .invalid("the corrupt rate \(gamma) and dropout rate \(delta) must be in [0, 1)")
    }
    switch adversary {
    case .none where gamma > 0:
      throw .invalid("with no adversary the corrupt rate must be 0, not \(gamma)")
    case .none, .curiousServer:
      guard gamma + delta <= 0.9 else {
        throw .invalid("corrupt rate + dropout rate is \(gamma + delta); at most 0.9")
      }
    case .semiMaliciousServer:
      guard gamma + 2 * delta <= 0.9 else {
        throw .invalid(
          "corrupt rate + twice the dropout rate is \(gamma + 2 * delta); at most 0.9 against a semi-malicious server"
        )
      }
    }
    let small = 1e-14
    let corrupt = Int(((gamma + small) * Double(n)).rounded(.down))
    let dropped = Int(((delta + small) * Double(n)).rounded(.down))
    let bad = corrupt + dropped
    let survivors = Int(((1 - delta - small) * Double(n)).rounded(.up))
    let sigma = security + 1
    var k = 2
    while k < n - 1 {
      defer { k += 2 }
      guard connected(clients: n, degree: k, removed: bad, sigma: sigma) else { continue }
      let adversarial = Hypergeometric(population: n, marked: n - corrupt, draws: k)
      var t1 = k - adversarial.quantileBelow(pow(2, -sigma) / Double(n)) - 1
      let surviving = Hypergeometric(population: n, marked: survivors, draws: k)
      let t2 = surviving.quantileBelow(pow(2, -correctness) / Double(n)) + 1
      if adversary == .semiMaliciousServer {
        t1 = Int(((Double(t1) + Double(k) - 1.25) / 2).rounded(.up))
      }
      if t2 > t1 { return HararyParameters(degree: k, threshold: max(t1 + 1, 2)) }
    }
    throw .noSparseGraph(clients: n)
  }

  /// Whether removing `removed` clients leaves the k-regular Harary graph connected, except
  /// with probability below 2^-σ: it comes apart only where k/2 consecutive clients are gone
  /// at two places, a union bound over N(N − k − 1)/2 such pairs.
  static func connected(clients n: Int, degree k: Int, removed: Int, sigma: Double) -> Bool {
    guard k <= removed else { return true }
    let lnP =
      log(Double(n)) + log(Double(n - k - 1)) - log(2) + lgamma(Double(removed + 1))
      + lgamma(Double(n - k + 1)) - lgamma(Double(n + 1)) - lgamma(Double(removed - k + 1))
    return lnP < -sigma * log(2)
  }
}
