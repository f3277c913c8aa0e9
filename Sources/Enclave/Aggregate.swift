import Aggregation
import Attestation
import Canonical
import Crypto
import Dispatch
import Protection
import Records

/// A closed round, as the host hands it to its enclave: the ledger's proof of the round-close,
/// the round-open it names, and the bytes their hashes fix (the base model file and each
/// envelope, in the round-close's order).
///
/// Nothing in it is taken on the host's word: the network, the round, the clusters and their
/// keys, the rules and the base model's hash all come from the proven round-close and the
/// round-open whose hash it carries; the bytes must hash to what those name. A host can change
/// no field without the whole request being refused.
public struct AggregateRequest: CanonicalCodable, Equatable {
  /// The round's round-close transaction, proven by a block the ledger's nodes signed.
  public var closed: InclusionProof
  /// The canonical bytes of the round-open transaction the round-close names by hash.
  public var open: [UInt8]
  /// The base model file the round-open names.
  public var baseModel: [UInt8]
  /// The sealed updates, in the round-close's order.
  public var envelopes: [[UInt8]]

  public init(closed: InclusionProof, open: [UInt8], baseModel: [UInt8], envelopes: [[UInt8]]) {
    self.closed = closed
    self.open = open
    self.baseModel = baseModel
    self.envelopes = envelopes
  }

  public func encode(to w: inout CanonicalWriter) {
    closed.encode(to: &w)
    w.bytes(open)
    w.bytes(baseModel)
    w.list(envelopes) { $0.bytes($1) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    closed = try InclusionProof(from: &r)
    open = try r.bytes("aggregate round-open", limit: 1 << 20)
    baseModel = try r.bytes("aggregate base model", limit: 1 << 30)
    envelopes = try r.list("aggregate envelopes", limit: 100_000) {
      r throws(CanonicalDecodingError) in
      try r.bytes("aggregate envelope", limit: 1 << 30)
    }
  }
}

/// What the enclave returns for a round: its signed endorsement (a ledger endorsement
/// transaction body; the statement names the new model's hash, file hash and size, all a model
/// commit needs). The model itself stays inside until the ledger proves the commit
/// (`Enclave.release`): a round that never commits (aborted, or short of k endorsements) shows
/// its aggregate to no one.
public struct AggregateResponse: CanonicalCodable, Equatable {
  /// Canonical bytes of the `Endorsement`.
  public var endorsement: [UInt8]
  /// Time the enclave spent on the request, for reports.
  public var nanoseconds: UInt64

  public init(endorsement: [UInt8], nanoseconds: UInt64) {
    self.endorsement = endorsement
    self.nanoseconds = nanoseconds
  }

  public func encode(to w: inout CanonicalWriter) {
    w.bytes(endorsement)
    w.u64(nanoseconds)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    endorsement = try r.bytes("response endorsement", limit: 1 << 26)
    nanoseconds = try r.u64("response time")
  }
}

/// A model file (docs/model-format.md) split where the enclave needs it: everything before the
/// parameters, the parameters, and the hash. The enclave reads no more of the format than this.
public struct ModelBytes: Sendable {
  /// Magic, version, header length and header.
  public var prefix: [UInt8]
  public var parameters: [Float]

  public static let magic = Array("FLMODEL".utf8) + [0]

  public init(_ file: [UInt8]) throws(EnclaveError) {
    func fail(_ why: String) -> EnclaveError { .request("the base model file \(why)") }
    guard file.count >= 16 + 32, Array(file[0..<8]) == Self.magic else {
      throw fail("is not a FedLedger model file")
    }
    func u32(_ at: Int) -> Int {
      Int(file[at]) | Int(file[at + 1]) << 8 | Int(file[at + 2]) << 16 | Int(file[at + 3]) << 24
    }
    guard u32(8) == 1 else { throw fail("has an unknown version") }
    let header = u32(12)
    let body = file.count - 32 - 16 - header
    guard body >= 0, body % 4 == 0 else { throw fail("is truncated or malformed") }
    let end = file.count - 32
    guard Array(SHA256.hash(data: file[0..<end])) == Array(file[end...]) else {
      throw fail("does not match its hash")
    }
    prefix = Array(file[0..<(16 + header)])
    let count = body / 4
    var values = [Float](repeating: 0, count: count)
    values.withUnsafeMutableBufferPointer { out in
      file.withUnsafeBytes { raw in
        for i in 0..<count {
          out[i] = Float(
            bitPattern: UInt32(
              littleEndian: raw.loadUnaligned(
                fromByteOffset: 16 + header + 4 * i, as: UInt32.self)))
        }
      }
    }
    parameters = values
  }

