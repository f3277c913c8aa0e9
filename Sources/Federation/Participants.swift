import Learning

/// Who is asked to train in a round: a seeded sample of the clusters, the same wherever it is
/// drawn (the simulation, and every node that may open the round on a network).
public enum Participants {
  /// The generator a round's draws come from (the sample first, then the simulation's
  /// dropouts).
  public static func generator(round: Int, seed: UInt64) -> SeededGenerator {
    SeededGenerator(seed: seed, domain: "simulation.round.\(round)")
  }

  /// `fraction` of `clusters` (at least one), sorted, drawn from `rng`.
  public static func sample(
    clusters: Int, fraction: Double, using rng: inout SeededGenerator
  ) -> [ClusterID] {
    let sampled = max(1, Int((fraction * Double(clusters)).rounded()))
    return rng.shuffled(Array(0..<clusters)).prefix(sampled).sorted()
  }

  /// The participants of `round` of a run with `seed`.
  public static func sample(round: Int, clusters: Int, fraction: Double, seed: UInt64)
    -> [ClusterID]
  {
    var rng = generator(round: round, seed: seed)
    return sample(clusters: clusters, fraction: fraction, using: &rng)
  }
}
