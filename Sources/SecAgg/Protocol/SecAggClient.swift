import Crypto
import Foundation
import Synchronization

/// One client's side of a SecAgg+ session, a stage at a time: advertise two keys, deal shares
/// of its two secrets to its neighbours, mask its input, and reveal, for each neighbour, the
/// one secret the unmasking needs: the self-mask seed of a survivor or the masking key of a
/// dropped client, never both, and only once.
///
/// Everything it receives comes through the host, so it checks each message against what it
/// already knows; a message that fails a check ends its session. Who sent each message is not
/// its concern: the ledger (each message signed by its cluster's enrolled key, one set for
/// everyone) must settle that before a message reaches it.
///
/// A class, its stage behind a lock: no copy of a client can answer a stage twice.
public final class SecAggClient: Sendable {
  public let index: Int
  public let configuration: SecAggConfiguration
  public let advertisement: AdvertisedKeys

  private let shareKey: Curve25519.KeyAgreement.PrivateKey
  private let maskKey: Curve25519.KeyAgreement.PrivateKey
  private let selfMaskSeed: [UInt8]
  private let state = Mutex(State())

  private struct State {
    var stage = Stage.advertised
    /// Neighbours that advertised keys, and the key each pair encrypts shares under.
    var neighbours: [Int: AdvertisedKeys] = [:]
    var shareKeys: [Int: SymmetricKey] = [:]
    /// Clients that advertised.
    var advertisers: Set<Int> = []
    /// The bundle this client dealt, to be found unchanged among the dealt.
    var dealt: ShareBundle?
    /// The shares this client holds, by dealer.
    var held: [Int: SharePlaintext] = [:]
    /// What the masked input was computed against.
    var transcript: [UInt8] = []
  }

  private enum Stage { case advertised, dealt, masked, unmasked }

  /// A new client with fresh keys and a fresh self-mask seed, from the system's CSPRNG.
  public init(index: Int, configuration: SecAggConfiguration) throws(SecAggError) {
    guard (0..<configuration.clients).contains(index) else {
      throw .invalidConfiguration("client \(index) is not in a cohort of \(configuration.clients)")
    }
    self.index = index
    self.configuration = configuration
    shareKey = Curve25519.KeyAgreement.PrivateKey()
    maskKey = Curve25519.KeyAgreement.PrivateKey()
    selfMaskSeed = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    advertisement = AdvertisedKeys(
      client: index, shareKey: Array(shareKey.publicKey.rawRepresentation),
      maskKey: Array(maskKey.publicKey.rawRepresentation))
  }

  /// Stage 2: given the keys every client advertised, one share of each secret for each
  /// neighbour among them, encrypted to it.
  public func deal(_ advertised: [AdvertisedKeys]) throws(SecAggError) -> ShareBundle {
    try state.withLock { (s) throws(SecAggError) -> ShareBundle in
      guard s.stage == .advertised else {
        throw .outOfOrder("shares are dealt once, after advertising")
      }
      let byClient = Validation.advertisements(advertised, clients: configuration.clients)
      guard let mine = byClient[index] else {
        throw .excluded("its keys are not among those advertised")
      }
      guard mine == advertisement else { throw .tamperedAdvertisement }
      let present = configuration.graph.neighbours(of: index).filter { byClient[$0] != nil }
      guard present.count >= configuration.threshold else {
        throw .belowThreshold(client: index, have: present.count, need: configuration.threshold)
      }
      let bundle = try makeBundle(for: present.map { byClient[$0]! })
      s.advertisers = Set(byClient.keys)
      s.neighbours = Dictionary(uniqueKeysWithValues: present.map { ($0, byClient[$0]!) })
      s.shareKeys = bundle.keys
      s.dealt = bundle.bundle
      s.stage = .dealt
      return bundle.bundle
    }
  }

