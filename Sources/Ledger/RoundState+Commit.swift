import Records

extension RoundState {
  /// The model commit the ledger takes for this round now, if any: the statement at least
  /// `threshold` distinct genesis endorsers signed, naming one endorsement per endorser (its
  /// smallest transaction hash), sorted. Every node reading the same ledger proposes the same
  /// bytes, so the log orders one commit however many nodes propose it.
  public func commitCandidate(threshold: Int) -> ModelCommit? {
    guard close != nil, commit == nil, abort == nil else { return nil }
    var chosen: [Hash256: [String: Hash256]] = [:]
    for (hash, endorsement) in endorsements {
      guard let endorser = endorserOf[hash] else { continue }
      let statement = endorsement.statement.hash
      if let kept = chosen[statement]?[endorser], kept < hash { continue }
      chosen[statement, default: [:]][endorser] = hash
    }
    // With k > n/2 at most one statement reaches k; the smallest hash breaks a tie otherwise.
    guard
      let (statement, picks) = chosen.filter({ $0.value.count >= threshold })
        .min(by: { $0.key < $1.key }),
      let first = picks.values.first, let signed = endorsements[first]?.statement
    else { return nil }
    return ModelCommit(
      round: signed.round, model: signed.newModel, modelBlob: signed.newModelBlob,
      modelSize: signed.newModelSize, statement: statement, endorsements: picks.values.sorted())
  }
}
