import Records

extension RoundState {
  /// The model commit the ledger takes for this round now, if any: the statement at least
  /// `threshold` distinct genesis endorsers signed, naming one endorsement per endorser (its
  /// smallest transaction hash), sorted. Every node reading the same ledger proposes the same
  /// bytes, so the log orders one commit however many nodes propose it.
  public func commitCandidate(threshold: Int) -> ModelCommit? {
    guard close != nil, commit == nil, abort == nil,
      let (statement, picks) = Self.quorum(
        endorsements.mapValues(\.statement.hash), endorserOf, threshold: threshold),
      let signed = endorsements[picks[0]]?.statement
    else { return nil }
    return ModelCommit(
      round: signed.round, model: signed.newModel, modelBlob: signed.newModelBlob,
      modelSize: signed.newModelSize, statement: statement, endorsements: picks)
  }

  /// The metric commit the ledger takes for this round's evaluation now, if any, chosen as
  /// `commitCandidate` chooses.
  public func metricCommitCandidate(threshold: Int) -> MetricCommit? {
    guard evaluation != nil, metric == nil,
      let (statement, picks) = Self.quorum(
        metricEndorsements.mapValues(\.statement.hash), metricEndorserOf, threshold: threshold),
      let signed = metricEndorsements[picks[0]]?.statement
    else { return nil }
    return MetricCommit(
      round: signed.round, model: signed.model, statement: statement, endorsements: picks)
  }

  /// The statement at least `threshold` distinct endorsers signed (the smallest such hash,
  /// should two), with each endorser's smallest endorsement hash, sorted.
  static func quorum(
    _ statementOf: [Hash256: Hash256], _ endorserOf: [Hash256: String], threshold: Int
  ) -> (statement: Hash256, endorsements: [Hash256])? {
    var chosen: [Hash256: [String: Hash256]] = [:]
    for (hash, statement) in statementOf {
      guard let endorser = endorserOf[hash] else { continue }
      if let kept = chosen[statement]?[endorser], kept < hash { continue }
      chosen[statement, default: [:]][endorser] = hash
    }
    guard
      let (statement, picks) = chosen.filter({ $0.value.count >= max(1, threshold) })
        .min(by: { $0.key < $1.key })
    else { return nil }
    return (statement, picks.values.sorted())
  }
}

extension LedgerState {
  /// The newest model commit of a round before `round` (of any round when nil), past rounds
  /// that aborted: the model the ledger stands on.
  public func newestCommit(before round: UInt64? = nil) -> ModelCommit? {
    var r = round.map { $0 == 0 ? 0 : $0 - 1 } ?? currentRound
    while r >= 1 {
      if let commit = rounds[r]?.commit { return commit }
      r -= 1
    }
    return nil
  }
}