  private func makeBundle(for holders: [AdvertisedKeys]) throws(SecAggError)
    -> (bundle: ShareBundle, keys: [Int: SymmetricKey])
  {
    let session = configuration.session
    let points = holders.map { UInt32($0.client + 1) }
    let seedShares: [ShamirShare]
    let keyShares: [ShamirShare]
    do {
      seedShares = try Shamir.split(
        selfMaskSeed, threshold: configuration.threshold, points: points)
      keyShares = try Shamir.split(
        Array(maskKey.rawRepresentation), threshold: configuration.threshold, points: points)
    } catch {
      throw .invalidConfiguration("cannot share: \(error)")
    }
    var shares: [EncryptedShare] = []
    var keys: [Int: SymmetricKey] = [:]
    for (n, keysOfHolder) in holders.enumerated() {
      let holder = keysOfHolder.client
      let key = try pairShareKey(with: keysOfHolder)
      keys[holder] = key
      let nonce = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
      let plaintext = SharePlaintext(
        dealer: index, holder: holder, nonce: nonce, selfMaskShare: seedShares[n].value,
        maskKeyShare: keyShares[n].value)
      let sealed: ChaChaPoly.SealedBox
      do {
        sealed = try ChaChaPoly.seal(
          plaintext.encoded, using: key,
          authenticating: Derivation.shareAssociatedData(
            session: session, dealer: index, holder: holder))
      } catch {
        throw .invalidConfiguration("cannot encrypt a share: \(error)")
      }
      shares.append(
        EncryptedShare(
          dealer: index, holder: holder, ciphertext: Array(sealed.combined),
          selfMaskShareCommitment: Derivation.shareCommitment(
            .selfMaskSeed, session: session, dealer: index, holder: holder, nonce: nonce,
            value: seedShares[n].value),
          maskKeyShareCommitment: Derivation.shareCommitment(
            .maskKey, session: session, dealer: index, holder: holder, nonce: nonce,
            value: keyShares[n].value)))
    }
    let bundle = ShareBundle(
      dealer: index,
      selfMaskCommitment: Derivation.selfMaskCommitment(
        seed: selfMaskSeed, session: session, client: index),
      shares: shares)
    return (bundle, keys)
  }

  /// Stage 3: given every client's advertised keys and dealt bundle (the same sets every
  /// client and the aggregator see), opens the shares dealt to this client and returns `input`
  /// masked with its self mask and a pairwise mask for each neighbour that dealt, bound to a
  /// transcript of those sets.
  public func mask<W: MaskWord>(
    _ input: [W], advertised: [AdvertisedKeys], bundles: [ShareBundle]
  ) throws(SecAggError) -> MaskedInput<W> {
    guard W.bitWidth == configuration.modulus.rawValue else {
      throw .invalidConfiguration(
        "the session sums modulo 2^\(configuration.modulus.rawValue), not 2^\(W.bitWidth)")
    }
    guard input.count == configuration.length else {
      throw .lengthMismatch(client: index, expected: configuration.length, got: input.count)
    }
    // Opened under the lock, committed only once every check passed.
    let (held, transcript) = try state.withLock {
      (s) throws(SecAggError) -> ([Int: SharePlaintext], [UInt8]) in
      guard s.stage == .dealt else { throw .outOfOrder("an input is masked once, after dealing") }
      let byClient = Validation.advertisements(advertised, clients: configuration.clients)
      guard Set(byClient.keys) == s.advertisers else {
        throw .invalidMessage("the advertised keys are not those shares were dealt on")
      }
      // Only its own and its neighbours' bundles concern it (each is judged on its own).
      let concerned = Set(s.neighbours.keys).union([index])
      let byDealer = Validation.bundles(
        bundles.filter { concerned.contains($0.dealer) }, graph: configuration.graph,
        advertisers: s.advertisers)
      guard let mine = byDealer[index] else {
        throw .excluded("its shares are not among those dealt")
      }
      guard mine == s.dealt else { throw .invalidMessage("its own shares were altered") }
      var held: [Int: SharePlaintext] = [:]
      for (dealer, keys) in s.neighbours.sorted(by: { $0.key < $1.key }) {
        guard let bundle = byDealer[dealer] else { continue }
        guard let share = bundle.shares.first(where: { $0.holder == index }) else {
          throw .missingShare(dealer: dealer)
        }
        held[dealer] = try open(share, from: keys, key: s.shareKeys[dealer])
      }
      guard held.count >= configuration.threshold else {
        throw .belowThreshold(client: index, have: held.count, need: configuration.threshold)
      }
      let transcript = SecAggTranscript.hash(
        session: configuration.session, client: index, graph: configuration.graph,
        keys: byClient, dealt: SecAggTranscript.bundleHashes(byDealer))
      s.held = held
      s.transcript = transcript
      s.stage = .masked
      return (held, transcript)
    }
    var masked = input
    MaskStream.apply(
      Derivation.selfMaskKey(seed: selfMaskSeed, session: configuration.session, client: index),
      to: &masked)
    let neighbours = state.withLock { $0.neighbours }
    for dealer in held.keys.sorted() {
      let key: SymmetricKey
      do {
        key = try Derivation.pairKey(
          maskKey, .init(rawRepresentation: neighbours[dealer]!.maskKey),
          session: configuration.session, purpose: "pairwise-mask", between: index, and: dealer)
      } catch {
        throw .invalidMessage("client \(dealer)'s masking key: \(error)")
      }
      // The lower-numbered client of a pair adds the mask, the higher subtracts it.
      MaskStream.apply(key, to: &masked, negate: index > dealer)
    }
    return MaskedInput(client: index, transcript: transcript, vector: masked)
  }

