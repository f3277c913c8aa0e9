import Foundation

/// The number of marked items among `draws` taken without replacement from `population`, of
/// which `marked` are marked: how many of a client's neighbours are corrupt, or survive.
struct Hypergeometric {
  let population: Int
  let marked: Int
  let draws: Int

  private var lowest: Int { max(0, draws - (population - marked)) }
  private var highest: Int { min(draws, marked) }

  /// ln P[X = x].
  func logProbability(_ x: Int) -> Double {
    guard (lowest...highest).contains(x) else { return -.infinity }
    return Self.logChoose(marked, x) + Self.logChoose(population - marked, draws - x)
      - Self.logChoose(population, draws)
  }

  /// P[X ≤ x], summed from x downwards (or from the other colour's side above the mean)
  /// until the terms no longer count.
  func cumulative(_ x: Int) -> Double {
    if x < lowest { return 0 }
    if x >= highest { return 1 }
    if Double(x) > Double(draws) * Double(marked) / Double(population) {
      let other = Hypergeometric(population: population, marked: population - marked, draws: draws)
      return 1 - other.cumulative(draws - x - 1)
    }
    // P[X = i − 1] = P[X = i] · i (N − c − k + i) / ((c − i + 1)(k − i + 1)).
    let (n, c, k) = (Double(population), Double(marked), Double(draws))
    var term = exp(logProbability(x))
    var sum = term
    var i = x
    while i > lowest {
      let d = Double(i)
      term *= d * (n - c - k + d) / ((c - d + 1) * (k - d + 1))
      sum += term
      if term < 1e-16 * sum { break }
      i -= 1
    }
    return min(sum, 1)
  }

  /// The largest r with P[X ≤ r] < q (−1 if there is none), searched upwards from Hoeffding's
  /// lower bound.
  func quantileBelow(_ q: Double) -> Int {
    let n = Double(draws)
    let hoeffding = n * (Double(marked) / Double(population) - (-log(q) / (2 * n)).squareRoot())
    var x = max(-1, marked + draws - population - 1, Int(hoeffding.rounded(.down)))
    while cumulative(x) < q { x += 1 }
    return x - 1
  }

  static func logChoose(_ n: Int, _ r: Int) -> Double {
    lgamma(Double(n + 1)) - lgamma(Double(r + 1)) - lgamma(Double(n - r + 1))
  }
}
