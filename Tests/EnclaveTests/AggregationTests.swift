import Aggregation
import Attestation
import Crypto
import Enclave
import Foundation
import Ledger
import Protection
import XCTest

/// The fixed-point rules enclaves run: validation, clipping, robust rules, exact means.
final class FixedPointAggregationTests: XCTestCase {
  func candidates(_ n: Int, count: Int, seed: UInt8) -> [FixedPointAggregation.Result.Input] {
    var rng = SeededBytes(seed: seed)
    return (0..<n).map { i in
      .candidate(
        .init(
          values: (0..<count).map { _ in rng.float() * 0.01 },
          sampleCount: UInt64(10 + i * 7)))
    }
  }

  func testTheMeanIsTheWeightedMeanToOneStepAndTheSameBytesInAnyOrder() throws {
    let inputs = candidates(7, count: 300, seed: 1)
    let agg = FixedPointAggregation()
    let result = agg.aggregate(inputs, parameterCount: 300)
    let delta = try XCTUnwrap(result.delta)
    var expected = [Double](repeating: 0, count: 300)
    var total = 0.0
    for case .candidate(let c) in inputs {
      total += Double(c.sampleCount)
      for j in 0..<300 { expected[j] += Double(c.sampleCount) * Double(c.values[j]) }
    }
    let step = 1.0 / FixedPoint.standard.scale
    for j in 0..<300 {
      XCTAssertEqual(Double(delta[j]) * step, expected[j] / total, accuracy: 1.5 * step)
    }
    // Reordered (as a node with another arrival order would have it): identical bytes.
    for rule in [AggregationRule.mean, .median, .trimmedMean(beta: 0.2)] {
      let a = FixedPointAggregation(rule: rule).aggregate(inputs, parameterCount: 300).delta
      let b = FixedPointAggregation(rule: rule).aggregate(
        inputs.reversed(), parameterCount: 300
      ).delta
      XCTAssertEqual(a, b, "\(rule)")
    }
    // Shares are the normalised sample counts.
    let shares = result.verdicts.map { v -> Double in
      if case .accepted(let w, _) = v { return w }
      return -1
    }
    XCTAssertEqual(shares.reduce(0, +), 1, accuracy: 1e-12)
  }

  func testValidationRejectsWithReasonsAndClipsToTheNormBound() throws {
    var inputs = candidates(3, count: 4, seed: 2)
    inputs.append(.candidate(.init(values: [1, 2, 3], sampleCount: 5)))
    inputs.append(.candidate(.init(values: [0, 0, 0, 0], sampleCount: 0)))
    inputs.append(.candidate(.init(values: [0, .nan, 0, 0], sampleCount: 5)))
    inputs.append(.candidate(.init(values: [0, 3000, 0, 0], sampleCount: 5)))
    inputs.append(.candidate(.init(values: [3, 4, 0, 0], sampleCount: 5)))
    inputs.append(.refused("did not open"))
    let agg = FixedPointAggregation(normBound: 1)
    let verdicts = agg.aggregate(inputs, parameterCount: 4).verdicts
    func reason(_ i: Int) -> String {
      if case .rejected(let r) = verdicts[i] { return r }
      return "accepted"
    }
    XCTAssertEqual(reason(3), "has 3 values, the model has 4")
    XCTAssertEqual(reason(4), "claims no training samples")
    XCTAssertEqual(reason(5), "contains values that are not finite")
    XCTAssertEqual(reason(8), "did not open")
    // Clipped to norm 1 by the bound, so 3000 is no longer out of range.
    guard case .accepted(_, let note) = verdicts[7] else { return XCTFail("\(verdicts[7])") }
    XCTAssertEqual(note, "L2 norm 5 above bound 1: scaled by 0.2")
    guard case .accepted(_, let clipped) = verdicts[6] else { return XCTFail("\(verdicts[6])") }
    XCTAssert(clipped.hasPrefix("L2 norm 3000"), clipped)
    // Without a bound, values beyond the fixed-point range are refused, not wrapped.
    let unbounded = FixedPointAggregation().aggregate(inputs, parameterCount: 4).verdicts
    guard case .rejected(let r) = unbounded[6] else { return XCTFail("\(unbounded[6])") }
    XCTAssert(r.contains("beyond"), r)
  }

