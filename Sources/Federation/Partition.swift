import Foundation
import Learning

/// How a dataset is split across clusters.
public enum Partitioner: Equatable, Sendable, CustomStringConvertible {
  /// Uniformly at random, equal sizes.
  case iid
  /// Per class, proportions drawn from Dirichlet(alpha) over clusters: small alpha, skewed labels.
  case dirichlet(alpha: Double)
  /// The class-sorted data is cut into clusters x `classesPerCluster` equal shards and each
  /// cluster gets that many at random (as in McMahan et al.): mostly one class per shard, so
  /// about `classesPerCluster` classes per cluster.
  case shards(classesPerCluster: Int)

  public var description: String {
    switch self {
    case .iid: "iid"
    case .dirichlet(let alpha): "dirichlet(alpha \(alpha))"
    case .shards(let k): "shards(\(k) classes per cluster)"
    }
  }

  /// Splits sample indices 0..<labels.count over `clusters` clusters, reproducibly from `seed`.
  /// Every sample goes to exactly one cluster; every cluster gets at least one sample when
  /// there are at least as many samples as clusters.
  public func partition(labels: [Int32], classCount: Int, clusters: Int, seed: UInt64)
    -> [[Int]]
  {
    precondition(clusters > 0)
    var rng = SeededGenerator(seed: seed, domain: "partition")
    var parts = [[Int]](repeating: [], count: clusters)
    switch self {
    case .iid:
      let order = rng.shuffled(Array(labels.indices))
      for (i, index) in order.enumerated() { parts[i % clusters].append(index) }
    case .dirichlet(let alpha):
      let byClass = indicesByClass(labels, classCount: classCount, rng: &rng)
      for members in byClass where !members.isEmpty {
        let proportions = sampleDirichlet(alpha: alpha, count: clusters, &rng)
        // Cumulative cut points, so the counts add up exactly.
        var start = 0
        var cumulative = 0.0
        for c in 0..<clusters {
          cumulative += proportions[c]
          let end =
            c == clusters - 1
            ? members.count
            : min(members.count, Int((cumulative * Double(members.count)).rounded()))
          if end > start { parts[c].append(contentsOf: members[start..<end]) }
          start = max(start, end)
        }
      }
      rebalanceEmpty(&parts)
    case .shards(let perCluster):
      let order = indicesByClass(labels, classCount: classCount, rng: &rng).flatMap { $0 }
      let shardCount = clusters * perCluster
      let shardOrder = rng.shuffled(Array(0..<shardCount))
      for (slot, shard) in shardOrder.enumerated() {
        let lower = shard * order.count / shardCount
        let upper = (shard + 1) * order.count / shardCount
        parts[slot / perCluster].append(contentsOf: order[lower..<upper])
      }
      rebalanceEmpty(&parts)
    }
    return parts.map { $0.sorted() }
  }

  /// Moves one sample from the largest part into each empty one.
  private func rebalanceEmpty(_ parts: inout [[Int]]) {
    for i in parts.indices where parts[i].isEmpty {
      guard let donor = parts.indices.max(by: { parts[$0].count < parts[$1].count }),
        parts[donor].count > 1
      else { return }
      parts[i].append(parts[donor].removeLast())
    }
  }

  private func indicesByClass(_ labels: [Int32], classCount: Int, rng: inout SeededGenerator)
    -> [[Int]]
  {
    var byClass = [[Int]](repeating: [], count: classCount)
    for (i, label) in labels.enumerated() { byClass[Int(label)].append(i) }
    return byClass.map { rng.shuffled($0) }
  }
}

/// A Gamma(shape, 1) sample (Marsaglia and Tsang; boosted for shape < 1).
func gamma(shape: Double, _ rng: inout SeededGenerator) -> Double {
  if shape < 1 {
    let u = Double(rng.nextUniform()) + 1e-12
    return gamma(shape: shape + 1, &rng) * pow(u, 1 / shape)
  }
  let d = shape - 1.0 / 3
  let c = 1 / (9 * d).squareRoot()
  while true {
    let x = Double(rng.nextGaussian())
    let v0 = 1 + c * x
    guard v0 > 0 else { continue }
    let v = v0 * v0 * v0
    let u = Double(rng.nextUniform()) + 1e-12
    if log(u) < 0.5 * x * x + d - d * v + d * log(v) { return d * v }
  }
}

/// A sample from the symmetric Dirichlet(alpha) distribution over `count` outcomes.
func sampleDirichlet(alpha: Double, count: Int, _ rng: inout SeededGenerator) -> [Double] {
  let draws = (0..<count).map { _ in gamma(shape: alpha, &rng) }
  let total = draws.reduce(0, +)
  return total > 0 ? draws.map { $0 / total } : [Double](repeating: 1 / Double(count), count: count)
}

/// Per-class sample counts of one cluster's partition.
public func labelHistogram(_ indices: [Int], labels: [Int32], classCount: Int) -> [Int] {
  var counts = [Int](repeating: 0, count: classCount)
  for i in indices { counts[Int(labels[i])] += 1 }
  return counts
}
