import Canonical
import Crypto

/// The checks every party makes on the sets of messages it is handed. A message that breaks a
/// rule is left out, by the same rule for everyone, so one bad message costs only its sender
/// (and whoever it copied) the round, never the whole cohort.
enum Validation {
  /// The advertisements by client: clients in the cohort with 32-byte keys, each client's
  /// first advertisement only, and none whose key another advertisement also carries (a
  /// copied key would pair a client with a stranger's key; both are left out, since the order
  /// does not tell which is the copy).
  static func advertisements(_ advertised: [AdvertisedKeys], clients: Int) -> [Int: AdvertisedKeys]
  {
    var byClient: [Int: AdvertisedKeys] = [:]
    var uses: [[UInt8]: Int] = [:]
    for a in advertised
    where (0..<clients).contains(a.client) && a.shareKey.count == 32 && a.maskKey.count == 32
      && byClient[a.client] == nil
    {
      byClient[a.client] = a
      uses[a.shareKey, default: 0] += 1
      uses[a.maskKey, default: 0] += 1
    }
    return byClient.filter { uses[$0.value.shareKey] == 1 && uses[$0.value.maskKey] == 1 }
  }

  /// The bundles by dealer: each from a client that advertised, its first only, whose shares
  /// all name it as dealer, go to exactly its advertising neighbours, once each, and carry
  /// 32-byte commitments. A bundle that leaves a neighbour out is no bundle: that neighbour
  /// could not mask against its dealer, so one short bundle would stop every neighbour.
  static func bundles(_ bundles: [ShareBundle], graph: NeighbourGraph, advertisers: Set<Int>)
    -> [Int: ShareBundle]
  {
    var byDealer: [Int: ShareBundle] = [:]
    for b in bundles where advertisers.contains(b.dealer) && byDealer[b.dealer] == nil {
      var holders = Set<Int>()
      let wellFormed =
        b.selfMaskCommitment.count == 32
        && b.shares.allSatisfy { s in
          s.dealer == b.dealer && advertisers.contains(s.holder)
            && graph.areNeighbours(b.dealer, s.holder) && holders.insert(s.holder).inserted
            && s.selfMaskShareCommitment.count == 32 && s.maskKeyShareCommitment.count == 32
        }
      let owed = graph.neighbours(of: b.dealer).filter(advertisers.contains).count
      if wellFormed && holders.count == owed { byDealer[b.dealer] = b }
    }
    return byDealer
  }
}

/// What one client's masked input was computed against: the session, the client, and for
/// each neighbour that advertised valid keys, those keys and the hash of its valid bundle, if
/// it dealt one. A masked input computed against another view than the aggregator's would not
/// cancel; the aggregator refuses it by name. O(k) per client, never O(N).
enum SecAggTranscript {
  static func hash(
    session: [UInt8], client: Int, graph: NeighbourGraph, keys: [Int: AdvertisedKeys],
    dealt: [Int: [UInt8]]
  ) -> [UInt8] {
    var w = CanonicalWriter()
    w.fixed(session)
    w.u32(UInt32(client))
    for j in graph.neighbours(of: client) {
      guard let k = keys[j] else { continue }
      k.encode(to: &w)
      w.optional(dealt[j]) { w, hash in w.fixed(hash) }
    }
    var h = SHA256()
    h.update(data: Derivation.label("transcript"))
    h.update(data: w.bytes)
    return Array(h.finalize())
  }

  /// Each bundle's hash, by dealer: computed once, named by every neighbour's transcript.
  static func bundleHashes(_ dealt: [Int: ShareBundle]) -> [Int: [UInt8]] {
    dealt.mapValues { Array(SHA256.hash(data: $0.canonicalBytes)) }
  }
}

/// Stage 3's output: a client's masked input and the transcript it was computed against.
public struct MaskedInput<W: MaskWord>: Equatable, Sendable {
  public var client: Int
  public var transcript: [UInt8]
  public var vector: [W]

  public init(client: Int, transcript: [UInt8], vector: [W]) {
    self.client = client
    self.transcript = transcript
    self.vector = vector
  }
}