  func testKrumRejectsTheOutlierAndMedianIgnoresIt() throws {
    var inputs = candidates(6, count: 50, seed: 3)
    inputs.append(
      .candidate(.init(values: [Float](repeating: 5, count: 50), sampleCount: 1_000)))
    let krum = FixedPointAggregation(rule: .krum(f: 1, select: nil)).aggregate(
      inputs, parameterCount: 50)
    guard case .rejected(let r) = krum.verdicts[6] else { return XCTFail("\(krum.verdicts[6])") }
    XCTAssert(r.hasPrefix("Multi-Krum score"), r)
    XCTAssertEqual(krum.verdicts.filter { if case .accepted = $0 { true } else { false } }.count, 6)
    let median = try XCTUnwrap(
      FixedPointAggregation(rule: .median).aggregate(inputs, parameterCount: 50).delta)
    XCTAssert(median.allSatisfy { abs(Double($0) / FixedPoint.standard.scale) < 0.02 })
  }

  func testAggregationSettingsRoundTripAndBadOnesAreRefused() throws {
    for agg in [
      FixedPointAggregation(),
      FixedPointAggregation(rule: .krum(f: 2, select: 3), weighting: .equal, normBound: 2.5),
      FixedPointAggregation(rule: .trimmedMean(beta: 0.1)),
      FixedPointAggregation(rule: .median, format: FixedPoint(fractionalBits: 16)),
    ] {
      XCTAssertEqual(try FixedPointAggregation(canonical: agg.canonicalBytes), agg)
    }
    var bad = FixedPointAggregation(rule: .trimmedMean(beta: 0.1)).canonicalBytes
    bad.replaceSubrange(1..<9, with: (0.5).bitPattern.bigEndianBytes)
    XCTAssertThrowsError(try FixedPointAggregation(canonical: bad))
    XCTAssertThrowsError(try FixedPointAggregation(canonical: [9, 0, 0, 20]))
  }
}

/// An enclave's whole round: envelopes in, a signed statement and a model out.
final class EnclaveRoundTests: XCTestCase {
  let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
  let platformA = SimulatedPlatform()
  let platformB = SimulatedPlatform()
  let clusterKeys = (0..<6).map { _ in Curve25519.Signing.PrivateKey() }
  /// The ledger's one node, whose blocks prove rounds' closes to the enclaves.
  let node = SigningKey()

  lazy var genesis = Genesis(
    network: "enclave-test", createdAt: "2026-11-26T12:00:00Z",
    members: [.init(name: "m", key: SigningKey().publicKey)],
    nodes: [.init(name: "node-0", member: "m", key: node.publicKey)],
    endorsers: [
      .init(name: "node-0", kind: .simulatedEnclave, key: PublicKey(bytes: platformA.publicKey)!),
      .init(name: "node-1", kind: .simulatedEnclave, key: PublicKey(bytes: platformB.publicKey)!),
    ],
    endorsementThreshold: 2, enclaveMeasurements: [Hash256(bytes: measurement)!])
  var network: [UInt8] { genesis.hash.bytes }
  var policy: EnclavePolicy { genesis.enclavePolicy() }

  /// Two enclaves on two platforms sharing one group key.
  func pair() throws -> (Enclave, Enclave) {
    let a = Enclave(measurement: measurement, platform: platformA, policy: policy)
    let b = Enclave(measurement: measurement, platform: platformB, policy: policy)
    try a.createGroupKey()
    let c1 = a.challenge()
    let c2 = b.challenge()
    let grant = try a.admit(b.evidence(nonce: c1), joinerChallenge: c2, network: network)
    try b.accept(grant, network: network)
    return (a, b)
  }

