// Robust aggregation rules shared by the plaintext strategy (Federation) and the enclave's
// fixed-point aggregation, so both apply the same rule with the same parameters. The rules
// themselves (`AggregationRule`, `Weighting`) are records: round-opens carry them.

import Foundation

/// Krum scores from the squared distance of each pair `i < j`.
public func krumScores(count n: Int, f: Int, distance d: (Int, Int) -> Double) -> [Double] {
  guard n > 1 else { return [0] }
  var distance = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
  for i in 0..<n {
    for j in (i + 1)..<n {
      let s = d(i, j)
      distance[i][j] = s
      distance[j][i] = s
    }
  }
  let neighbours = max(1, min(n - 1, n - f - 2))
  return (0..<n).map { i in
    var others = distance[i]
    others.remove(at: i)
    others.sort()
    return others.prefix(neighbours).reduce(0, +)
  }
}

/// Which updates Krum (or Multi-Krum) keeps, in ascending order, and why each other one is
/// left out.
public func krumSelection(scores: [Double], f: Int, select: Int?) -> (
  selected: [Int], rejections: [String?]
) {
  let n = scores.count
  let m = max(1, min(n, select ?? (n - f)))
  let order = (0..<n).sorted { scores[$0] != scores[$1] ? scores[$0] < scores[$1] : $0 < $1 }
  var rejections = [String?](repeating: nil, count: n)
  let name = m == 1 ? "Krum" : "Multi-Krum"
  // Scores and ranks are not published: they would tell how far one update lies from others.
  for i in order.dropFirst(m) {
    rejections[i] = "left out by \(name): not among the \(m) most central of \(n) (f = \(f))"
  }
  return (Array(order.prefix(m)).sorted(), rejections)
}

/// Scales `values` down to L2 norm `bound` when their norm (the root of `squaredNorm`) is
/// above it, and says so; nil when nothing changed.
public func boundNorm(_ values: inout [Float], squaredNorm: Double, bound: Float?) -> String? {
  let norm = squaredNorm.squareRoot()
  guard let bound, norm > Double(bound) else { return nil }
  let scale = Float(Double(bound) / norm)
  for i in values.indices { values[i] *= scale }
  return String(
    format: "L2 norm %.4g above bound %.4g: scaled by %.4g", norm, Double(bound), Double(scale))
}

/// The squared L2 norm, accumulated in Double eight lanes at a time.
public func squaredNorm(_ values: [Float]) -> Double {
  values.withUnsafeBufferPointer { buffer in
    guard let base = buffer.baseAddress else { return 0 }
    let n = buffer.count
    var a = SIMD8<Double>()
    var b = SIMD8<Double>()
    var i = 0
    while i + 16 <= n {
      let x = SIMD8<Double>(UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self))
      let y = SIMD8<Double>(UnsafeRawPointer(base + i + 8).loadUnaligned(as: SIMD8<Float>.self))
      a = a.addingProduct(x, x)
      b = b.addingProduct(y, y)
      i += 16
    }
    // The lanes are added in a fixed order (SIMD `sum()` leaves its order open), so every
    // build of every enclave clips at the same point.
    let lanes = a + b
    var total = 0.0
    for lane in 0..<8 { total += lanes[lane] }
    while i < n {
      total += Double(base[i]) * Double(base[i])
      i += 1
    }
    return total
  }
}
