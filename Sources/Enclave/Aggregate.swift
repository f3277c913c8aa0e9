import Aggregation
import Attestation
import Canonical
import Crypto
import Dispatch
import EnclaveMessages
import Protection
import Records

extension Enclave {
  /// The round the ledger closed, from the request's proofs (`ProvenRound`, the one check every
  /// aggregator runs), under the group key this enclave holds. The ledger accepted that close
  /// only for the round's own round-open, whose rules are the network's.
  func provenRound(_ request: AggregateRequest) throws(EnclaveError) -> ProvenRound {
    let proven: ProvenRound
    do {
      proven = try ProvenRound(
        closed: request.closed, open: request.open,
        nodes: Set(policy.ledgerNodes.compactMap { PublicKey(bytes: $0) }),
        quorum: Int(policy.blockQuorum))
    } catch {
      throw .notTheProvenRound("\(error)")
    }
    // Clusters sealed to the group key the round-open names (the ledger's): an enclave holding
    // another cannot read them, and must not call them unreadable.
    guard proven.open.groupKey == groupPublicKey else {
      throw .notTheProvenRound(
        "round \(proven.round)'s round-open names another group key than the one this enclave holds"
      )
    }
    return proven
  }

  /// Opens, validates and aggregates a closed round's updates, then signs the statement.
  ///
  /// Every update is accounted for: accepted, or rejected with the reason (a bad signature,
  /// another round or base model, a payload that does not decode or contradicts its envelope, a
  /// claim above the sample cap, a failed validation, or the robust rule). Every such reason is
  /// the cluster's doing: whatever the host could change (which updates, their order, keys,
  /// rules, base model) fails the whole request instead, so a host learns nothing by asking
  /// again, or asking a fresh enclave. The enclave hashes each envelope itself, so the
  /// statement names what it actually read.
  public func aggregate(_ request: AggregateRequest) throws(EnclaveError) -> AggregateResponse {
    let start = DispatchTime.now().uptimeNanoseconds
    guard let groupKey else { throw .groupKey("this enclave holds none; it cannot open updates") }
    let proven = try provenRound(request)
    let round = proven.round
    let rules = proven.rules
    // The last round may be asked again (after fresh collateral, say): the statement must
    // then come out the same, checked below.
    guard round >= lastEndorsedRound, round > 0 else {
      throw .alreadyEndorsed(
        "round \(round) is before round \(lastEndorsedRound), the last this enclave endorsed")
    }
    let entries = proven.close.updates
    guard entries.count >= rules.minimumCohort else {
      throw .cohort(
        "round \(round) closed with \(entries.count) update(s); its rules need at least \(rules.minimumCohort)"
      )
    }
    guard entries.count <= rules.capacity else {
      throw .cohort(
        "round \(round) closed with \(entries.count) updates, more than its sample cap allows (\(rules.capacity))"
      )
    }
    guard request.envelopes.count == entries.count else {
      throw .notTheProvenRound(
        "\(request.envelopes.count) envelope(s) given; round \(round) closed with \(entries.count)")
    }
    // The file's trailing hash against the proven one first, so that the enclave parses only
    // the file the round names (`ModelBytes` then checks the content against that hash).
    let baseHash = Array(request.baseModel.suffix(32))
    guard baseHash == proven.open.baseModel.bytes else {
      throw .notTheProvenRound(
        "the base model given is not the one round \(round) opened on (\(proven.open.baseModel.short))"
      )
    }
    let base = try ModelBytes(request.baseModel)
    // Every envelope must be the one the close names, and every cluster listed once, before
    // any is opened: the host learns nothing, not even timing, from a request it altered.
    // Hashing and opening are independent per envelope: done on every core, then taken in
    // ledger order.
    let n = entries.count
    let envelopes = request.envelopes
    let hashes = Self.onEveryCore(n) { Hash256.of(envelopes[$0]) }
    guard hashes == proven.close.payloads else {
      throw .notTheProvenRound(
        "the envelopes given are not the \(n) round \(round) closed with, in ledger order")
    }
    // The ledger admits one commitment per cluster; checked again, cheaply.
    var seen = Set<String>()
    for entry in entries where !seen.insert(entry.cluster).inserted {
      throw .notTheProvenRound("round \(round)'s close lists \(entry.cluster) twice")
    }
    let network = proven.network.bytes
    let weighting = rules.weighting
    let inputs = Self.onEveryCore(n) { i in
      Self.open(
        envelopes[i], from: entries[i], groupKey: groupKey, network: network, round: round,
        baseModel: baseHash, weighting: weighting)
    }
    let aggregation = FixedPointAggregation(rules: rules)
    let result: FixedPointAggregation.Outcome
    do {
      result = try aggregation.aggregate(inputs, parameterCount: base.parameters.count)
    } catch {
      throw .aggregation("round \(round) cannot be aggregated: \(error)")
    }
    let acceptedCount = result.verdicts.filter { if case .accepted = $0 { true } else { false } }
      .count
    // How many fell short is not said: for a round that publishes nothing else, it would be
    // a fact about the few updates that did arrive.
    guard acceptedCount >= rules.minimumCohort else {
      throw .tooFewUpdates(
        "in round \(round), fewer updates passed validation and the rule than its minimum cohort of \(rules.minimumCohort)"
      )
    }
    let newParameters =
      result.delta.map { aggregation.apply($0, to: base.parameters) } ?? base.parameters
    let file = ModelBytes.file(prefix: base.prefix, parameters: newParameters)

    var accepted: [AggregationStatement.Accepted] = []
    var rejected: [AggregationStatement.Rejected] = []
    for (hash, verdict) in zip(hashes, result.verdicts) {
      switch verdict {
      case .accepted(let note): accepted.append(.init(update: hash, note: note))
      case .rejected(let reason): rejected.append(.init(update: hash, reason: reason))
      }
    }
    let statement = AggregationStatement(
      round: round, baseModel: proven.open.baseModel, accepted: accepted, rejected: rejected,
      rule: rules.ruleName, parameters: rules.statementParameters,
      newModel: Hash256(bytes: Array(file.suffix(32)))!, newModelBlob: Hash256.of(file),
      newModelSize: UInt64(file.count))
    if round == lastEndorsedRound, statement.hash != lastStatement {
      throw .alreadyEndorsed(
        "this enclave already endorsed a different statement for round \(round); it endorses a round once"
      )
    }
    let endorsement = try endorse(statement, network: network)
    lastEndorsedRound = round
    lastStatement = statement.hash
    pendingModel = (proven.network, round, statement.hash, file)
    return AggregateResponse(
      endorsement: endorsement.canonicalBytes,
      nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
  }

  /// The model of the round this enclave last aggregated, once the ledger proves its commit:
  /// a model-commit of that round and that very file, in a block the policy's quorum of
  /// ledger nodes signed. Committed models are public; uncommitted aggregates never leave.
  public func release(_ proof: InclusionProof) throws(EnclaveError) -> [UInt8] {
    do {
      try proof.verify(
        network: proof.header.network,
        nodes: Set(policy.ledgerNodes.compactMap { PublicKey(bytes: $0) }),
        quorum: Int(policy.blockQuorum))
    } catch {
      throw .notCommitted("the ledger does not prove the model committed: \(error)")
    }
    let commit: ModelCommit
    do {
      commit = try ModelCommit(transaction: proof.transaction)
    } catch {
      throw .notCommitted("the proven transaction is not a model commit: \(error)")
    }
    guard let pending = pendingModel, pending.network == proof.header.network,
      pending.round == commit.round
    else {
      throw .notCommitted(
        "this enclave holds no model of round \(commit.round) of this network: ask the enclave that aggregated it, or aggregate the round again"
      )
    }
    guard commit.statement == pending.statement, commit.modelBlob == Hash256.of(pending.file),
      commit.model.bytes == Array(pending.file.suffix(32))
    else {
      throw .notCommitted(
        "round \(commit.round)'s proven commit names another statement or model than this enclave's"
      )
    }
    return pending.file
  }

  /// Signs `statement` with this enclave's key, carrying evidence for the ledger: the report
  /// binds the key to this enclave and to the network.
  func endorse<S: EndorsableStatement>(_ statement: S, network: [UInt8]) throws(EnclaveError)
    -> Endorsed<S>
  {
    let evidence = try evidence(nonce: EnclaveEvidence.ledgerNonce(network: network))
    let recorded: Evidence
    switch evidence.report {
    case .simulated:
      recorded = Evidence(kind: .simulatedEnclave, bytes: evidence.canonicalBytes)
    case .sgx:
      // The ledger checks a quote with the collateral the endorsement carries. The enclave
      // checks it first, so that stale collateral costs a retry, not the round.
      guard let collateral else {
        throw .noCollateral
      }
      do {
        try evidence.verify(
          nonce: EnclaveEvidence.ledgerNonce(network: network), policy: policy,
          collateral: collateral, at: judgingTime)
      } catch {
        throw .evidence("this enclave's own evidence does not verify with its collateral: \(error)")
      }
      recorded = Evidence(
        kind: .sgxDCAP,
        bytes: CollateralizedEvidence(evidence: evidence, collateral: collateral).canonicalBytes)
    }
    return Endorsed(
      network: Hash256(bytes: network)!, statement: statement, key: SigningKey(signingKey),
      evidence: recorded)
  }

  /// `body(i)` for every i below `n`, computed on every core, in index order.
  private static func onEveryCore<T: Sendable>(_ n: Int, _ body: @Sendable (Int) -> T) -> [T] {
    var out = [T?](repeating: nil, count: n)
    out.withUnsafeMutableBufferPointer { buffer in
      nonisolated(unsafe) let buffer = buffer
      DispatchQueue.concurrentPerform(iterations: n) { i in buffer[i] = body(i) }
    }
    return out.map { $0! }
  }

  /// Opens one envelope committed by `entry`'s cluster with the key the ledger enrolled; any
  /// failure is the cluster's (the bytes are the ones it committed to) and rejects this update.
  private static func open(
    _ bytes: [UInt8], from entry: RoundClose.Entry, groupKey: Curve25519.KeyAgreement.PrivateKey,
    network: [UInt8], round: UInt64, baseModel: [UInt8], weighting: Weighting
  ) -> FixedPointAggregation.Outcome.Input {
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: entry.key.bytes) else {
      return .refused("its cluster's enrolled key is not an Ed25519 key")
    }
    let envelope: UpdateEnvelope
    do {
      envelope = try UpdateEnvelope(canonical: bytes)
    } catch {
      return .refused("is not an update envelope")
    }
    guard envelope.cluster == entry.cluster else {
      return .refused("was committed by \(entry.cluster) but names another cluster")
    }
    let plain: [UInt8]
    do {
      plain = try envelope.open(
        with: groupKey, network: network, round: round, baseModel: baseModel, clusterKey: key)
    } catch {
      return .refused("\(error)")
    }
    let payload: UpdatePayload
    do {
      payload = try UpdatePayload(decoding: plain)
    } catch {
      return .refused("does not decode as an update payload")
    }
    guard payload.round == round, payload.baseModel == baseModel else {
      return .refused("carries a payload for another round or base model than its envelope")
    }
    // Under weighting by device, a gateway cannot claim more devices than its cluster enrolled
    // with (as the sample cap bounds samples): the ledger fixed that count in the round-close.
    if weighting == .devices {
      guard payload.devices >= 1 else { return .refused("claims no devices") }
      guard payload.devices <= entry.devices else {
        return .refused("claims more devices than the \(entry.devices) its cluster enrolled with")
      }
    }
    return .candidate(
      .init(values: payload.values, sampleCount: payload.sampleCount, devices: payload.devices))
  }
}