  static let parameters = 40
  static func modelFile(_ values: [Float]) -> [UInt8] {
    let header = Array("{\"test\":true}".utf8)
    var prefix = ModelBytes.magic + [1, 0, 0, 0]
    prefix += [UInt8(header.count), 0, 0, 0] + header
    return ModelBytes.file(prefix: prefix, parameters: values)
  }

  func envelope(
    cluster: Int, round: UInt64, base: [UInt8], group: [UInt8], values: [Float]? = nil,
    signer: Curve25519.Signing.PrivateKey? = nil
  ) throws -> SealedUpdate {
    let payload = UpdatePayload(
      cluster: UInt32(cluster), round: round, baseModel: base, sampleCount: 100,
      trainLoss: 0.5, simulatedSeconds: 1,
      values: values ?? (0..<Self.parameters).map { Float($0 + cluster) * 1e-3 })
    let e = try UpdateEnvelope.seal(
      payload.encode(), network: network, round: round, cluster: "cluster-\(cluster)",
      baseModel: base, to: try Curve25519.KeyAgreement.PublicKey(rawRepresentation: group),
      signedWith: signer ?? clusterKeys[cluster])
    return SealedUpdate(
      cluster: "cluster-\(cluster)",
      clusterKey: Array(clusterKeys[cluster].publicKey.rawRepresentation),
      envelope: e.canonicalBytes)
  }

  func testEveryEnclaveSignsTheSameStatementAndModelAndEveryBadUpdateHasItsReason() throws {
    let (a, b) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0.5, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    var updates = try (0..<3).map { try envelope(cluster: $0, round: 2, base: base, group: group) }
    // A replay of an old round, another base model, a forged signature, an unknown cluster,
    // and values that are not finite.
    updates.append(try envelope(cluster: 3, round: 1, base: base, group: group))
    updates.append(
      try envelope(cluster: 4, round: 2, base: Array(repeating: 7, count: 32), group: group))
    updates.append(
      try envelope(
        cluster: 5, round: 2, base: base, group: group,
        signer: Curve25519.Signing.PrivateKey()))
    var unknown = try envelope(cluster: 0, round: 2, base: base, group: group)
    unknown.cluster = "cluster-9"
    unknown.clusterKey = nil
    updates.append(unknown)
    var nan = [Float](repeating: 0, count: Self.parameters)
    nan[3] = .infinity
    updates.append(try envelope(cluster: 1, round: 2, base: base, group: group, values: nan))
    let request = AggregateRequest.proven(
      network: network, round: 2, baseModel: baseFile, updates: updates, node: node)

    let ra = try a.aggregate(request)
    let rb = try b.aggregate(try AggregateRequest(canonical: request.canonicalBytes))
    XCTAssertEqual(ra.newModel, rb.newModel)
    let ea = try Endorsement(canonical: ra.endorsement)
    let eb = try Endorsement(canonical: rb.endorsement)
    XCTAssertEqual(ea.statement, eb.statement)
    XCTAssertNotEqual(ea.endorser, eb.endorser)
    let s = ea.statement
    XCTAssertEqual(s.accepted.map(\.update), updates[0..<3].map { Hash256.of($0.envelope) })
    XCTAssertEqual(s.newModel, Hash256(bytes: Array(ra.newModel.suffix(32))))
    XCTAssertEqual(s.baseModel.bytes, base)
    let reasons = s.rejected.map(\.reason)
    XCTAssertEqual(reasons.count, 5)
    XCTAssertEqual(reasons[0], "update from cluster-3 is for round 1, not round 2")
    XCTAssertEqual(reasons[1], "update from cluster-4 was trained from another base model")
    XCTAssert(reasons[2].contains("does not carry a valid signature of cluster-5"), reasons[2])
    XCTAssertEqual(reasons[3], "comes from cluster-9, which is not an enrolled cluster")
    // A second envelope from cluster-1: it is turned away before it is even read.
    XCTAssertEqual(reasons[4], "is a second update from cluster-1 in this round")
    // The model moved by the mean of the three accepted deltas.
    let model = try ModelBytes(ra.newModel)
    XCTAssertEqual(model.parameters[10], 0.5 + 11e-3, accuracy: 2e-6)

    // Both endorsements count on the ledger, for their own platforms.
    XCTAssertEqual(try genesis.endorser(of: ea, at: Date()).get().name, "node-0")
    XCTAssertEqual(try genesis.endorser(of: eb, at: Date()).get().name, "node-1")
    XCTAssert(ea.verifies(network: genesis.hash))
    XCTAssertEqual(ea.evidence.kind, .simulatedEnclave)

    // Asked again for the same round, an enclave signs the same statement again (a retry
    // after fresh collateral, say), but never a different one, nor an earlier round.
    let again = try Endorsement(canonical: try a.aggregate(request).endorsement)
    XCTAssertEqual(again.statement, ea.statement)
    var other = request
    other.aggregation.rule = .median
    XCTAssertThrowsError(try a.aggregate(other)) {
      XCTAssert("\($0)".contains("already endorsed a different statement"), "\($0)")
    }
    var earlier = request
    earlier.round = 1
    XCTAssertThrowsError(try a.aggregate(earlier)) {
      XCTAssert("\($0)".contains("before round 2"), "\($0)")
    }
  }

