import Canonical
import Crypto
import Records
import SecAgg

/// A round's SecAgg+ session as every cluster and aggregator derives it from the round-open
/// the ledger holds: its participants, in (sorted) order, are the clients; its hash fixes the
/// session; the round, base model and cohort fix the graph's seed (so no one steers who
/// neighbours whom once the cohort is chosen); the cohort's size and genesis's rates fix k and
/// t.
public enum SecAggRound {
  public static func configuration(
    roundOpen bytes: [UInt8], open: RoundOpen, arithmetic: SecAggArithmetic
  ) throws(SecAggError) -> SecAggConfiguration {
    guard let rules = open.rules.secureAggregation else {
      throw .invalidConfiguration("round \(open.round) does not run secure aggregation")
    }
    let n = open.participants.count
    guard n >= 2 else {
      throw .invalidConfiguration("round \(open.round) names \(n) participant(s); at least 2")
    }
    let openHash = Array(SHA256.hash(data: bytes))
    let session = Array(SHA256.hash(data: Array("fedledger/secagg/session".utf8) + openHash))
    // The graph's seed from what the round's coordinator cannot vary once it chose the cohort
    // (the round, its base model, the sorted participants): not the round-open's hash, which
    // it could grind through settings until colluders surround a victim.
    var w = CanonicalWriter()
    w.u64(open.round)
    w.hash(open.baseModel)
    w.list(open.participants) { $0.string($1) }
    let seed = Array(SHA256.hash(data: Array("fedledger/secagg/graph".utf8) + w.bytes))
    let adversary: SecAggAdversary =
      rules.adversary == .curiousServer ? .curiousServer : .semiMaliciousServer
    var graph = NeighbourGraph.full(clients: n)
    // The full graph's threshold: half a client's neighbours, rounded up (Bonawitz et al.'s
    // honest majority), and more than the corrupt clients, at least 2; against a
    // semi-malicious server, more than half of the neighbours and the corrupt together. Half
    // of the cohort may then drop out, and no fewer than half its members can collude.
    let corrupt = Int(rules.corruptRate * Double(n))
    var threshold =
      adversary == .semiMaliciousServer
      ? (n - 1 + corrupt) / 2 + 1 : max(2, corrupt + 1, n / 2)
    // A cohort so small that the rates round to no corrupt or no dropped client is outside
    // what the finder's bounds speak of (it would give k = 2): it gets the full graph, which
    // costs little there.
    let sized = Int(rules.corruptRate * Double(n)) >= 1 && Int(rules.dropoutRate * Double(n)) >= 1
    if rules.graph == .harary, sized,
      let found = try? HararyParameters.find(
        clients: n, corrupt: rules.corruptRate, dropout: rules.dropoutRate, against: adversary),
      found.degree < n - 1, found.threshold >= 2
    {
      graph = .harary(try HararyGraph.random(clients: n, degree: found.degree, seed: seed))
      threshold = found.threshold
    }
    return try SecAggConfiguration(
      session: session, graph: graph, threshold: min(threshold, graph.degree),
      length: arithmetic.length, modulus: arithmetic.encoding.modulus)
  }

  /// A reveals message's body: the revealed shares, as a list.
  public static func body(_ revealed: [RevealedShare]) -> [UInt8] {
    var w = CanonicalWriter()
    w.list(revealed) { $1.encode(to: &$0) }
    return w.bytes
  }

  public static func revealed(_ body: [UInt8]) throws(CanonicalDecodingError) -> [RevealedShare] {
    var r = CanonicalReader(body)
    let list = try r.list("secagg revealed shares") { r throws(CanonicalDecodingError) in
      try RevealedShare(from: &r)
    }
    try r.finish()
    return list
  }
}

/// A round's secure-aggregation messages as the ledger's stage-closes fix them: each stage's
/// senders and bodies, in ledger order.
public struct SecAggRecords: Sendable {
  public var messages: [SecAggStage: [(cluster: String, body: [UInt8])]]

  public init(messages: [SecAggStage: [(cluster: String, body: [UInt8])]]) {
    self.messages = messages
  }

  /// The keys and bundles each sender sent about itself (a message naming another client than
  /// its sender's number is left out), for the session's clients.
  public func keys(index: [String: Int]) -> [AdvertisedKeys] {
    own(.keys, index) { (k: AdvertisedKeys) in k.client }
  }

  public func bundles(index: [String: Int]) -> [ShareBundle] {
    own(.shares, index) { (b: ShareBundle) in b.dealer }
  }

  public func revealed(index: [String: Int]) -> [RevealedShare] {
    (messages[.reveals] ?? []).flatMap { m -> [RevealedShare] in
      guard let list = try? SecAggRound.revealed(m.body) else { return [] }
      return list.filter { $0.holder == index[m.cluster] }
    }
  }

  /// The bodies of `stage` that decode as `T` about their own sender.
  private func own<T: CanonicalCodable>(
    _ stage: SecAggStage, _ index: [String: Int], _ client: (T) -> Int
  ) -> [T] {
    (messages[stage] ?? []).compactMap { m in
      guard let value = try? T(canonical: m.body), client(value) == index[m.cluster] else {
        return nil
      }
      return value
    }
  }
}
