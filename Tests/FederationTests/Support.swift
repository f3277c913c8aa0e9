import Learning

enum SeededGeneratorForTests {
  static func make() -> SeededGenerator { SeededGenerator(seed: 99, domain: "tests") }
}

func quadrants(count: Int, seed: UInt64) -> Dataset {
  SyntheticData.quadrants(count: count, seed: seed)
}
