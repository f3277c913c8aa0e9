import Crypto
import SecAgg

/// A whole SecAgg+ session in one process, with a host that carries every message and may
/// lose clients at each stage; tests reach in between stages to play a malicious host.
struct SessionHarness {
  var configuration: SecAggConfiguration
  var clients: [SecAggClient]
  var advertised: [AdvertisedKeys] = []
  var bundles: [ShareBundle] = []
  var masked: [MaskedInput<UInt64>] = []
  var revealed: [RevealedShare] = []

  static func random32() -> [UInt8] { SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) } }

  init(
    clients n: Int, degree: Int? = nil, threshold: Int, length: Int,
    modulus: MaskModulus = .bits64
  ) throws {
    let graph: NeighbourGraph =
      try degree.map { .harary(try .random(clients: n, degree: $0, seed: Self.random32())) }
      ?? .full(clients: n)
    let configuration = try SecAggConfiguration(
      session: Self.random32(), graph: graph, threshold: threshold, length: length,
      modulus: modulus)
    self.configuration = configuration
    clients = try (0..<n).map { try SecAggClient(index: $0, configuration: configuration) }
  }

  static func inputs(_ n: Int, length: Int) -> [[UInt64]] {
    (0..<n).map { c in (0..<length).map { UInt64(c * 1000 + $0) &* 0x9E37_79B9_7F4A_7C15 } }
  }

  static func plainSum(_ inputs: [[UInt64]], of clients: some Sequence<Int>) -> [UInt64] {
    var sum = [UInt64](repeating: 0, count: inputs[0].count)
    for c in clients { for i in sum.indices { sum[i] &+= inputs[c][i] } }
    return sum
  }

  mutating func advertise(except gone: Set<Int> = []) {
    advertised = clients.filter { !gone.contains($0.index) }.map(\.advertisement)
  }

  mutating func deal(except gone: Set<Int> = []) throws {
    for i in clients.indices
    where !gone.contains(i) && advertised.contains(where: { $0.client == i }) {
      bundles.append(try clients[i].deal(advertised))
    }
  }

  mutating func mask(_ inputs: [[UInt64]], except gone: Set<Int> = []) throws {
    for b in bundles where !gone.contains(b.dealer) {
      masked.append(
        try clients[b.dealer].mask(inputs[b.dealer], advertised: advertised, bundles: bundles))
    }
  }

  var survivors: [Int] { masked.map(\.client) }
  var dropped: [Int] {
    bundles.map(\.dealer).filter { d in !masked.contains(where: { $0.client == d }) }
  }

  mutating func unmask(except gone: Set<Int> = []) throws {
    for c in survivors where !gone.contains(c) {
      revealed += try clients[c].unmask(survivors: survivors, dropped: dropped)
    }
  }

  func sum() throws -> SecAggSum<UInt64> {
    try SecAggUnmasker.sum(
      configuration: configuration, advertised: advertised, bundles: bundles, masked: masked,
      revealed: revealed)
  }

  /// Every stage, losing `afterDealing` before masking and `beforeUnmasking` at the end.
  mutating func run(
    _ inputs: [[UInt64]], afterDealing: Set<Int> = [], beforeUnmasking: Set<Int> = []
  ) throws -> SecAggSum<UInt64> {
    advertise()
    try deal()
    try mask(inputs, except: afterDealing)
    try unmask(except: beforeUnmasking)
    return try sum()
  }
}
