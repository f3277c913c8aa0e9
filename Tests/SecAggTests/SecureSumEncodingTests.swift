import Protection
import SecAgg
import Testing

@Suite struct SecureSumEncodingTests {
  @Test func theModulusIsTheSmallestThatCannotWrap() throws {
    // 100 clusters of weight 1, values within ±1 at 2^-20: 100 × 2^20 < 2^31.
    #expect(try SecureSumEncoding(bound: 1, maximumTotalWeight: 100).modulus == .bits32)
    // 10 clusters of up to 6,000 samples each: 60,000 × 2^20 needs 2^64.
    #expect(try SecureSumEncoding(bound: 1, maximumTotalWeight: 60_000).modulus == .bits64)
    #expect(throws: SecAggError.self) { try SecureSumEncoding(bound: 0, maximumTotalWeight: 1) }
    #expect(throws: SecAggError.self) {
      try SecureSumEncoding(bound: 1, maximumTotalWeight: 1 << 32)
    }
    #expect(throws: SecAggError.self) { try SecureSumEncoding(bound: 4096, maximumTotalWeight: 1) }
  }

  /// The sum of encoded inputs decodes to the enclaves' fixed-point mean, to the bit, and so
  /// within 2^-f of the exact weighted mean.
  @Test(arguments: [1, 600] as [Int64])
  func theMeanIsTheEnclavesMeanAndWithinTheBound(weightScale: Int64) throws {
    var rng = SystemRandomNumberGenerator()
    let n = 12
    let count = 500
    let encoding = try SecureSumEncoding(bound: 2, maximumTotalWeight: Int64(n) * weightScale * 10)
    let inputs = (0..<n).map { _ in (0..<count).map { _ in Float.random(in: -2...2, using: &rng) } }
    let weights = (0..<n).map { _ in Int64.random(in: 1...10, using: &rng) * weightScale }
    var enclave = FixedPointSum(count: count)
    var exact = [Double](repeating: 0, count: count)
    for (x, w) in zip(inputs, weights) {
      try enclave.add(FixedPoint.standard.encode(x).values, weight: w)
      for i in 0..<count { exact[i] += Double(x[i]) * Double(w) }
    }
    let total = weights.reduce(0, +)
    let decoded =
      encoding.modulus == .bits32
      ? try Self.sum(inputs, weights, encoding, as: UInt32.self)
      : try Self.sum(inputs, weights, encoding, as: UInt64.self)
    #expect(decoded.totalWeight == total)
    let mean = decoded.mean
    #expect(mean == (try enclave.mean()))
    let step = 1 / FixedPoint.standard.scale
    let worst = zip(FixedPoint.standard.decode(mean), exact).map {
      abs(Double($0) - $1 / Double(total))
    }
    .max()!
    #expect(worst <= step, "error \(worst) above 2^-20")
  }

  /// The plain sum of the encoded inputs, decoded.
  static func sum<W: MaskWord>(
    _ inputs: [[Float]], _ weights: [Int64], _ encoding: SecureSumEncoding, as: W.Type
  ) throws -> (mean: [Int32], totalWeight: Int64) {
    var sum = [W](repeating: 0, count: inputs[0].count + 1)
    for (x, w) in zip(inputs, weights) {
      let words = try encoding.encode(x, weight: w, as: W.self).words
      for i in sum.indices { sum[i] &+= words[i] }
    }
    return try encoding.mean(of: sum)
  }

  @Test func valuesBeyondTheBoundAreClippedAndCounted() throws {
    let encoding = try SecureSumEncoding(bound: 1, maximumTotalWeight: 10)
    let (words, clipped) = try encoding.encode([0.5, 3, -7, .nan], weight: 2, as: UInt32.self)
    #expect(clipped == 3)
    let mean = try encoding.mean(of: words).mean
    #expect(FixedPoint.standard.decode(mean) == [0.5, 1, -1, 0])
    #expect(throws: SecAggError.self) { try encoding.encode([1], weight: 11, as: UInt32.self) }
    #expect(throws: SecAggError.self) { try encoding.encode([1], weight: 1, as: UInt64.self) }
  }

  /// A sum whose weight word is out of range (an input that broke the encoding) is refused,
  /// not decoded into a wrong mean.
  @Test func aBrokenWeightIsRefused() throws {
    let encoding = try SecureSumEncoding(bound: 1, maximumTotalWeight: 10)
    #expect(throws: SecAggError.self) { try encoding.mean(of: [UInt32(5), 0]) }
    #expect(throws: SecAggError.self) { try encoding.mean(of: [UInt32(5), 11]) }
    // The reason goes on the ledger: it names no total weight (one cluster's, among few).
    do {
      _ = try encoding.mean(of: [UInt32(5), 11])
    } catch {
      #expect(!"\(error)".contains("11"))
    }
  }

  /// The whole path: encode, mask, drop a client after dealing, unmask, decode: the enclaves'
  /// mean of the survivors.
  @Test func aMaskedRoundGivesTheEnclavesMeanOfTheSurvivors() throws {
    let encoding = try SecureSumEncoding(bound: 1, maximumTotalWeight: 8 * 1000)
    #expect(encoding.modulus == .bits64)
    var s = try SessionHarness(
      clients: 8, degree: 4, threshold: 2, length: encoding.length(values: 64))
    var rng = SystemRandomNumberGenerator()
    let values = (0..<8).map { _ in (0..<64).map { _ in Float.random(in: -1...1, using: &rng) } }
    let weights = (0..<8).map { Int64(100 + $0 * 37) }
    let inputs = try (0..<8).map {
      try encoding.encode(values[$0], weight: weights[$0], as: UInt64.self).words
    }
    let result = try s.run(inputs, afterDealing: [5])
    var enclave = FixedPointSum(count: 64)
    for c in 0..<8 where c != 5 {
      try enclave.add(FixedPoint.standard.encode(values[c]).values, weight: weights[c])
    }
    let decoded = try encoding.mean(of: result.sum)
    #expect(decoded.mean == (try enclave.mean()))
    #expect(
      decoded.totalWeight
        == weights.enumerated().filter { $0.offset != 5 }.map(\.element).reduce(0, +))
  }
}
