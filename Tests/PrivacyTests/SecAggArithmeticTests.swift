import Aggregation
import Crypto
import Privacy
import Records
import SecAgg
import Testing

@Suite struct SecAggArithmeticTests {
  @Test func rulesThatNeedEachUpdateAreRefusedWithTheReason() {
    #expect(
      SecAggArithmetic.unsupported(RoundRules(rule: .median, normBound: 1))?.contains(
        "cannot run") == true)
    #expect(SecAggArithmetic.unsupported(RoundRules(rule: .mean))?.contains("norm bound") == true)
    #expect(SecAggArithmetic.unsupported(RoundRules(rule: .mean, normBound: 1)) == nil)
  }

  /// Honest clusters' updates, masked, summed by SecAgg+ with a dropout, and decoded: the
  /// delta the enclaves compute from the same updates (a dropped cluster's update is simply
  /// not among them), to the bit, under each weighting.
  @Test(arguments: [Weighting.samples, .equal, .devices])
  func theDeltaIsTheEnclavesToTheBit(weighting: Weighting) throws {
    let rules = RoundRules(
      rule: .mean, weighting: weighting, normBound: 3, sampleCap: 5_000, deviceCap: 16)
    let n = 10
    let params = 300
    var rng = SystemRandomNumberGenerator()
    let updates = (0..<n).map { c in
      // Every third update is far past the norm bound: both paths clip it alike.
      (0..<params).map { _ in Float.random(in: -0.2...0.2, using: &rng) * (c % 3 == 0 ? 40 : 1) }
    }
    let samples = (0..<n).map { _ in UInt64.random(in: 100...5_000, using: &rng) }
    let devices = (0..<n).map { UInt32($0 % 16 + 1) }
    let dropped = 4
    let survivors = (0..<n).filter { $0 != dropped }

    let enclave = try FixedPointAggregation(rules: rules).aggregate(
      survivors.map {
        .candidate(.init(values: updates[$0], sampleCount: samples[$0], devices: devices[$0]))
      }, parameterCount: params)

    let arithmetic = try SecAggArithmetic(rules: rules, cohort: n, parameterCount: params)
    let delta =
      arithmetic.encoding.modulus == .bits32
      ? try Self.masked(UInt32.self, arithmetic, updates, samples, devices, dropped: dropped)
      : try Self.masked(UInt64.self, arithmetic, updates, samples, devices, dropped: dropped)
    #expect(delta == enclave.delta)
  }

  @Test func anUpdateAnEnclaveWouldRejectIsNotSent() throws {
    let rules = RoundRules(rule: .mean, normBound: 1, sampleCap: 100)
    let arithmetic = try SecAggArithmetic(rules: rules, cohort: 3, parameterCount: 2)
    let refused = arithmetic.encode([0.1, 0.2], sampleCount: 101, devices: 1, as: UInt64.self)
    guard case .failure(let why) = refused else {
      Issue.record("an update over the sample cap was encoded")
      return
    }
    #expect(why.reason == "claims more training samples than the round's cap of 100")
    guard case .failure = arithmetic.encode([.nan, 0], sampleCount: 1, devices: 1, as: UInt64.self)
    else {
      Issue.record("a NaN update was encoded")
      return
    }
  }

  /// A whole SecAgg+ session over the encoded updates, decoded.
  static func masked<W: MaskWord>(
    _: W.Type, _ arithmetic: SecAggArithmetic, _ updates: [[Float]], _ samples: [UInt64],
    _ devices: [UInt32], dropped: Int
  ) throws -> [Int32] {
    let n = updates.count
    let configuration = try SecAggConfiguration(
      session: Array(SHA256.hash(data: [1])),
      graph: .harary(try .random(clients: n, degree: 4, seed: Array(SHA256.hash(data: [2])))),
      threshold: 2, length: arithmetic.length, modulus: arithmetic.encoding.modulus)
    let clients = try (0..<n).map { try SecAggClient(index: $0, configuration: configuration) }
    let advertised = clients.map(\.advertisement)
    let bundles = try clients.map { try $0.deal(advertised) }
    var masked: [MaskedInput<W>] = []
    for c in 0..<n where c != dropped {
      let words = try arithmetic.encode(
        updates[c], sampleCount: samples[c], devices: devices[c], as: W.self
      ).get().words
      masked.append(try clients[c].mask(words, advertised: advertised, bundles: bundles))
    }
    let survivors = masked.map(\.client)
    var revealed: [RevealedShare] = []
    for c in survivors {
      revealed += try clients[c].unmask(survivors: survivors, dropped: [dropped])
    }
    let sum = try SecAggUnmasker.sum(
      configuration: configuration, advertised: advertised, bundles: bundles, masked: masked,
      revealed: revealed)
    return try arithmetic.delta(of: sum.sum).delta
  }
}
