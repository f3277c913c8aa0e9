import Dispatch
import Federation
import Ledger
import Privacy
import Records
import SecAgg

/// A cluster's part of one round's secure aggregation: its SecAgg+ client, the round's
/// session and arithmetic, and what the ledger fixed so far.
struct SecAggSession {
  var round: UInt64
  var client: SecAggClient
  var arithmetic: SecAggArithmetic
  var index: [String: Int]
  var advertised: [AdvertisedKeys] = []
  var bundles: [ShareBundle] = []
}

/// Why a cluster takes no part in a secure-aggregation step.
public enum SecAggAgentError: Error, CustomStringConvertible {
  case notInRound(String)
  case refused(String)

  public var description: String {
    switch self {
    case .notInRound(let why): "takes no part in secure aggregation: \(why)"
    case .refused(let why): "will not send its update: it \(why)"
    }
  }
}

extension ClusterAgent {
  /// Stage 1 of round `open` (whose transaction bytes are `roundOpen`): a fresh SecAgg+
  /// client for the round, and its keys, signed.
  public func secaggKeys(roundOpen bytes: [UInt8], open: RoundOpen, parameterCount: Int) throws
    -> Transaction
  {
    guard let me = open.participants.firstIndex(of: name) else {
      throw SecAggAgentError.notInRound("\(name) is not among round \(open.round)'s participants")
    }
    let arithmetic = try SecAggArithmetic(
      rules: open.rules, cohort: open.participants.count, parameterCount: parameterCount)
    let configuration = try SecAggRound.configuration(
      roundOpen: bytes, open: open, arithmetic: arithmetic)
    let client = try SecAggClient(index: me, configuration: configuration)
    secagg = SecAggSession(
      round: open.round, client: client, arithmetic: arithmetic,
      index: Dictionary(
        open.participants.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }))
    return message(.keys, client.advertisement.canonicalBytes, round: open.round)
  }

  /// Stage 2: its shares, given the keys messages the ledger's keys-close fixed.
  public func secaggShares(_ keys: [(cluster: String, body: [UInt8])]) throws -> Transaction {
    guard var s = secagg else { throw SecAggAgentError.notInRound("no round's keys were made") }
    s.advertised = SecAggRecords(messages: [.keys: keys]).keys(index: s.index)
    let bundle = try s.client.deal(s.advertised)
    secagg = s
    return message(.shares, bundle.canonicalBytes, round: s.round)
  }

  /// Stage 3: `update` checked, clipped, weighted, encoded and masked, as its payload and
  /// commitment, given the shares messages the ledger's shares-close fixed.
  public func secaggSubmission(
    for update: ClusterUpdate, shares: [(cluster: String, body: [UInt8])]
  ) throws -> Submission {
    guard var s = secagg, UInt64(update.round) == s.round else {
      throw SecAggAgentError.notInRound("it holds no session for round \(update.round)")
    }
    guard update.cluster == id, Hash256(hex: update.baseModelHash) == base else {
      throw ClusterAgentError.unprovenBase("the update's base is not the one this cluster accepted")
    }
    var update = update
    update.devices = min(max(update.devices, 1), Int(enrolledDevices))
    onProtect?(update)
    let start = DispatchTime.now().uptimeNanoseconds
    s.bundles = SecAggRecords(messages: [.shares: shares]).bundles(index: s.index)
    let payload: [UInt8]
    switch s.arithmetic.encoding.modulus {
    case .bits32: payload = try masked(UInt32.self, update, s)
    case .bits64: payload = try masked(UInt64.self, update, s)
    }
    secagg = s
    protectingNanoseconds += DispatchTime.now().uptimeNanoseconds - start
    let commitment = Transaction.commitment(
      UpdateCommitment(
        network: network, round: s.round, cluster: name, payload: Hash256.of(payload),
        payloadSize: UInt64(payload.count), clusterKey: key))
    return Submission(payload: payload, commitment: commitment)
  }

  private func masked<W: MaskWord>(_: W.Type, _ update: ClusterUpdate, _ s: SecAggSession) throws
    -> [UInt8]
  {
    let words: [W]
    switch s.arithmetic.encode(
      update.delta, sampleCount: UInt64(max(update.sampleCount, 0)),
      devices: UInt32(update.devices), as: W.self)
    {
    case .success(let encoded): words = encoded.words
    case .failure(let refusal): throw SecAggAgentError.refused(refusal.reason)
    }
    return try s.client.mask(words, advertised: s.advertised, bundles: s.bundles).canonicalBytes
  }

  /// Stage 4: the shares it reveals, given the round-close's survivors and the clusters that
  /// dealt but sent no update.
  public func secaggReveal(survivors: [String], dropped: [String]) throws -> Transaction {
    guard let s = secagg else { throw SecAggAgentError.notInRound("it holds no session") }
    let revealed = try s.client.unmask(
      survivors: survivors.compactMap { s.index[$0] }, dropped: dropped.compactMap { s.index[$0] })
    return message(.reveals, SecAggRound.body(revealed), round: s.round)
  }

  private func message(_ stage: SecAggStage, _ body: [UInt8], round: UInt64) -> Transaction {
    .secaggMessage(
      SecAggMessage(
        network: network, round: round, cluster: name, stage: stage, body: body, clusterKey: key))
  }
}
