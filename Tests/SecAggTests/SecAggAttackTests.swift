import SecAgg
import Testing

/// A malicious host carries every message between clients and the aggregator: each test is one
/// thing it tries, and shows it fail.
@Suite struct SecAggAttackTests {
  let inputs = SessionHarness.inputs(8, length: 16)

  func dealt(clients: Int = 8, degree: Int? = 4, threshold: Int = 3) throws -> SessionHarness {
    var s = try SessionHarness(clients: clients, degree: degree, threshold: threshold, length: 16)
    s.advertise()
    try s.deal()
    return s
  }

  @Test func askingForBothSecretsOfOneClientIsRefused() throws {
    var s = try dealt(degree: nil)
    try s.mask(inputs)
    // Client 3 named a survivor (its self-mask seed) and dropped (its masking key) at once.
    #expect(throws: SecAggError.bothSecretsRequested(client: 3)) {
      try s.clients[0].unmask(survivors: Array(0..<8), dropped: [3])
    }
  }

  @Test func askingAgainWithAnotherStoryIsRefused() throws {
    var s = try dealt(degree: nil)
    try s.mask(inputs)
    _ = try s.clients[0].unmask(survivors: Array(0..<8), dropped: [])
    // Now claim client 3 dropped, to get its masking key too.
    #expect(throws: SecAggError.alreadyUnmasked) {
      try s.clients[0].unmask(survivors: [0, 1, 2, 4, 5, 6, 7], dropped: [3])
    }
  }

  /// The ledger records one survivor set, so every client is asked the same question; even a
  /// host that could tell neighbours different stories gets fewer than t shares of one of the
  /// two secrets when t > k/2 (the semi-malicious parameters).
  @Test func aSplitStoryLeavesTooFewSharesOfOneSecret() throws {
    var s = try dealt(clients: 8, degree: nil, threshold: 4)  // k = 7 neighbours, t = 4
    try s.mask(inputs)
    let holders = (1..<8).map { $0 }
    var seedShares: [RevealedShare] = []
    var keyShares: [RevealedShare] = []
    for (n, h) in holders.enumerated() {
      let everyone = Array(0..<8)
      let toldDropped = n % 2 == 0
      let answer = try s.clients[h].unmask(
        survivors: toldDropped ? everyone.filter { $0 != 0 } : everyone,
        dropped: toldDropped ? [0] : [])
      for r in answer where r.dealer == 0 {
        if r.secret == .selfMaskSeed { seedShares.append(r) } else { keyShares.append(r) }
      }
    }
    #expect(seedShares.count < 4 || keyShares.count < 4)
  }

  @Test func leavingTheClientOutOfTheSurvivorsIsRefused() throws {
    var s = try dealt()
    try s.mask(inputs)
    #expect(throws: SecAggError.excluded("it is not among the survivors")) {
      try s.clients[0].unmask(survivors: Array(1..<8), dropped: [])
    }
    #expect(throws: SecAggError.self) {
      try s.clients[0].unmask(survivors: Array(0..<8), dropped: [9])
    }
  }

  @Test func aChangedCiphertextIsAForgedShare() throws {
    var s = try dealt()
    let holder = s.bundles[1].shares[0].holder
    s.bundles[1].shares[0].ciphertext[20] ^= 1
    #expect(throws: SecAggError.forgedShare(dealer: 1)) {
      try s.clients[holder].mask(inputs[holder], bundles: s.bundles)
    }
  }

  @Test func aShareReplayedFromAnotherSessionIsForged() throws {
    // Full graphs, so that the earlier session's dealer had the same holders.
    let old = try dealt(degree: nil)
    var s = try dealt(degree: nil)
    let holder = s.bundles[1].shares[0].holder
    // The same dealer's share for the same holder, from the earlier session.
    let replay = old.bundles[1].shares.first { $0.holder == holder }!
    s.bundles[1].shares[0] = replay
    #expect(throws: SecAggError.forgedShare(dealer: 1)) {
      try s.clients[holder].mask(inputs[holder], bundles: s.bundles)
    }
  }

  @Test func aShareRedirectedToAnotherHolderIsForged() throws {
    var s = try dealt(degree: nil)
    // Client 2's share for client 3, relabelled as its share for client 4.
    let forThree = s.bundles[2].shares.firstIndex { $0.holder == 3 }!
    let forFour = s.bundles[2].shares.firstIndex { $0.holder == 4 }!
    s.bundles[2].shares[forFour].ciphertext = s.bundles[2].shares[forThree].ciphertext
    #expect(throws: SecAggError.forgedShare(dealer: 2)) {
      try s.clients[4].mask(inputs[4], bundles: s.bundles)
    }
  }

  @Test func aChangedShareCommitmentIsCaughtByItsHolder() throws {
    var s = try dealt()
    let holder = s.bundles[5].shares[1].holder
    s.bundles[5].shares[1].maskKeyShareCommitment[0] ^= 1
    #expect(throws: SecAggError.forgedShare(dealer: 5)) {
      try s.clients[holder].mask(inputs[holder], bundles: s.bundles)
    }
  }

  @Test func withholdingTheClientsOwnSharesIsRefused() throws {
    var s = try dealt()
    let others = s.bundles.filter { $0.dealer != 0 }
    #expect(throws: SecAggError.excluded("its shares are not among those dealt")) {
      try s.clients[0].mask(inputs[0], bundles: others)
    }
  }

  @Test func aChangedAdvertisementIsRefused() throws {
    var s = try SessionHarness(clients: 6, degree: 2, threshold: 2, length: 4)
    s.advertise()
    var swapped = s.advertised
    swapped[0].maskKey = swapped[3].shareKey  // the host's choice of key for client 0
    #expect(throws: SecAggError.self) { try s.clients[0].deal(swapped) }
    swapped = s.advertised
    swapped[0].maskKey = Array(repeating: 9, count: 32)
    #expect(throws: SecAggError.tamperedAdvertisement) { try s.clients[0].deal(swapped) }
    // One client's keys replayed as another's.
    swapped = s.advertised
    swapped[2].shareKey = swapped[1].shareKey
    #expect(
      throws: SecAggError.invalidMessage("client 2 advertised a key another client advertised")
    ) {
      try s.clients[0].deal(swapped)
    }
  }

  @Test func aForgedRevealedShareIsIgnoredAndNeverCounts() throws {
    var s = try dealt(degree: nil, threshold: 3)
    try s.mask(inputs)
    try s.unmask()
    // Alter every revealed share of client 2's seed but two: fewer than t valid are left.
    var altered = s
    var kept = 0
    for i in altered.revealed.indices where altered.revealed[i].dealer == 2 {
      kept += 1
      if kept > 2 { altered.revealed[i].value[32] ^= 1 }
    }
    #expect(throws: SecAggError.belowThreshold(client: 2, have: 2, need: 3)) { try altered.sum() }
    // One altered share among many: ignored, and the sum is still exact.
    var one = s
    let i = one.revealed.firstIndex { $0.dealer == 2 }!
    one.revealed[i].value[32] ^= 1
    #expect(try one.sum().sum == SessionHarness.plainSum(inputs, of: 0..<8))
  }

  @Test func aDealerWhoseSharesMissTheirCommitmentIsNamed() throws {
    var s = try dealt()
    s.bundles[6].selfMaskCommitment[0] ^= 1
    try s.mask(inputs)
    try s.unmask()
    #expect(throws: SecAggError.inconsistentDealer(6)) { try s.sum() }
  }

  @Test func stagesRunInOrderAndOnce() throws {
    var s = try dealt()
    #expect(throws: SecAggError.self) { try s.clients[0].deal(s.advertised) }
    #expect(throws: SecAggError.self) { try s.clients[0].unmask(survivors: [0], dropped: []) }
    _ = try s.clients[0].mask(inputs[0], bundles: s.bundles)
    #expect(throws: SecAggError.self) { try s.clients[0].mask(inputs[0], bundles: s.bundles) }
  }
}
