import Aggregation
import Attestation
import Canonical
import Crypto
import Dispatch
import Protection
import Records

/// One committed update as the host hands it to the enclave: the envelope the ledger's
/// commitment names, and the enrolled identity key of the cluster that committed it.
public struct SealedUpdate: CanonicalCodable, Equatable {
  public var cluster: String
  /// The cluster's enrolled Ed25519 key; nil if the cluster is not enrolled.
  public var clusterKey: [UInt8]?
  public var envelope: [UInt8]

  public init(cluster: String, clusterKey: [UInt8]?, envelope: [UInt8]) {
    self.cluster = cluster
    self.clusterKey = clusterKey
    self.envelope = envelope
  }

  public func encode(to w: inout CanonicalWriter) {
    w.string(cluster)
    w.optional(clusterKey) { $0.fixed($1) }
    w.bytes(envelope)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    cluster = try r.string("update cluster")
    clusterKey = try r.optional("update cluster key") { r throws(DecodingError) in
      try r.fixed(32, "update cluster key")
    }
    envelope = try r.bytes("update envelope", limit: 1 << 30)
  }
}

/// A closed round, as the enclave aggregates it: the network, the round, the base model file
/// (public), how to aggregate, the committed updates in ledger order, and the ledger's proof
/// that the round closed with exactly those updates.
public struct AggregateRequest: CanonicalCodable, Equatable {
  public var network: [UInt8]
  public var round: UInt64
  public var baseModel: [UInt8]
  public var aggregation: FixedPointAggregation
  public var updates: [SealedUpdate]
  /// The round's round-close transaction, proven by a block the ledger's nodes signed. Without
  /// it a host could have enclaves aggregate subsets of a round and learn one update from the
  /// difference.
  public var closed: InclusionProof

  public init(
    network: [UInt8], round: UInt64, baseModel: [UInt8], aggregation: FixedPointAggregation,
    updates: [SealedUpdate], closed: InclusionProof
  ) {
    self.network = network
    self.round = round
    self.baseModel = baseModel
    self.aggregation = aggregation
    self.updates = updates
    self.closed = closed
  }

  public func encode(to w: inout CanonicalWriter) {
    w.fixed(network)
    w.u64(round)
    w.bytes(baseModel)
    aggregation.encode(to: &w)
    w.list(updates) { $1.encode(to: &$0) }
    closed.encode(to: &w)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    network = try r.fixed(32, "aggregate network")
    round = try r.u64("aggregate round")
    baseModel = try r.bytes("aggregate base model", limit: 1 << 30)
    aggregation = try FixedPointAggregation(from: &r)
    updates = try r.list("aggregate updates", limit: 100_000) { r throws(DecodingError) in
      try SealedUpdate(from: &r)
    }
    closed = try InclusionProof(from: &r)
  }
}

/// What the enclave returns for a round: its signed endorsement (a ledger endorsement
/// transaction body) and the new model file. Neither holds any single update.
public struct AggregateResponse: CanonicalCodable, Equatable {
  /// Canonical bytes of the `Endorsement`.
  public var endorsement: [UInt8]
  public var newModel: [UInt8]
  /// Time the enclave spent on the request, for reports.
  public var nanoseconds: UInt64

  public init(endorsement: [UInt8], newModel: [UInt8], nanoseconds: UInt64) {
    self.endorsement = endorsement
    self.newModel = newModel
    self.nanoseconds = nanoseconds
  }

  public func encode(to w: inout CanonicalWriter) {
    w.bytes(endorsement)
    w.bytes(newModel)
    w.u64(nanoseconds)
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    endorsement = try r.bytes("response endorsement", limit: 1 << 26)
    newModel = try r.bytes("response model", limit: 1 << 30)
    nanoseconds = try r.u64("response time")
  }
}