  /// The file with `parameters` in place of the old ones, and its hash.
  public static func file(prefix: [UInt8], parameters: [Float]) -> [UInt8] {
    var out = prefix
    out.reserveCapacity(prefix.count + parameters.count * 4 + 32)
    for v in parameters {
      let b = v.bitPattern.littleEndian
      out.append(UInt8(truncatingIfNeeded: b))
      out.append(UInt8(truncatingIfNeeded: b >> 8))
      out.append(UInt8(truncatingIfNeeded: b >> 16))
      out.append(UInt8(truncatingIfNeeded: b >> 24))
    }
    out += Array(SHA256.hash(data: out))
    return out
  }
}

/// A round as the ledger fixed it, from the proofs in an aggregate request.
struct ProvenRound {
  var network: Hash256
  var open: RoundOpen
  var close: RoundClose
  var round: UInt64 { close.round }
  var rules: RoundRules { open.rules }
}

extension Enclave {
  /// The round the ledger closed, from the request's proofs: a round-close in a block of the
  /// policy's ledger nodes, signed by their quorum and judged valid, and the round-open whose
  /// hash it names. The ledger accepted that close only for the round's own round-open, whose
  /// rules are the network's.
  func provenRound(_ request: AggregateRequest) throws(EnclaveError) -> ProvenRound {
    let network = request.closed.header.network
    do {
      try request.closed.verify(
        network: network, nodes: Set(policy.ledgerNodes.compactMap { PublicKey(bytes: $0) }),
        quorum: Int(policy.blockQuorum))
    } catch {
      throw .request("the ledger does not prove the round closed: \(error)")
    }
    let close: RoundClose
    do {
      close = try RoundClose(transaction: request.closed.transaction)
    } catch {
      throw .request("the proven transaction is not a round-close: \(error)")
    }
    guard Hash256.of(request.open) == close.open else {
      throw .request(
        "the round-open given is not the one round \(close.round)'s round-close names (\(close.open.short))"
      )
    }
    let open: RoundOpen
    do {
      open = try RoundOpen(transaction: request.open)
    } catch {
      throw .request("the round-open does not decode: \(error)")
    }
    guard open.round == close.round else {
      throw .request("the round-open is of round \(open.round), the close of \(close.round)")
    }
    // The ledger checked both signatures; checked again, cheaply, so a forged block would also
    // need a node's own signature on each.
    for (signer, verifies, what) in [
      (open.signer, open.verifies(network: network), "round-open"),
      (close.signer, close.verifies(network: network), "round-close"),
    ] where !policy.ledgerNodes.contains(signer.bytes) || !verifies {
      throw .request("the \(what) is not signed by a ledger node of this network's policy")
    }
    if let problem = open.rules.problem { throw .request("the round's rules: \(problem)") }
    // Clusters sealed to the group key the round-open names (the ledger's): an enclave holding
    // another cannot read them, and must not call them unreadable.
    guard open.groupKey == groupPublicKey else {
      throw .request(
        "round \(open.round)'s round-open names another group key than the one this enclave holds")
    }
    return ProvenRound(network: network, open: open, close: close)
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
      throw .request(
        "round \(round) is before round \(lastEndorsedRound), the last this enclave endorsed")
    }
    let entries = proven.close.updates
    guard entries.count >= rules.minimumCohort else {
      throw .request(
        "round \(round) closed with \(entries.count) update(s); its rules need at least \(rules.minimumCohort)"
      )
    }
    guard entries.count <= rules.capacity else {
      throw .request(
        "round \(round) closed with \(entries.count) updates, more than its sample cap allows (\(rules.capacity))"
      )
    }
    guard request.envelopes.count == entries.count else {
      throw .request(
        "\(request.envelopes.count) envelope(s) given; round \(round) closed with \(entries.count)")
    }
    let base = try ModelBytes(request.baseModel)
    let baseHash = Array(request.baseModel.suffix(32))
    guard baseHash == proven.open.baseModel.bytes else {
      throw .request(
        "the base model given is not the one round \(round) opened on (\(proven.open.baseModel.short))"
      )
    }
    // Hashing, checking and decrypting each envelope is independent of the others: done on
    // every core. Everything that depends on order happens after, in ledger order.
    let n = entries.count
    let network = proven.network.bytes
    var opened = [(Hash256, FixedPointAggregation.Outcome.Input)?](repeating: nil, count: n)
    opened.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      let envelopes = request.envelopes
      DispatchQueue.concurrentPerform(iterations: n) { i in
        out[i] = (
          Hash256.of(envelopes[i]),
          Self.open(
            envelopes[i], from: entries[i], groupKey: groupKey, network: network, round: round,
            baseModel: baseHash)
        )
      }
    }
    let hashes = opened.map { $0!.0 }
    guard hashes == proven.close.payloads else {
      throw .request(
        "the envelopes given are not the \(n) round \(round) closed with, in ledger order")
    }
    var inputs: [FixedPointAggregation.Outcome.Input] = []
    var seen = Set<String>()
    for (entry, o) in zip(entries, opened) {
      // The ledger admits one commitment per cluster; checked again, cheaply.
      guard seen.insert(entry.cluster).inserted else {
        throw .request("round \(round)'s close lists \(entry.cluster) twice")
      }
      inputs.append(o!.1)
    }
    let aggregation = FixedPointAggregation(rules: rules)
    let result: FixedPointAggregation.Outcome
    do {
      result = try aggregation.aggregate(inputs, parameterCount: base.parameters.count)
    } catch {
      throw .request("round \(round) cannot be aggregated: \(error)")
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
      throw .request(
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
      throw .request("the ledger does not prove the model committed: \(error)")
    }
    let commit: ModelCommit
    do {
      commit = try ModelCommit(transaction: proof.transaction)
    } catch {
      throw .request("the proven transaction is not a model commit: \(error)")
    }
    guard let pending = pendingModel, pending.network == proof.header.network,
      pending.round == commit.round
    else {
      throw .request(
        "this enclave holds no model of round \(commit.round) of this network: ask the enclave that aggregated it, or aggregate the round again"
      )
    }
    guard commit.statement == pending.statement, commit.modelBlob == Hash256.of(pending.file),
      commit.model.bytes == Array(pending.file.suffix(32))
    else {
      throw .request(
        "round \(commit.round)'s proven commit names another statement or model than this enclave's"
      )
    }
    return pending.file
  }

  /// Signs `statement` with this enclave's key, carrying evidence for the ledger: the report
  /// binds the key to this enclave and to the network.
  func endorse(_ statement: AggregationStatement, network: [UInt8]) throws(EnclaveError)
    -> Endorsement
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
        throw .request("an SGX enclave endorses only with DCAP collateral: send it first")
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
    return Endorsement(
      network: Hash256(bytes: network)!, statement: statement, key: SigningKey(signingKey),
      evidence: recorded)
  }

  /// Opens one envelope committed by `entry`'s cluster with the key the ledger enrolled; any
  /// failure is the cluster's (the bytes are the ones it committed to) and rejects this update.
  private static func open(
    _ bytes: [UInt8], from entry: RoundClose.Entry, groupKey: Curve25519.KeyAgreement.PrivateKey,
    network: [UInt8], round: UInt64, baseModel: [UInt8]
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
    return .candidate(.init(values: payload.values, sampleCount: payload.sampleCount))
  }
}
