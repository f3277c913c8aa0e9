import Aggregation
import Learning
import Ledger
import Records
import SecAgg

/// Privacy mode secagg, node side: the node unmasks the round's masked updates with the shares
/// the survivors revealed, learning only their sum, decodes it into the enclaves' fixed-point
/// mean, and endorses the result with its genesis node key. Every honest node reads the same
/// ledger, so every one computes the same statement; a round that cannot be unmasked (too few
/// shares, an inconsistent dealer, a masked update that does not decode) aborts with the same
/// reason on every node.
public final class SecAggAggregator: RoundAggregator {
  let key: SigningKey
  let network: Hash256
  /// The ledger's nodes and their block quorum, from genesis: who proves a round.
  let nodes: Set<PublicKey>
  let quorum: Int
  private var last:
    (round: UInt64, close: Hash256, verdict: AggregatorVerdict, statement: Hash256?, file: [UInt8])?

  public init(key: SigningKey, network: Hash256, nodes: Set<PublicKey>, quorum: Int) {
    self.key = key
    self.network = network
    self.nodes = nodes
    self.quorum = quorum
  }

  public func aggregate(_ round: ClosedRound) throws -> AggregatorVerdict {
    let closeHash = Hash256.of(round.close.transaction)
    if let last, last.close == closeHash { return last.verdict }
    let (proven, base) = try NodeRound.prove(
      round, nodes: nodes, quorum: quorum, network: network, after: last?.round)
    let close = proven.close
    guard close.updates.count == round.payloads.count,
      zip(close.updates, round.payloads).allSatisfy({ Hash256.of($1) == $0.payload })
    else {
      throw AggregatorError.invalidRound("the payloads are not the ones the round-close names")
    }
    guard let records = round.secagg else {
      throw AggregatorError.invalidRound(
        "round \(close.round)'s secure-aggregation messages are missing")
    }
    let verdict: AggregatorVerdict
    let file: [UInt8]
    do {
      (verdict, file) = try unmask(round, proven: proven, base: base, records: records)
    } catch let error as SecAggError {
      verdict = .tooFewUpdates("secure aggregation could not unmask round \(close.round): \(error)")
      file = []
    }
    if case .endorsed(let e, _, _) = verdict {
      last = (close.round, closeHash, verdict, e.statement.hash, file)
    } else {
      last = (close.round, closeHash, verdict, nil, [])
    }
    return verdict
  }

  private func unmask(
    _ round: ClosedRound, proven: ProvenRound, base: Model, records: SecAggRecords
  ) throws -> (AggregatorVerdict, [UInt8]) {
    let (close, open, rules) = (proven.close, proven.open, proven.rules)
    let index = Dictionary(
      open.participants.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
    let arithmetic = try SecAggArithmetic(
      rules: rules, cohort: open.participants.count, parameterCount: base.parameters.count)
    let configuration = try SecAggRound.configuration(
      roundOpen: round.open, open: open, arithmetic: arithmetic)
    let advertised = records.keys(index: index)
    let bundles = records.bundles(index: index)
    let revealed = records.revealed(index: index)
    let delta: [Int32]
    switch configuration.modulus {
    case .bits32:
      delta = try sum(
        UInt32.self, round, close, index, configuration, advertised, bundles, revealed, arithmetic)
    case .bits64:
      delta = try sum(
        UInt64.self, round, close, index, configuration, advertised, bundles, revealed, arithmetic)
    }
    let parameters = FixedPointAggregation(rules: rules).apply(delta, to: base.parameters)
    let model = try Model(architecture: base.architecture, parameters: parameters)
    guard let newModel = Hash256(hex: model.hash) else {
      throw AggregatorError.invalidRound("model hash \(model.hash) is not SHA-256")
    }
    let file = ModelFile.encode(model)
    let statement = AggregationStatement(
      round: close.round, baseModel: open.baseModel,
      accepted: close.updates.map { .init(update: $0.payload) }, rejected: [],
      rule: rules.ruleName, parameters: rules.statementParameters, newModel: newModel,
      newModelBlob: Hash256.of(file), newModelSize: UInt64(file.count))
    return (
      .endorsed(Endorsement(network: network, statement: statement, key: key), decisions: nil),
      file
    )
  }

  private func sum<W: MaskWord>(
    _: W.Type, _ round: ClosedRound, _ close: RoundClose, _ index: [String: Int],
    _ configuration: SecAggConfiguration, _ advertised: [AdvertisedKeys],
    _ bundles: [ShareBundle], _ revealed: [RevealedShare], _ arithmetic: SecAggArithmetic
  ) throws(SecAggError) -> [Int32] {
    var masked: [MaskedInput<W>] = []
    for (entry, payload) in zip(close.updates, round.payloads) {
      // A survivor's masked update must decode and be its own: without it, its neighbours'
      // pairwise masks with it cannot cancel.
      guard let input = try? MaskedInput<W>(canonical: payload),
        input.client == index[entry.cluster]
      else {
        throw .invalidMessage("\(entry.cluster)'s masked update does not decode as its own")
      }
      masked.append(input)
    }
    let total = try SecAggUnmasker.sum(
      configuration: configuration, advertised: advertised, bundles: bundles, masked: masked,
      revealed: revealed)
    return try arithmetic.delta(of: total.sum).delta
  }

  public func release(_ commit: InclusionProof) throws -> [UInt8] {
    try NodeRound.release(commit, endorsed: last?.statement, file: last?.file ?? [])
  }

  /// Evaluation reports are not masked in this mode (their counts go as in mode none).
  public func combine(_ evaluation: ClosedEvaluation) throws -> MetricVerdict {
    try ClearReports.combine(
      evaluation, network: network, nodes: nodes, quorum: quorum, key: key)
  }
}