  /// An enclave aggregates only the set the ledger closed the round with, proven by a block
  /// the ledger's nodes signed: a host cannot have it aggregate a subset (and learn one update
  /// from the difference), another round's set, or a set it vouches for itself.
  func testAnEnclaveAggregatesOnlyTheSetTheLedgerClosedTheRoundWith() throws {
    let (a, _) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    let updates = try (0..<3).map { try envelope(cluster: $0, round: 1, base: base, group: group) }
    func refused(_ r: AggregateRequest, _ text: String, line: UInt = #line) {
      XCTAssertThrowsError(try a.aggregate(r), line: line) {
        XCTAssert("\($0)".contains(text), "\($0)", line: line)
      }
    }
    let full = AggregateRequest.proven(
      network: network, round: 1, baseModel: baseFile, updates: updates, node: node)
    // All but one, or in another order.
    var subset = full
    subset.updates.removeLast()
    refused(subset, "are not the 3 round 1 closed with")
    var reordered = full
    reordered.updates.reverse()
    refused(reordered, "in ledger order")
    // A close the host signs itself, one of another round, one for another network.
    refused(
      .proven(
        network: network, round: 1, baseModel: baseFile, updates: Array(updates.prefix(2)),
        node: SigningKey()),
      "0 valid node signature(s); the quorum is 1")
    var otherRound = AggregateRequest.proven(
      network: network, round: 2, baseModel: baseFile, updates: updates, node: node)
    otherRound.round = 1
    refused(otherRound, "is of round 2, not round 1")
    var otherNetwork = full
    otherNetwork.closed =
      AggregateRequest.proven(
        network: Array(repeating: 9, count: 32), round: 1, baseModel: baseFile, updates: updates,
        node: node
      ).closed
    refused(otherNetwork, "the block is of network")
    // A proof whose transaction is not in the signed block.
    var forged = full
    forged.closed.transaction =
      RoundClose(
        round: 1, updates: Array(updates.prefix(2)).map { Hash256.of($0.envelope) }
      ).transactionBytes
    refused(forged, "its Merkle path does not reach the root")
    // The full set, proven, aggregates.
    XCTAssertNoThrow(try a.aggregate(full))
  }

