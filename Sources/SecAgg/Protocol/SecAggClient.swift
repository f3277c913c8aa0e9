import Crypto
import Foundation

/// One client's side of a SecAgg+ session, a stage at a time: advertise two keys, deal shares
/// of its two secrets to its neighbours, mask its input, and reveal, for each neighbour, the
/// one secret the unmasking needs: the self-mask seed of a survivor or the masking key of a
/// dropped client, never both, and only once.
///
/// Everything it receives comes through the host (the ledger in FedLedger), so it checks each
/// message against what it already knows; a message that fails a check ends its session.
public struct SecAggClient: Sendable {
  public let index: Int
  public let configuration: SecAggConfiguration
  public let advertisement: AdvertisedKeys

  private let shareKey: Curve25519.KeyAgreement.PrivateKey
  private let maskKey: Curve25519.KeyAgreement.PrivateKey
  private let selfMaskSeed: [UInt8]
  private var stage = Stage.advertised
  /// Neighbours that advertised keys, and the key each pair encrypts shares under.
  private var neighbours: [Int: AdvertisedKeys] = [:]
  private var shareKeys: [Int: SymmetricKey] = [:]
  /// Clients that advertised, and clients that dealt.
  private var advertisers: Set<Int> = []
  private var dealers: Set<Int> = []
  /// The shares this client holds, by dealer.
  private var held: [Int: SharePlaintext] = [:]

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
  public mutating func deal(_ advertised: [AdvertisedKeys]) throws(SecAggError) -> ShareBundle {
    guard stage == .advertised else {
      throw .outOfOrder("shares are dealt once, after advertising")
    }
    let byClient = try Validation.advertisements(advertised, clients: configuration.clients)
    guard let mine = byClient[index] else {
      throw .excluded("its keys are not among those advertised")
    }
    guard mine == advertisement else { throw .tamperedAdvertisement }
    advertisers = Set(byClient.keys)
    let present = configuration.graph.neighbours(of: index).filter { byClient[$0] != nil }
    guard present.count >= configuration.threshold else {
      throw .belowThreshold(client: index, have: present.count, need: configuration.threshold)
    }
    let session = configuration.session
    let points = present.map { UInt32($0 + 1) }
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
    for (n, holder) in present.enumerated() {
      let keys = byClient[holder]!
      neighbours[holder] = keys
      let key = try pairShareKey(with: keys)
      shareKeys[holder] = key
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
    stage = .dealt
    return ShareBundle(
      dealer: index,
      selfMaskCommitment: Derivation.selfMaskCommitment(
        seed: selfMaskSeed, session: session, client: index),
      shares: shares)
  }

  /// Stage 3: given every dealer's bundle, opens the shares dealt to this client and returns
  /// `input` masked with its self mask and a pairwise mask for each neighbour that dealt.
  public mutating func mask<W: MaskWord>(_ input: [W], bundles: [ShareBundle])
    throws(SecAggError) -> [W]
  {
    guard stage == .dealt else { throw .outOfOrder("an input is masked once, after dealing") }
    guard W.bitWidth == configuration.modulus.rawValue else {
      throw .invalidConfiguration(
        "the session sums modulo 2^\(configuration.modulus.rawValue), not 2^\(W.bitWidth)")
    }
    guard input.count == configuration.length else {
      throw .lengthMismatch(client: index, expected: configuration.length, got: input.count)
    }
    let byDealer = try Validation.bundles(bundles, advertisers: advertisers)
    guard byDealer[index] != nil else { throw .excluded("its shares are not among those dealt") }
    dealers = Set(byDealer.keys)
    for (dealer, keys) in neighbours.sorted(by: { $0.key < $1.key }) {
      guard let bundle = byDealer[dealer] else { continue }
      guard let share = bundle.shares.first(where: { $0.holder == index }) else {
        throw .missingShare(dealer: dealer)
      }
      held[dealer] = try open(share, from: keys)
    }
    guard held.count >= configuration.threshold else {
      throw .belowThreshold(client: index, have: held.count, need: configuration.threshold)
    }
    var masked = input
    MaskStream.apply(
      Derivation.selfMaskKey(seed: selfMaskSeed, session: configuration.session, client: index),
      to: &masked)
    for dealer in held.keys.sorted() {
      let theirs: Curve25519.KeyAgreement.PublicKey
      let key: SymmetricKey
      do {
        theirs = try .init(rawRepresentation: neighbours[dealer]!.maskKey)
        key = try Derivation.pairKey(
          maskKey, theirs, session: configuration.session, purpose: "pairwise-mask",
          between: index, and: dealer)
      } catch {
        throw .invalidMessage("client \(dealer)'s masking key: \(error)")
      }
      // The lower-numbered client of a pair adds the mask, the higher subtracts it.
      MaskStream.apply(key, to: &masked, negate: index > dealer)
    }
    stage = .masked
    return masked
  }

  /// Stage 4: for each neighbour whose share this client holds, the share of its self-mask
  /// seed if it is named a survivor, or of its masking key if it is named dropped. Refuses a
  /// request that names a client as both, leaves this client out of the survivors, names a
  /// client that did not deal, or leaves it fewer than t surviving neighbours.
  public mutating func unmask(survivors: [Int], dropped: [Int]) throws(SecAggError)
    -> [RevealedShare]
  {
    switch stage {
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
    if let stranger = alive.union(gone).subtracting(dealers).min() {
      throw .invalidMessage("client \(stranger) is named but did not deal shares")
    }
    let survivingNeighbours = held.keys.filter(alive.contains).count
    guard survivingNeighbours >= configuration.threshold else {
      throw .belowThreshold(
        client: index, have: survivingNeighbours, need: configuration.threshold)
    }
    stage = .unmasked
    return held.keys.sorted().compactMap { dealer in
      let share = held[dealer]!
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
  private func open(_ share: EncryptedShare, from dealer: AdvertisedKeys) throws(SecAggError)
    -> SharePlaintext
  {
    let d = dealer.client
    guard let key = shareKeys[d],
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
