import Canonical
import Crypto
import Protection
import UpdateSealing
import XCTest

final class FixedPointTests: XCTestCase {
  let fp = FixedPoint.standard

  func testEncodingRoundsToTheNearestStepAndSaturates() {
    let values: [Float] = [0, 1, -1, 0.123456, -0.000_000_4, 3e-7, 2047.5, -2047.5]
    let (q, saturated) = fp.encode(values)
    XCTAssertEqual(saturated, 0)
    for (v, back) in zip(values, fp.decode(q)) {
      XCTAssertEqual(Double(back), Double(v), accuracy: 0.5 / fp.scale + 1e-9)
    }
    XCTAssertEqual(q[4], 0)  // -0.4 steps rounds to zero
    XCTAssertEqual(q[5], 0)  // 0.31 steps rounds to zero
    let (s, n) = fp.encode([5000, -5000, .infinity, .nan, 1])
    XCTAssertEqual(n, 4)
    XCTAssertEqual(s, [.max, .min, .max, 0, 1 << 20])
  }

  func testTheMeanIsExactAndTheSameWhateverTheOrder() throws {
    // Hand-worked: (2 x [3, -3, 1] + 1 x [0, 0, 0]) / 3 = [2, -2, 0.67 -> 1].
    var sum = FixedPointSum(count: 3)
    try sum.add([3, -3, 1], weight: 2)
    try sum.add([0, 0, 0], weight: 1)
    XCTAssertEqual(try sum.mean(), [2, -2, 1])
    // Ties round away from zero: (1 + 0) / 2 = 0.5 -> 1, (-1 + 0) / 2 -> -1.
    var tie = FixedPointSum(count: 2)
    try tie.add([1, -1], weight: 1)
    try tie.add([0, 0], weight: 1)
    XCTAssertEqual(try tie.mean(), [1, -1])

    var rng = SystemRandomNumberGenerator()
    let updates = (0..<50).map { _ in
      fp.encode((0..<1000).map { _ in Float.random(in: -0.05...0.05, using: &rng) }).values
    }
    let weights = (0..<50).map { _ in Int64.random(in: 1...6000, using: &rng) }
    func mean(_ order: [Int]) throws -> [Int32] {
      var s = FixedPointSum(count: 1000)
      for i in order { try s.add(updates[i], weight: weights[i]) }
      return try s.mean()
    }
    let reference = try mean(Array(0..<50))
    for _ in 0..<5 { XCTAssertEqual(try mean(Array(0..<50).shuffled()), reference) }
    // And it is the weighted mean to within half a step.
    let total = Double(weights.reduce(0, +))
    for j in stride(from: 0, to: 1000, by: 97) {
      let exact = (0..<50).reduce(0.0) { $0 + Double(weights[$1]) * Double(updates[$1][j]) } / total
      XCTAssertEqual(Double(reference[j]), exact, accuracy: 0.5 + 1e-9)
    }
  }

  func testBadInputsAreRefused() {
    var sum = FixedPointSum(count: 2)
    XCTAssertThrowsError(try sum.add([1], weight: 1)) {
      XCTAssertEqual($0 as? AggregationError, .shapeMismatch(expected: 2, got: 1))
    }
    XCTAssertThrowsError(try sum.add([1, 1], weight: 0))
    XCTAssertThrowsError(try sum.mean()) { XCTAssertEqual($0 as? AggregationError, .empty) }
    XCTAssertNoThrow(try sum.add([1, 1], weight: 1 << 30))
    XCTAssertThrowsError(try sum.add([1, 1], weight: 1 << 30 + 1)) {
      XCTAssertEqual($0 as? AggregationError, .totalWeightTooLarge)
    }
  }
}

final class EnvelopeTests: XCTestCase {
  let group = Curve25519.KeyAgreement.PrivateKey()
  let cluster = Curve25519.Signing.PrivateKey()
  let network = Array(SHA256.hash(data: Array("network".utf8)))
  let base = Array(SHA256.hash(data: Array("base".utf8)))
  let payload = Array("a secret update: 0.125 -0.5 0.75 ".utf8) + [UInt8](repeating: 42, count: 64)

  func sealed(round: UInt64 = 3) throws -> UpdateEnvelope {
    try UpdateEnvelope.seal(
      payload, network: network, round: round, cluster: "cluster-7", baseModel: base,
      to: group.publicKey, signedWith: cluster)
  }

  func open(_ e: UpdateEnvelope, round: UInt64 = 3) throws -> [UInt8] {
    try e.open(
      with: group, network: network, round: round, baseModel: base,
      clusterKey: cluster.publicKey)
  }

  func testSealedUpdatesOpenOnlyForTheGroupKeyAndHideThePlaintext() throws {
    let e = try sealed()
    let bytes = e.canonicalBytes
    XCTAssertEqual(try open(try UpdateEnvelope(canonical: bytes)), payload)
    // Nothing of the plaintext shows in the envelope.
    for window in stride(from: 0, to: payload.count - 8, by: 4) {
      let piece = Array(payload[window..<window + 8])
      XCTAssertFalse(
        bytes.indices.dropLast(7).contains { Array(bytes[$0..<$0 + 8]) == piece },
        "plaintext bytes \(window)..< \(window + 8) appear in the envelope")
    }
    // Two seals of the same update differ (fresh HPKE key each time).
    XCTAssertNotEqual(try sealed().canonicalBytes, bytes)
    // Another group key cannot open it.
    XCTAssertThrowsError(
      try e.open(
        with: Curve25519.KeyAgreement.PrivateKey(), network: network, round: 3, baseModel: base,
        clusterKey: cluster.publicKey)
    ) { XCTAssertEqual($0 as? EnvelopeError, .decryptionFailed(cluster: "cluster-7")) }
  }

  func testReplaysWrongRoundsBaseModelsNetworksAndKeysAreRefused() throws {
    let e = try sealed(round: 3)
    XCTAssertThrowsError(try open(e, round: 4)) {
      XCTAssertEqual($0 as? EnvelopeError, .wrongRound(cluster: "cluster-7", round: 3, expected: 4))
    }
    XCTAssertThrowsError(
      try e.open(
        with: group, network: network, round: 3, baseModel: network, clusterKey: cluster.publicKey)
    ) { XCTAssertEqual($0 as? EnvelopeError, .wrongBaseModel(cluster: "cluster-7")) }
    XCTAssertThrowsError(
      try e.open(
        with: group, network: base, round: 3, baseModel: base, clusterKey: cluster.publicKey)
    ) { XCTAssertEqual($0 as? EnvelopeError, .wrongNetwork(cluster: "cluster-7")) }
    XCTAssertThrowsError(
      try e.open(
        with: group, network: network, round: 3, baseModel: base,
        clusterKey: Curve25519.Signing.PrivateKey().publicKey)
    ) { XCTAssertEqual($0 as? EnvelopeError, .badSignature(cluster: "cluster-7")) }
    // Relabelling a round-3 envelope as round 4 breaks the cluster's signature.
    var relabelled = e
    relabelled.round = 4
    XCTAssertThrowsError(try open(relabelled, round: 4)) {
      XCTAssertEqual($0 as? EnvelopeError, .badSignature(cluster: "cluster-7"))
    }
  }

  func testEveryChangedByteIsRefused() throws {
    let bytes = try sealed().canonicalBytes
    var accepted: [Int] = []
    for i in bytes.indices {
      var bad = bytes
      bad[i] ^= 0x01
      if let e = try? UpdateEnvelope(canonical: bad), (try? open(e)) != nil { accepted.append(i) }
    }
    XCTAssertEqual(accepted, [])
  }
}
