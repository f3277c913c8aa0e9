import SecAgg
import Testing

/// A malicious host carries every message between clients and the aggregator: each test is one
/// thing it tries, and shows it fail.
@Suite struct SecAggAttackTests {
  let inputs = SessionHarness.inputs(10, length: 16)

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
  }

  /// A cluster that sent bad shares (or none) and no update, named dropped: honest clients
  /// pass it over and still reveal for the others, so it cannot stop the round.
  @Test func aNeighbourThatNeverDealtIsPassedOver() throws {
    var s = try SessionHarness(clients: 8, degree: nil, threshold: 3, length: 16)
    s.advertise()
    try s.deal(except: [5])
    try s.mask(inputs)
    let revealed = try s.clients[0].unmask(survivors: s.survivors, dropped: [5])
    #expect(revealed.count == 6)
    #expect(!revealed.contains { $0.dealer == 5 })
  }

  @Test func aChangedCiphertextIsAForgedShare() throws {
    var s = try dealt()
    let holder = s.bundles[1].shares[0].holder
    s.bundles[1].shares[0].ciphertext[20] ^= 1
    #expect(throws: SecAggError.forgedShare(dealer: 1)) {
      try s.clients[holder].mask(inputs[holder], advertised: s.advertised, bundles: s.bundles)
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
      try s.clients[holder].mask(inputs[holder], advertised: s.advertised, bundles: s.bundles)
    }
  }

  @Test func aShareRedirectedToAnotherHolderIsForged() throws {
    var s = try dealt(degree: nil)
    // Client 2's share for client 3, relabelled as its share for client 4.
    let forThree = s.bundles[2].shares.firstIndex { $0.holder == 3 }!
    let forFour = s.bundles[2].shares.firstIndex { $0.holder == 4 }!
    s.bundles[2].shares[forFour].ciphertext = s.bundles[2].shares[forThree].ciphertext
    #expect(throws: SecAggError.forgedShare(dealer: 2)) {
      try s.clients[4].mask(inputs[4], advertised: s.advertised, bundles: s.bundles)
    }
  }

  @Test func aChangedShareCommitmentIsCaughtByItsHolder() throws {
    var s = try dealt()
    let holder = s.bundles[5].shares[1].holder
    s.bundles[5].shares[1].maskKeyShareCommitment[0] ^= 1
    #expect(throws: SecAggError.forgedShare(dealer: 5)) {
      try s.clients[holder].mask(inputs[holder], advertised: s.advertised, bundles: s.bundles)
    }
  }

  @Test func withholdingTheClientsOwnSharesIsRefused() throws {
    var s = try dealt()
    let others = s.bundles.filter { $0.dealer != 0 }
    #expect(throws: SecAggError.excluded("its shares are not among those dealt")) {
      try s.clients[0].mask(inputs[0], advertised: s.advertised, bundles: others)
    }
  }

  @Test func aChangedAdvertisementIsRefused() throws {
    let s = try SessionHarness(clients: 6, degree: nil, threshold: 2, length: 4)
    var swapped = s.clients.map(\.advertisement)
    swapped[0].maskKey = Array(repeating: 9, count: 32)
    #expect(throws: SecAggError.tamperedAdvertisement) { try s.clients[0].deal(swapped) }
  }

  /// One client's key copied into another's advertisement: both are left out (the order
  /// cannot tell the copy), by the same rule everywhere, and the rest go on.
  @Test func aCopiedKeyLeavesOutBothAndOnlyThem() throws {
    var s = try SessionHarness(clients: 6, degree: nil, threshold: 2, length: 4)
    s.advertise()
    s.advertised[2].shareKey = s.advertised[1].shareKey
    try s.deal(except: [1, 2])
    #expect(s.bundles.allSatisfy { b in b.shares.allSatisfy { ![1, 2].contains($0.holder) } })
    let inputs = SessionHarness.inputs(6, length: 4)
    try s.mask(inputs)
    try s.unmask()
    #expect(try s.sum().sum == SessionHarness.plainSum(inputs, of: [0, 3, 4, 5]))
  }

  /// The host changes an honest dealer's commitment to have it named as inconsistent: the
  /// dealer sees its own bundle altered and masks nothing, so it only drops out, and the
  /// others' sum is still exact.
  @Test func framingADealerOnlyDropsIt() throws {
    var s = try dealt(degree: nil)
    s.bundles[6].selfMaskCommitment[0] ^= 1
    #expect(throws: SecAggError.invalidMessage("its own shares were altered")) {
      try s.clients[6].mask(inputs[6], advertised: s.advertised, bundles: s.bundles)
    }
    try s.mask(inputs, except: [6])
    try s.unmask()
    let result = try s.sum()
    #expect(result.dropped == [6])
    #expect(result.sum == SessionHarness.plainSum(inputs, of: (0..<8).filter { $0 != 6 }))
  }

  /// Clients shown different bundle sets mask against different transcripts: the aggregator
  /// names the one that does not match its set instead of summing garbage.
  @Test func aMaskedInputAgainstAnotherSetIsRefusedByName() throws {
    var s = try dealt(degree: nil)
    try s.mask(inputs, except: [3])
    let hidden = s.bundles.filter { $0.dealer != 5 }
    s.masked.append(try s.clients[3].mask(inputs[3], advertised: s.advertised, bundles: hidden))
    #expect(throws: SecAggError.transcriptMismatch(client: 3)) { try s.sum() }
  }

  /// A dealer that leaves its neighbours out of its bundle (here, none at all) deals no bundle
  /// by everyone's rule: the others mask and unmask without it, and their sum is exact.
  @Test func aShortBundleLeavesOutOnlyItsDealer() throws {
    var s = try dealt(degree: nil)
    s.bundles[2].shares = []
    try s.mask(inputs, except: [2])
    try s.unmask()
    #expect(try s.sum().sum == SessionHarness.plainSum(inputs, of: [0, 1, 3, 4, 5, 6, 7]))
    var one = try dealt(degree: nil)
    one.bundles[5].shares.removeLast()
    try one.mask(inputs, except: [5])
    try one.unmask()
    #expect(try one.sum().sum == SessionHarness.plainSum(inputs, of: [0, 1, 2, 3, 4, 6, 7]))
  }

  /// A share entry for a client that is not the dealer's neighbour (here, added by the host
  /// with its own commitment) is not a valid bundle: the dealer is left out by everyone alike.
  @Test func aShareForANonNeighbourInvalidatesTheBundle() throws {
    var s = try dealt(clients: 10, degree: 2, threshold: 2)
    guard case .harary(let graph) = s.configuration.graph else { return }
    let stranger = (0..<10).first { $0 != 4 && !graph.areNeighbours(4, $0) }!
    var extra = s.bundles[4].shares[0]
    extra.holder = stranger
    s.bundles[4].shares.append(extra)
    #expect(throws: SecAggError.excluded("its shares are not among those dealt")) {
      try s.clients[4].mask(inputs[4], advertised: s.advertised, bundles: s.bundles)
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

  @Test func stagesRunInOrderAndOnce() throws {
    var s = try dealt()
    #expect(throws: SecAggError.self) { try s.clients[0].deal(s.advertised) }
    #expect(throws: SecAggError.self) { try s.clients[0].unmask(survivors: [0], dropped: []) }
    _ = try s.clients[0].mask(inputs[0], advertised: s.advertised, bundles: s.bundles)
    #expect(throws: SecAggError.self) {
      try s.clients[0].mask(inputs[0], advertised: s.advertised, bundles: s.bundles)
    }
  }
}