extension FixedPointAggregation: CanonicalCodable {
  public func encode(to w: inout CanonicalWriter) {
    switch rule {
    case .mean: w.u8(0)
    case .median: w.u8(1)
    case .trimmedMean(let beta):
      w.u8(2)
      w.f64(beta)
    case .krum(let f, let select):
      w.u8(3)
      w.u32(UInt32(f))
      w.optional(select) { $0.u32(UInt32($1)) }
    }
    w.u8(weighting == .samples ? 0 : 1)
    w.optional(normBound) { $0.f64(Double($1)) }
    w.u8(UInt8(format.fractionalBits))
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    let tag = try r.u8("aggregation rule")
    let rule: AggregationRule
    switch tag {
    case 0: rule = .mean
    case 1: rule = .median
    case 2:
      let beta = try r.f64("trimmed-mean beta")
      guard beta >= 0, beta < 0.5 else {
        throw .invalid(field: "trimmed-mean beta", problem: "must be at least 0 and below 0.5")
      }
      rule = .trimmedMean(beta: beta)
    case 3:
      let f = Int(try r.u32("krum f"))
      let select = try r.optional("krum select") { r throws(DecodingError) in
        Int(try r.u32("krum select"))
      }
      rule = .krum(f: f, select: select)
    default: throw .unknownKind(field: "aggregation rule", tag: Int(tag))
    }
    let w = try r.u8("aggregation weighting")
    guard w <= 1 else { throw .unknownKind(field: "aggregation weighting", tag: Int(w)) }
    let bound = try r.optional("aggregation norm bound") { r throws(DecodingError) in
      try r.f64("aggregation norm bound")
    }
    if let bound, !(bound > 0 && bound.isFinite) {
      throw .invalid(field: "aggregation norm bound", problem: "must be positive and finite")
    }
    let bits = Int(try r.u8("fixed-point bits"))
    guard (0...30).contains(bits) else {
      throw .invalid(field: "fixed-point bits", problem: "must be 0 to 30")
    }
    self.init(
      rule: rule, weighting: w == 0 ? .samples : .equal, normBound: bound.map { Float($0) },
      format: FixedPoint(fractionalBits: bits))
  }

