import Learning

enum SeededGeneratorForTests {
  static func make() -> SeededGenerator { SeededGenerator(seed: 99, domain: "tests") }
}

/// A small image task with a known answer: the class is the quadrant holding a bright square.
func quadrants(count: Int, seed: UInt64) -> Dataset {
  var rng = SeededGenerator(seed: seed, domain: "quadrants")
  var pixels = [UInt8](repeating: 0, count: count * 784)
  var labels = [Int32](repeating: 0, count: count)
  for n in 0..<count {
    let label = Int(rng.next() % 4)
    labels[n] = Int32(label)
    let top = (label / 2) * 14 + Int(rng.next() % 7)
    let left = (label % 2) * 14 + Int(rng.next() % 7)
    for i in 0..<784 { pixels[n * 784 + i] = UInt8(rng.next() % 60) }
    for y in top..<(top + 7) {
      for x in left..<(left + 7) { pixels[n * 784 + y * 28 + x] = 200 + UInt8(rng.next() % 56) }
    }
  }
  return Dataset(
    name: "quadrants", sampleShape: [28, 28, 1], classCount: 4, labels: labels,
    storage: .bytes(pixels), mean: 0.2, std: 0.3)
}
