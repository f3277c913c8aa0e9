/// Small generated datasets with a known answer, for tests, examples and benchmarks that must
/// not depend on files.
public enum SyntheticData {
  /// 28x28 grey images whose class (0-3) is the quadrant holding a bright 7x7 square, placed at
  /// a random offset on a noisy background. Reproducible from `seed`.
  public static func quadrants(count: Int, seed: UInt64) -> Dataset {
    var rng = SeededGenerator(seed: seed, domain: "quadrants")
    var pixels = [UInt8](repeating: 0, count: count * 784)
    var labels = [Int32](repeating: 0, count: count)
    for n in 0..<count {
      let label = rng.nextInt(below: 4)
      labels[n] = Int32(label)
      let top = (label / 2) * 14 + rng.nextInt(below: 7)
      let left = (label % 2) * 14 + rng.nextInt(below: 7)
      for i in 0..<784 { pixels[n * 784 + i] = UInt8(rng.nextInt(below: 60)) }
      for y in top..<(top + 7) {
        for x in left..<(left + 7) {
          pixels[n * 784 + y * 28 + x] = UInt8(200 + rng.nextInt(below: 56))
        }
      }
    }
    return Dataset(
      name: "quadrants", sampleShape: [28, 28, 1], classCount: 4, labels: labels,
      storage: .bytes(pixels), mean: 0.2, std: 0.3)
  }
}
