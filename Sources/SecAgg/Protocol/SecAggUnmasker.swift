import Crypto

/// The sum of the surviving clients' inputs, and who survived and who dropped.
public struct SecAggSum<W: MaskWord>: Sendable {
  public var sum: [W]
  public var survivors: [Int]
  /// Clients that dealt shares but sent no masked input: their pairwise masks were removed.
  public var dropped: [Int]
}

/// The aggregator's side of SecAgg+ (in FedLedger, each enclave's, over what the ledger holds):
/// from the advertised keys, the dealt bundles, the masked inputs and the revealed shares, the
/// sum of the survivors' inputs. It learns nothing else: each survivor's self mask and each
/// dropped client's pairwise masks are all it can remove.
///
/// Every revealed share is checked against the commitment its dealer made, and every recovered
/// secret against the dealer's commitment to it, so a forged share is ignored and a dealer
/// whose shares disagree is named. The first t valid shares by holder are used, so every
/// aggregator recovers the same secrets from the same messages.
public enum SecAggUnmasker {
  public static func sum<W: MaskWord>(
    configuration c: SecAggConfiguration, advertised: [AdvertisedKeys], bundles: [ShareBundle],
    masked: [MaskedInput<W>], revealed: [RevealedShare]
  ) throws(SecAggError) -> SecAggSum<W> {
    guard W.bitWidth == c.modulus.rawValue else {
      throw .invalidConfiguration(
        "the session sums modulo 2^\(c.modulus.rawValue), not 2^\(W.bitWidth)")
    }
    let keys = Validation.advertisements(advertised, clients: c.clients)
    let dealt = Validation.bundles(bundles, graph: c.graph, advertisers: Set(keys.keys))
    let bundleHashes = SecAggTranscript.bundleHashes(dealt)
    var total = [W](repeating: 0, count: c.length)
    var survivors = Set<Int>()
    for input in masked {
      let client = input.client
      guard dealt[client] != nil else {
        throw .invalidMessage("client \(client) sent a masked input but dealt no valid shares")
      }
      guard survivors.insert(client).inserted else {
        throw .invalidMessage("client \(client) sent two masked inputs")
      }
      guard input.vector.count == c.length else {
        throw .lengthMismatch(client: client, expected: c.length, got: input.vector.count)
      }
      guard
        input.transcript
          == SecAggTranscript.hash(
            session: c.session, client: client, graph: c.graph, keys: keys, dealt: bundleHashes)
      else { throw .transcriptMismatch(client: client) }
      total.withUnsafeMutableBytes { t in
        input.vector.withUnsafeBytes { v in
          WordArithmetic.combine(t, v, width: W.bitWidth, subtract: false)
        }
      }
    }
    guard !survivors.isEmpty else { throw .invalidMessage("no client sent a masked input") }
    let dropped = Set(dealt.keys).subtracting(survivors)

    // The valid revealed shares, by dealer, each holder once: from survivors only, of the
    // secret the dealer's fate calls for, matching the dealer's commitment.
    // Each bundle's entries by holder, so a reveal finds its commitment at once.
    let entries = dealt.mapValues { b in
      Dictionary(b.shares.map { ($0.holder, $0) }, uniquingKeysWith: { a, _ in a })
    }
    var shares: [Int: [Int: ShamirShare]] = [:]
    for r in revealed {
      guard survivors.contains(r.holder), let entry = entries[r.dealer]?[r.holder],
        r.secret == (survivors.contains(r.dealer) ? .selfMaskSeed : .maskKey),
        r.value.count == Shamir.shareBytes
      else { continue }
      let committed =
        r.secret == .selfMaskSeed ? entry.selfMaskShareCommitment : entry.maskKeyShareCommitment
      guard
        committed
          == Derivation.shareCommitment(
            r.secret, session: c.session, dealer: r.dealer, holder: r.holder, nonce: r.nonce,
            value: r.value)
      else { continue }
      shares[r.dealer, default: [:]][r.holder] = ShamirShare(
        point: UInt32(r.holder + 1), value: r.value)
    }

    for client in survivors.sorted() {
      let seed = try recover(client, from: shares[client], threshold: c.threshold)
      guard
        Derivation.selfMaskCommitment(seed: seed, session: c.session, client: client)
          == dealt[client]!.selfMaskCommitment
      else { throw .inconsistentDealer(client) }
      MaskStream.apply(
        Derivation.selfMaskKey(seed: seed, session: c.session, client: client), to: &total,
        negate: true)
    }
    for client in dropped.sorted() {
      // Only surviving neighbours masked against it: with none, there is nothing to remove.
      let masking = c.graph.neighbours(of: client).filter(survivors.contains)
      guard !masking.isEmpty else { continue }
      let raw = try recover(client, from: shares[client], threshold: c.threshold)
      guard let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw),
        Array(key.publicKey.rawRepresentation) == keys[client]!.maskKey
      else { throw .inconsistentDealer(client) }
      // Each surviving neighbour masked against it: remove that mask.
      for neighbour in masking {
        let pair: SymmetricKey
        do {
          pair = try Derivation.pairKey(
            key, .init(rawRepresentation: keys[neighbour]!.maskKey), session: c.session,
            purpose: "pairwise-mask", between: client, and: neighbour)
        } catch {
          throw .invalidMessage("client \(neighbour)'s masking key: \(error)")
        }
        MaskStream.apply(pair, to: &total, negate: !(neighbour > client))
      }
    }
    return SecAggSum(sum: total, survivors: survivors.sorted(), dropped: dropped.sorted())
  }

  private static func recover(_ dealer: Int, from shares: [Int: ShamirShare]?, threshold: Int)
    throws(SecAggError) -> [UInt8]
  {
    let valid = (shares ?? [:]).sorted { $0.key < $1.key }.map(\.value)
    guard valid.count >= threshold else {
      throw .belowThreshold(client: dealer, have: valid.count, need: threshold)
    }
    do {
      return try Shamir.combine(valid, threshold: threshold)
    } catch {
      throw .inconsistentDealer(dealer)
    }
  }
}