  /// Stage 4: for each neighbour whose share this client holds, the share of its self-mask
  /// seed if it is named a survivor, or of its masking key if it is named dropped. Refuses a
  /// request that names a client as both, leaves this client out of the survivors, or leaves it
  /// fewer than t surviving neighbours. Answers once.
  public func unmask(survivors: [Int], dropped: [Int]) throws(SecAggError) -> [RevealedShare] {
    try state.withLock { (s) throws(SecAggError) -> [RevealedShare] in
      switch s.stage {
      case .unmasked: throw .alreadyUnmasked
      case .masked: break
      case .advertised, .dealt: throw .outOfOrder("unmasking comes after masking")
      }
      let alive = Set(survivors)
      let gone = Set(dropped)
      guard alive.count == survivors.count, gone.count == dropped.count else {
        throw .invalidMessage("a client is named twice in the unmasking request")
      }
      if let both = alive.intersection(gone).min() { throw .bothSecretsRequested(client: both) }
      guard alive.contains(index) else { throw .excluded("it is not among the survivors") }
      // A named client it holds no valid share of (it never dealt one this client could open,
      // or is no neighbour) is passed over: there is nothing to reveal for it, and refusing
      // would let one cluster's bad shares stop every honest reveal.
      let survivingNeighbours = s.held.keys.filter(alive.contains).count
      guard survivingNeighbours >= configuration.threshold else {
        throw .belowThreshold(
          client: index, have: survivingNeighbours, need: configuration.threshold)
      }
      s.stage = .unmasked
      return s.held.keys.sorted().compactMap { dealer in
        let share = s.held[dealer]!
        if alive.contains(dealer) {
          return RevealedShare(
            dealer: dealer, holder: index, secret: .selfMaskSeed, nonce: share.nonce,
            value: share.selfMaskShare)
        }
        if gone.contains(dealer) {
          return RevealedShare(
            dealer: dealer, holder: index, secret: .maskKey, nonce: share.nonce,
            value: share.maskKeyShare)
        }
        return nil
      }
    }
  }

  private func pairShareKey(with keys: AdvertisedKeys) throws(SecAggError) -> SymmetricKey {
    do {
      return try Derivation.pairKey(
        shareKey, .init(rawRepresentation: keys.shareKey), session: configuration.session,
        purpose: "share-encryption", between: index, and: keys.client)
    } catch {
      throw .invalidMessage("client \(keys.client)'s share key: \(error)")
    }
  }

  /// Opens a share dealt to this client and checks it against the dealer's commitments.
  private func open(_ share: EncryptedShare, from dealer: AdvertisedKeys, key: SymmetricKey?)
    throws(SecAggError) -> SharePlaintext
  {
    let d = dealer.client
    guard let key,
      let box = try? ChaChaPoly.SealedBox(combined: share.ciphertext),
      let bytes = try? ChaChaPoly.open(
        box, using: key,
        authenticating: Derivation.shareAssociatedData(
          session: configuration.session, dealer: d, holder: index)),
      let plaintext = SharePlaintext(decoding: Array(bytes)),
      plaintext.dealer == d, plaintext.holder == index,
      share.selfMaskShareCommitment
        == Derivation.shareCommitment(
          .selfMaskSeed, session: configuration.session, dealer: d, holder: index,
          nonce: plaintext.nonce, value: plaintext.selfMaskShare),
      share.maskKeyShareCommitment
        == Derivation.shareCommitment(
          .maskKey, session: configuration.session, dealer: d, holder: index,
          nonce: plaintext.nonce, value: plaintext.maskKeyShare)
    else { throw .forgedShare(dealer: d) }
    return plaintext
  }
}
