import Canonical
import Crypto
import CryptoExtras
import SecAgg
import Testing

@Suite struct SecAggProtocolTests {
  @Test(arguments: [nil, 4] as [Int?])
  func theSumIsThePlainSum(degree: Int?) throws {
    var s = try SessionHarness(clients: 10, degree: degree, threshold: 3, length: 257)
    let inputs = SessionHarness.inputs(10, length: 257)
    let result = try s.run(inputs)
    #expect(result.sum == SessionHarness.plainSum(inputs, of: 0..<10))
    #expect(result.survivors == Array(0..<10))
    #expect(result.dropped.isEmpty)
  }

  @Test func thirtyTwoBitSumsWrapAlike() throws {
    var s = try SessionHarness(clients: 6, degree: 2, threshold: 2, length: 33, modulus: .bits32)
    let inputs = (0..<6).map { c in (0..<33).map { UInt32(truncatingIfNeeded: c * 77_777 + $0) } }
    s.advertise()
    try s.deal()
    var masked: [MaskedInput<UInt32>] = []
    for c in 0..<6 {
      masked.append(try s.clients[c].mask(inputs[c], advertised: s.advertised, bundles: s.bundles))
    }
    for c in 0..<6 { s.revealed += try s.clients[c].unmask(survivors: Array(0..<6), dropped: []) }
    let result = try SecAggUnmasker.sum(
      configuration: s.configuration, advertised: s.advertised, bundles: s.bundles,
      masked: masked, revealed: s.revealed)
    var plain = [UInt32](repeating: 0, count: 33)
    for c in 0..<6 { for i in 0..<33 { plain[i] &+= inputs[c][i] } }
    #expect(result.sum == plain)
    // A 64-bit input is refused in a 32-bit session.
    #expect(throws: SecAggError.self) {
      var fresh = try SessionHarness(
        clients: 3, degree: 2, threshold: 2, length: 1, modulus: .bits32)
      fresh.advertise()
      try fresh.deal()
      _ = try fresh.clients[0].mask(
        [UInt64(1)], advertised: fresh.advertised, bundles: fresh.bundles)
    }
  }

  /// A masked input alone is uniform: its words' low bytes pass a chi-squared test whatever
  /// the input (here all zeros).
  @Test func aMaskedInputLooksUniform() throws {
    var s = try SessionHarness(clients: 3, degree: 2, threshold: 2, length: 25_600)
    s.advertise()
    try s.deal()
    let masked = try s.clients[0].mask(
      [UInt64](repeating: 0, count: 25_600), advertised: s.advertised, bundles: s.bundles
    ).vector
    var counts = [Int](repeating: 0, count: 256)
    for w in masked { counts[Int(w & 0xFF)] += 1 }
    let chi = counts.reduce(0.0) { $0 + (Double($1) - 100) * (Double($1) - 100) / 100 }
    #expect(chi < 330)
  }

  @Test(arguments: [nil, 4] as [Int?])
  func clientsThatDropAfterDealingAreRecovered(degree: Int?) throws {
    var s = try SessionHarness(clients: 10, degree: degree, threshold: 2, length: 100)
    let inputs = SessionHarness.inputs(10, length: 100)
    let result = try s.run(inputs, afterDealing: [3])
    #expect(result.sum == SessionHarness.plainSum(inputs, of: (0..<10).filter { $0 != 3 }))
    #expect(result.dropped == [3])
  }

  @Test func clientsThatDropBeforeAdvertisingOrUnmaskingAreTolerated() throws {
    var s = try SessionHarness(clients: 12, degree: 6, threshold: 3, length: 64)
    let inputs = SessionHarness.inputs(12, length: 64)
    s.advertise(except: [5])
    try s.deal()
    try s.mask(inputs, except: [8])
    try s.unmask(except: [0])  // client 0 masked, then vanished: its input still counts
    let result = try s.sum()
    #expect(
      result.sum == SessionHarness.plainSum(inputs, of: (0..<12).filter { ![5, 8].contains($0) }))
    #expect(result.dropped == [8])
  }

  @Test func aRoundBelowThresholdAbortsAndSaysWhy() throws {
    // Client 0's four neighbours; three of them drop after dealing; t = 3.
    var s = try SessionHarness(clients: 10, degree: 4, threshold: 3, length: 8)
    let inputs = SessionHarness.inputs(10, length: 8)
    guard case .harary(let graph) = s.configuration.graph else { return }
    let lost = Set(graph.neighbours(of: 0).prefix(3))
    s.advertise()
    try s.deal()
    try s.mask(inputs, except: lost)
    // Client 0 refuses to unmask with fewer than t surviving neighbours.
    #expect(throws: SecAggError.belowThreshold(client: 0, have: 1, need: 3)) {
      try s.clients[0].unmask(survivors: s.survivors, dropped: s.dropped)
    }
    // And the aggregator cannot recover client 0's self mask from the others' shares.
    for c in s.survivors where c != 0 {
      if let r = try? s.clients[c].unmask(survivors: s.survivors, dropped: s.dropped) {
        s.revealed += r
      }
    }
    #expect(throws: SecAggError.self) { try s.sum() }
    do {
      _ = try s.sum()
    } catch let e as SecAggError {
      guard case .belowThreshold = e else {
        Issue.record("expected below threshold, got \(e)")
        return
      }
    }
  }

  @Test func aThresholdOfOneIsRefused() throws {
    #expect(throws: SecAggError.self) {
      try SessionHarness(clients: 4, degree: 2, threshold: 1, length: 1)
    }
  }

  @Test func tooFewNeighboursToDealIsBelowThreshold() throws {
    var s = try SessionHarness(clients: 6, degree: 2, threshold: 2, length: 4)
    guard case .harary(let graph) = s.configuration.graph else { return }
    let gone = Set([graph.neighbours(of: 0)[0]])
    s.advertise(except: gone)
    #expect(throws: SecAggError.belowThreshold(client: 0, have: 1, need: 2)) {
      try s.clients[0].deal(s.advertised)
    }
  }
}