  func testTheLedgerRefusesEnclaveEndorsementsWhoseEvidenceDoesNotHold() throws {
    let (a, _) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0, count: Self.parameters))
    let request = AggregateRequest.proven(
      network: network, round: 1, baseModel: baseFile,
      updates: [try envelope(cluster: 0, round: 1, base: Array(baseFile.suffix(32)), group: group)],
      node: node)
    let good = try Endorsement(canonical: try a.aggregate(request).endorsement)
    func refused(_ g: Genesis, _ e: Endorsement, _ text: String) {
      switch g.endorser(of: e, at: Date()) {
      case .success(let who): XCTFail("counted for \(who.name)")
      case .failure(let why): XCTAssert(why.description.contains(text), why.description)
      }
    }
    // Another measurement, another platform list, another network.
    var g = genesis
    g.enclaveMeasurements = [Hash256.of([1])]
    refused(g, good, "is not allowed")
    g = genesis
    g.endorsers.removeFirst()
    refused(g, good, "not a simulated-enclave endorser")
    g = genesis
    g.network = "elsewhere"
    refused(g, good, "REPORTDATA does not bind")
    // The evidence of one enclave on another's signature.
    var moved = good
    moved.endorser = SigningKey().publicKey
    refused(genesis, moved, "another key than the endorsing one")
    // A rogue platform's enclave.
    let rogue = Enclave(measurement: measurement, platform: SimulatedPlatform(), policy: policy)
    try rogue.createGroupKey()
    let rogueEndorsement = try Endorsement(canonical: try rogue.aggregate(request).endorsement)
    refused(genesis, rogueEndorsement, "not a simulated-enclave endorser")
  }
}