  /// The statement's parameters: everything that, with the rule, decides the result.
  var statementParameters: [Setting] {
    var s = [
      Setting("fixed-point.fractional-bits", "\(format.fractionalBits)"),
      Setting("weighting", weighting.rawValue),
    ]
    if let normBound { s.append(Setting("norm-bound", "\(normBound)")) }
    return s
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

extension Enclave {
  /// The updates the ledger closed the request's round with, from its proof: a round-close of
  /// this round in a block of this network signed by the policy's quorum of ledger nodes.
  func closedUpdates(_ request: AggregateRequest) throws(EnclaveError) -> [Hash256] {
    guard let network = Hash256(bytes: request.network) else {
      throw .request("the network is not 32 bytes")
    }
    do {
      try request.closed.verify(
        network: network, nodes: Set(policy.ledgerNodes.compactMap { PublicKey(bytes: $0) }),
        quorum: Int(policy.blockQuorum))
    } catch {
      throw .request("the ledger does not prove round \(request.round) closed: \(error)")
    }
    let close: RoundClose
    do {
      close = try RoundClose(transaction: request.closed.transaction)
    } catch {
      throw .request("the proven transaction is not a round-close: \(error)")
    }
    guard close.round == request.round else {
      throw .request(
        "the proven round-close is of round \(close.round), not round \(request.round)")
    }
    return close.updates
  }

  /// Opens, validates and aggregates a closed round's updates, then signs the statement.
  ///
  /// Every update is accounted for: accepted with its weight, or rejected with the reason (a
  /// bad signature, another round or base model, an unknown cluster, a second update from one
  /// cluster, a payload that does not decode, a failed validation, or the robust rule). The
  /// enclave hashes each envelope itself, so the statement names what it actually read.
  public func aggregate(_ request: AggregateRequest) throws(EnclaveError) -> AggregateResponse {
    let start = DispatchTime.now().uptimeNanoseconds
    guard let groupKey else { throw .groupKey("this enclave holds none; it cannot open updates") }
    // The last round may be asked again (after fresh collateral, say): the statement must
    // then come out the same, checked below.
    guard request.round >= lastEndorsedRound, request.round > 0 else {
      throw .request(
        "round \(request.round) is before round \(lastEndorsedRound), the last this enclave endorsed"
      )
    }
    let closed = try closedUpdates(request)
    let base = try ModelBytes(request.baseModel)
    let baseHash = Array(request.baseModel.suffix(32))
    // Hashing, checking and decrypting each envelope is independent of the others: done on
    // every core. Everything that depends on order happens after, in ledger order.
    let n = request.updates.count
    var opened = [(Hash256, FixedPointAggregation.Result.Input)?](repeating: nil, count: n)
    opened.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      let updates = request.updates
      let network = request.network
      let round = request.round
      DispatchQueue.concurrentPerform(iterations: n) { i in
        out[i] = (
          Hash256.of(updates[i].envelope),
          Self.open(
            updates[i], groupKey: groupKey, network: network, round: round, baseModel: baseHash)
        )
      }
    }
    var hashes: [Hash256] = []
    var inputs: [FixedPointAggregation.Result.Input] = []
    var seen = Set<String>()
    for (u, entry) in zip(request.updates, opened) {
      let (hash, input) = entry!
      hashes.append(hash)
      if case .candidate = input, !seen.insert(u.cluster).inserted {
        inputs.append(.refused("is a second update from \(u.cluster) in this round"))
      } else {
        inputs.append(input)
      }
    }
    guard hashes == closed else {
      throw .request(
        "the updates given are not the \(closed.count) round \(request.round) closed with, in ledger order"
      )
    }
    let result = request.aggregation.aggregate(inputs, parameterCount: base.parameters.count)
    let newParameters =
      result.delta.map { request.aggregation.apply($0, to: base.parameters) } ?? base.parameters
    let file = ModelBytes.file(prefix: base.prefix, parameters: newParameters)

    var accepted: [AggregationStatement.Accepted] = []
    var rejected: [AggregationStatement.Rejected] = []
    for (hash, verdict) in zip(hashes, result.verdicts) {
      switch verdict {
      case .accepted(let weight, let note):
        accepted.append(.init(update: hash, weight: weight, note: note))
      case .rejected(let reason): rejected.append(.init(update: hash, reason: reason))
      }
    }
    let statement = AggregationStatement(
      round: request.round, baseModel: Hash256(bytes: baseHash)!, accepted: accepted,
      rejected: rejected, rule: "\(request.aggregation.rule)",
      parameters: request.aggregation.statementParameters,
      newModel: Hash256(bytes: Array(file.suffix(32)))!)
    if request.round == lastEndorsedRound, statement.hash != lastStatement {
      throw .request(
        "this enclave already endorsed a different statement for round \(request.round); it endorses a round once"
      )
    }
    let endorsement = try endorse(statement, network: request.network)
    lastEndorsedRound = request.round
    lastStatement = statement.hash
    return AggregateResponse(
      endorsement: endorsement.canonicalBytes, newModel: file,
      nanoseconds: DispatchTime.now().uptimeNanoseconds - start)
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

  private static func open(
    _ u: SealedUpdate, groupKey: Curve25519.KeyAgreement.PrivateKey, network: [UInt8],
    round: UInt64, baseModel: [UInt8]
  ) -> FixedPointAggregation.Result.Input {
    guard let keyBytes = u.clusterKey,
      let key = try? Curve25519.Signing.PublicKey(rawRepresentation: keyBytes)
    else { return .refused("comes from \(u.cluster), which is not an enrolled cluster") }
    let envelope: UpdateEnvelope
    do {
      envelope = try UpdateEnvelope(canonical: u.envelope)
    } catch {
      return .refused("is not an update envelope: \(error)")
    }
    guard envelope.cluster == u.cluster else {
      return .refused("was committed by \(u.cluster) but names \(envelope.cluster)")
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
      return .refused("does not decode: \(error)")
    }
    guard payload.round == round, payload.baseModel == baseModel else {
      return .refused("carries a payload for another round or base model than its envelope")
    }
    return .candidate(.init(values: payload.values, sampleCount: payload.sampleCount))
  }
}