@Suite struct SecAggMessageEncodingTests {
  /// Every message survives its canonical encoding, and a session run on decoded copies
  /// still sums right.
  @Test func messagesRoundTripAndStillWork() throws {
    var s = try SessionHarness(clients: 6, degree: 4, threshold: 2, length: 8)
    let inputs = SessionHarness.inputs(6, length: 8)
    s.advertise()
    s.advertised = try s.advertised.map { try AdvertisedKeys(canonical: $0.canonicalBytes) }
    try s.deal()
    s.bundles = try s.bundles.map { try ShareBundle(canonical: $0.canonicalBytes) }
    try s.mask(inputs)
    try s.unmask()
    s.revealed = try s.revealed.map { try RevealedShare(canonical: $0.canonicalBytes) }
    #expect(try s.sum().sum == SessionHarness.plainSum(inputs, of: 0..<6))
    var bad = s.revealed[0].canonicalBytes
    bad[8] = 3
    #expect(throws: CanonicalDecodingError.unknownKind(field: "secagg revealed secret", tag: 3)) {
      try RevealedShare(canonical: bad)
    }
    #expect(throws: CanonicalDecodingError.self) {
      try ShareBundle(canonical: Array(s.bundles[0].canonicalBytes.dropLast()))
    }
  }
}

@Suite struct MaskStreamTests {
  /// The mask, made a chunk at a time, is ChaCha20's one keystream over the whole vector:
  /// no chunk repeats another's keystream.
  @Test(arguments: [1, 4096, 4097, 61_706])
  func theMaskIsOneChaCha20Keystream(words: Int) throws {
    let key = SymmetricKey(size: .bits256)
    var vector = [UInt32](repeating: 0, count: words)
    MaskStream.apply(key, to: &vector)
    let stream = try Insecure.ChaCha20CTR.encrypt(
      [UInt8](repeating: 0, count: words * 4), using: key, counter: .init(offset: 0),
      nonce: .init(data: [UInt8](repeating: 0, count: 12)))
    let expected = stream.withUnsafeBytes { raw in
      (0..<words).map {
        UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))
      }
    }
    #expect(vector == expected)
    MaskStream.apply(key, to: &vector, negate: true)
    #expect(vector.allSatisfy { $0 == 0 })
  }
}