/// The request and response messages and their frames.
final class ProtocolTests: XCTestCase {
  func testTheServiceAnswersEveryRequestAndRefusesWhatItShould() throws {
    let measurement = Array(SHA256.hash(data: [1]))
    let platform = SimulatedPlatform()
    let service = EnclaveService(measurement: measurement, platform: platform)
    func ask(_ r: EnclaveRequest) throws -> EnclaveResponse {
      let bytes = r.canonicalBytes
      XCTAssertEqual(try EnclaveRequest(canonical: bytes), r)
      return try EnclaveResponse(canonical: service.handle(bytes))
    }
    XCTAssertEqual(try ask(.challenge), .failure("request refused: challenge before start"))
    let policy = EnclavePolicy(trustedPlatforms: [platform.publicKey], measurements: [measurement])
    guard case .info(let info) = try ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.backend, "simulated")
    XCTAssertNil(info.groupKey)
    guard case .info(let withKey) = try ask(.createGroupKey) else { return XCTFail() }
    XCTAssertNotNil(withKey.groupKey)
    guard case .evidence(let e) = try ask(.evidence(nonce: Array(repeating: 3, count: 32))) else {
      return XCTFail()
    }
    XCTAssertNoThrow(try e.verify(nonce: Array(repeating: 3, count: 32), policy: policy))
    XCTAssertEqual(e.groupKey, withKey.groupKey)
    guard case .sealed(let sealed) = try ask(.seal) else { return XCTFail() }
    // A second start is refused; a new service unseals with the same keys, but not under a
    // looser policy than the sealed one.
    guard case .failure = try ask(.start(sealed: nil, policy: policy)) else { return XCTFail() }
    let again = EnclaveService(measurement: measurement, platform: platform)
    var loose = policy
    loose.trustedPlatforms.insert(SimulatedPlatform().publicKey)
    let refused = try EnclaveResponse(
      canonical: again.handle(EnclaveRequest.start(sealed: sealed, policy: loose).canonicalBytes))
    guard case .failure(let why) = refused else { return XCTFail("\(refused)") }
    XCTAssert(why.contains("sealed under another policy"), why)
    guard
      case .info(let back) = try EnclaveResponse(
        canonical: again.handle(
          EnclaveRequest.start(sealed: sealed, policy: policy).canonicalBytes))
    else { return XCTFail() }
    XCTAssertEqual(back.signingKey, info.signingKey)
    XCTAssertEqual(back.groupKey, withKey.groupKey)
    // Garbage, an unknown kind, an unknown version: failures, not crashes.
    let v = EnclaveProtocol.version
    for bad: [UInt8] in [[], [v], [v, 99], [v + 1, 3], [v - 1, 3], [v, 4, 0]] {
      guard case .failure(let why) = try EnclaveResponse(canonical: service.handle(bad)) else {
        return XCTFail("\(bad)")
      }
      XCTAssert(why.hasPrefix("malformed request"), why)
    }
  }

  func testFramesCrossAPipeAndOversizedOnesAreRefused() throws {
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(pipe(&fds), 0)
    defer {
      close(fds[0])
      close(fds[1])
    }
    try Frames.write([1, 2, 3], to: fds[1])
    try Frames.write([], to: fds[1])
    XCTAssertEqual(try Frames.read(from: fds[0]), [1, 2, 3])
    XCTAssertEqual(try Frames.read(from: fds[0]), [])
    // A length above the limit is refused before anything is allocated.
    var header: [UInt8] = [0x7f, 0xff, 0xff, 0xff]
    _ = write(fds[1], &header, 4)
    XCTAssertThrowsError(try Frames.read(from: fds[0]))
  }

  func testTheEnclaveProgramAnswersOverItsStandardStreams() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-enclave-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let key = dir.appendingPathComponent("platform.key").path
    let program = try EnclaveProgram(["--platform", key])
    // Any request before start is refused; once it answers, its platform file exists.
    XCTAssertEqual(
      try program.ask(.challenge), .failure("request refused: challenge before start"))
    let measurement = try Enclave.measure(executable: try EnclaveProgram.path())
    let platform = try SimulatedPlatform(
      secret: Array(try Data(contentsOf: URL(fileURLWithPath: key))))
    let policy = EnclavePolicy(trustedPlatforms: [platform.publicKey], measurements: [measurement])
    guard case .info(let info) = try program.ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.measurement, measurement)
    let nonce = Array(repeating: UInt8(9), count: 32)
    guard case .evidence(let e) = try program.ask(.evidence(nonce: nonce)) else {
      return XCTFail()
    }
    XCTAssertNoThrow(try e.verify(nonce: nonce, policy: policy))
    let (status, said) = try program.finish()
    XCTAssertEqual(status, 0)
    XCTAssert(said.contains("SIMULATED ENCLAVE, NO HARDWARE PROTECTION"), said)
    let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
    XCTAssertEqual(mode, 0o600)
    // --attestation belongs to the sgx backend: said, not ignored.
    let (code, complaint) = try EnclaveProgram(["--platform", key, "--attestation", dir.path])
      .finish()
    XCTAssertEqual(code, 2)
    XCTAssert(complaint.contains("--attestation is for --backend sgx only"), complaint)
  }
}

/// Deterministic test bytes from a ChaCha20 keystream.
struct SeededBytes {
  var key: SymmetricKey
  var counter: UInt64 = 0
  var buffer: [UInt8] = []

  init(seed: UInt8) { key = SymmetricKey(data: [UInt8](repeating: seed, count: 32)) }

  mutating func float() -> Float {
    if buffer.count < 4 {
      counter += 1
      let nonce = try! ChaChaPoly.Nonce(data: Array(counter.bigEndianBytes) + [0, 0, 0, 0])
      buffer += Array(
        try! ChaChaPoly.seal([UInt8](repeating: 0, count: 64), using: key, nonce: nonce).ciphertext)
    }
    let bits = buffer.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    buffer.removeFirst(4)
    return Float(bits) / Float(UInt32.max) * 2 - 1
  }
}

extension FixedWidthInteger {
  var bigEndianBytes: [UInt8] { withUnsafeBytes(of: bigEndian) { Array($0) } }
}
