import Aggregation

/// How an edge gateway combines its devices' updates into its cluster's.
public enum EdgeRule: Equatable, Sendable, CustomStringConvertible {
  /// Sample-weighted mean (FedAvg at the edge, as HierFAVG).
  case mean
  /// Coordinate-wise median: a compromised device cannot move it far.
  case median
  /// Coordinate-wise mean without the `beta` share of largest and of smallest values.
  case trimmedMean(beta: Double)

  public static let names = ["mean", "median", "trimmed-mean"]

  public var description: String {
    switch self {
    case .mean: "mean"
    case .median: "median"
    case .trimmedMean(let beta): "trimmed-mean(beta \(beta))"
    }
  }

  /// The edge aggregate of device `updates` (at least one), each first scaled down to
  /// `normBound` if longer; and how many were scaled. The arithmetic runs in the updates'
  /// order, so a gateway's aggregate is the same however its devices were scheduled.
  public func combine(_ updates: [DeviceUpdate], normBound: Double?) -> (
    delta: [Float], clipped: Int
  ) {
    precondition(!updates.isEmpty)
    var deltas = updates.map(\.delta)
    var clipped = 0
    if let normBound {
      for i in deltas.indices
      where boundNorm(
        &deltas[i], squaredNorm: squaredNorm(deltas[i]), bound: Float(normBound)) != nil
      {
        clipped += 1
      }
    }
    let count = deltas[0].count
    switch self {
    case .mean:
      let total = Double(updates.reduce(0) { $0 + max(0, $1.sampleCount) })
      var sum = [Double](repeating: 0, count: count)
      for (delta, u) in zip(deltas, updates) {
        let w = total > 0 ? Double(max(0, u.sampleCount)) / total : 1 / Double(updates.count)
        for j in 0..<count { sum[j] += w * Double(delta[j]) }
      }
      return (sum.map { Float($0) }, clipped)
    case .median:
      return (
        coordinateWise(deltas, count: count, zero: 0) { Aggregation.median($0) { ($0 + $1) / 2 } },
        clipped
      )
    case .trimmedMean(let beta):
      return (
        coordinateWise(deltas, count: count, zero: 0) { column in
          let cut = trimCount(column.count, beta: beta)
          let kept = column.dropFirst(cut).dropLast(cut)
          return kept.reduce(0, +) / Float(kept.count)
        }, clipped
      )
    }
  }
}
