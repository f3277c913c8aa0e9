import SecAgg
import Testing

@Suite struct ShamirTests {
  let secret = (0..<32).map { UInt8($0 * 7 &+ 3) }

  @Test func anyThresholdOfTheSharesRecoverTheSecret() throws {
    let points: [UInt32] = [1, 2, 5, 9, 17, 40]
    let shares = try Shamir.split(secret, threshold: 4, points: points)
    #expect(shares.map(\.point) == points)
    #expect(shares.allSatisfy { $0.value.count == 33 })
    // Every 4-subset, in any order.
    for a in 0..<6 {
      for b in (a + 1)..<6 {
        let subset = shares.enumerated().filter { $0.offset != a && $0.offset != b }.map(\.element)
        #expect(try Shamir.combine(subset, threshold: 4) == secret)
        #expect(try Shamir.combine(subset.reversed(), threshold: 4) == secret)
      }
    }
  }

  @Test func extremeSecretsSurvive() throws {
    for s in [[UInt8](repeating: 0, count: 32), [UInt8](repeating: 0xFF, count: 32)] {
      let shares = try Shamir.split(s, threshold: 3, points: [1, 2, 3, 4])
      #expect(try Shamir.combine(Array(shares.suffix(3)), threshold: 3) == s)
    }
    let one = try Shamir.split(secret, threshold: 1, points: [7])
    #expect(try Shamir.combine(one, threshold: 1) == secret)
  }

  @Test func fewerSharesRecoverAnotherSecret() throws {
    let shares = try Shamir.split(secret, threshold: 3, points: [1, 2, 3])
    #expect(throws: ShamirError.tooFewShares(have: 2, need: 3)) {
      try Shamir.combine(Array(shares.prefix(2)), threshold: 3)
    }
    // Interpolating two shares as if the threshold were 2 gives some other value.
    #expect((try? Shamir.combine(Array(shares.prefix(2)), threshold: 2)) != secret)
  }

  /// Fewer than t shares reveal nothing: for two very different secrets, the values of shares
  /// 1 and 2 (t = 3) are each uniform and the two secrets' distributions cannot be told
  /// apart (chi-squared over the low byte, 256 bins; a fixed bound far above the 99.99th
  /// percentile, 330, with 255 degrees of freedom).
  @Test func fewerThanThresholdSharesAreUniformWhateverTheSecret() throws {
    let zeros = [UInt8](repeating: 0, count: 32)
    let ones = [UInt8](repeating: 0xFF, count: 32)
    let trials = 6_000
    var counts = [[Int]](repeating: [Int](repeating: 0, count: 256), count: 4)
    for _ in 0..<trials {
      for (k, s) in [zeros, ones].enumerated() {
        let shares = try Shamir.split(s, threshold: 3, points: [1, 2, 3])
        counts[2 * k][Int(shares[0].value[32])] += 1
        counts[2 * k + 1][Int(shares[1].value[32])] += 1
      }
    }
    let expected = Double(trials) / 256
    for c in counts {
      let chi = c.reduce(0.0) { $0 + (Double($1) - expected) * (Double($1) - expected) / expected }
      #expect(chi < 330, "chi-squared \(chi) against uniform")
    }
    // Two-sample: the zero secret's share-1 bytes against the 0xFF secret's.
    var twoSample = 0.0
    for i in 0..<256 where counts[0][i] + counts[2][i] > 0 {
      let d = Double(counts[0][i] - counts[2][i])
      twoSample += d * d / Double(counts[0][i] + counts[2][i])
    }
    #expect(twoSample < 330, "two-sample chi-squared \(twoSample)")
  }

  @Test func badInputsAreRefusedWithTheirReason() throws {
    #expect(throws: ShamirError.secretSize(31)) {
      try Shamir.split([UInt8](repeating: 1, count: 31), threshold: 2, points: [1, 2])
    }
    #expect(throws: ShamirError.threshold(3, points: 2)) {
      try Shamir.split(secret, threshold: 3, points: [1, 2])
    }
    #expect(throws: ShamirError.zeroPoint) { try Shamir.split(secret, threshold: 1, points: [0]) }
    #expect(throws: ShamirError.repeatedPoint(2)) {
      try Shamir.split(secret, threshold: 2, points: [2, 2])
    }
    var shares = try Shamir.split(secret, threshold: 2, points: [1, 2])
    shares[1].value = [UInt8](repeating: 0xFF, count: 33)  // above p
    #expect(throws: ShamirError.invalidShare(point: 2)) { try Shamir.combine(shares, threshold: 2) }
    shares[1].value = [0]
    #expect(throws: ShamirError.invalidShare(point: 2)) { try Shamir.combine(shares, threshold: 2) }
  }

  /// A share altered on the way recovers another secret: detecting that is the dealer's
  /// commitments' job (see the protocol's tests), not the sharing's.
  @Test func anAlteredShareChangesTheSecret() throws {
    var shares = try Shamir.split(secret, threshold: 2, points: [1, 2])
    shares[0].value[32] ^= 1
    #expect((try? Shamir.combine(shares, threshold: 2)) != secret)
  }
}
