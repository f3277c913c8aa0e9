import Aggregation
import Attestation
import Crypto
import Enclave
import EnclaveMessages
import Foundation
import Ledger
import Protection
import Records
import XCTest

/// An enclave's whole round: envelopes in, a signed statement and a model out; and every way a
/// host might try to make it reveal one cluster's update.
final class EnclaveRoundTests: XCTestCase {
  let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
  let platformA = SimulatedPlatform()
  let platformB = SimulatedPlatform()
  let clusterKeys = (0..<10).map { _ in Curve25519.Signing.PrivateKey() }
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
    let b = try join(a, platform: platformB)
    return (a, b)
  }

  /// A new enclave on `platform` that receives the group key from `granter`.
  func join(_ granter: Enclave, platform: SimulatedPlatform) throws -> Enclave {
    if granter.groupPublicKey == nil { try granter.createGroupKey() }
    let b = Enclave(measurement: measurement, platform: platform, policy: policy)
    let c1 = granter.challenge()
    let c2 = b.challenge()
    let grant = try granter.admit(b.evidence(nonce: c1), joinerChallenge: c2, network: network)
    try b.accept(grant, network: network)
    return b
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
    sampleCount: UInt64 = 100, signer: Curve25519.Signing.PrivateKey? = nil,
    envelopeCluster: String? = nil
  ) throws -> TestUpdate {
    try TestUpdate.sealed(
      cluster: cluster, key: clusterKeys[cluster], network: network, round: round, base: base,
      group: group, values: values ?? (0..<Self.parameters).map { Float($0 + cluster) * 1e-3 },
      sampleCount: sampleCount, signer: signer, envelopeCluster: envelopeCluster)
  }

  /// Attack: a cluster whose close entry carries a very long name sends an envelope with a
  /// bad signature, so that the reason quoting its name would swell the statement past what
  /// readers accept and block every round it joins. The reason is cut; the endorsement reads.
  func testALongClusterNameCannotMakeAStatementNobodyReads() throws {
    let (a, _) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0.5, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    var updates = try (0..<3).map { try envelope(cluster: $0, round: 2, base: base, group: group) }
    let long = String(repeating: "x", count: 3000)
    var forged = try envelope(
      cluster: 3, round: 2, base: base, group: group, signer: Curve25519.Signing.PrivateKey(),
      envelopeCluster: long)
    forged.cluster = long
    updates.append(forged)
    let response = try a.aggregate(
      .proven(
        network: network, round: 2, baseModel: baseFile, rules: RoundRules(minimumCohort: 3),
        updates: updates, node: node))
    let statement = try Endorsement(canonical: response.endorsement).statement
    XCTAssertEqual(statement.accepted.count, 3)
    XCTAssertEqual(statement.rejected.count, 1)
    XCTAssertLessThanOrEqual(
      statement.rejected[0].reason.utf8.count, AggregationStatement.Rejected.maximumReason)
  }

  func testEveryEnclaveSignsTheSameStatementAndModelAndEveryBadUpdateHasItsReason() throws {
    let (a, b) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0.5, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    var updates = try (0..<3).map { try envelope(cluster: $0, round: 2, base: base, group: group) }
    // What a cluster can get wrong: a replay of an old round, another base model, a forged
    // signature, an envelope naming another cluster, values that are not finite, a claim
    // above the round's sample cap.
    updates.append(try envelope(cluster: 3, round: 1, base: base, group: group))
    updates.append(
      try envelope(cluster: 4, round: 2, base: Array(repeating: 7, count: 32), group: group))
    updates.append(
      try envelope(
        cluster: 5, round: 2, base: base, group: group,
        signer: Curve25519.Signing.PrivateKey()))
    updates.append(
      try envelope(cluster: 6, round: 2, base: base, group: group, envelopeCluster: "cluster-0"))
    var nan = [Float](repeating: 0, count: Self.parameters)
    nan[3] = .infinity
    updates.append(try envelope(cluster: 7, round: 2, base: base, group: group, values: nan))
    updates.append(
      try envelope(cluster: 8, round: 2, base: base, group: group, sampleCount: 1 << 31))
    let rules = RoundRules(minimumCohort: 3, sampleCap: 1000)
    let request = AggregateRequest.proven(
      network: network, round: 2, baseModel: baseFile, rules: rules, updates: updates, node: node)

    let ra = try a.aggregate(request)
    let rb = try b.aggregate(try AggregateRequest(canonical: request.canonicalBytes))
    XCTAssertEqual(try ra.statement, try rb.statement)
    // The model stays inside until the ledger proves its commit.
    let fileA = try a.committedModel(ra, network: network, node: node)
    XCTAssertEqual(try b.committedModel(rb, network: network, node: node), fileA)
    XCTAssertEqual(Hash256.of(fileA), try ra.statement.newModelBlob)
    let ea = try Endorsement(canonical: ra.endorsement)
    let eb = try Endorsement(canonical: rb.endorsement)
    XCTAssertEqual(ea.statement, eb.statement)
    XCTAssertNotEqual(ea.endorser, eb.endorser)
    let s = ea.statement
    XCTAssertEqual(s.accepted.map(\.update), updates[0..<3].map(\.entry.payload))
    XCTAssertEqual(s.newModel, Hash256(bytes: Array(fileA.suffix(32))))
    XCTAssertEqual(s.baseModel.bytes, base)
    // The rule and parameters are the round-open's, which the ledger proves.
    XCTAssertEqual(s.rule, "mean")
    XCTAssertEqual(s.parameters, rules.statementParameters)
    let reasons = s.rejected.map(\.reason)
    XCTAssertEqual(
      reasons,
      [
        "update from cluster-3 is for round 1, not round 2",
        "update from cluster-4 was trained from another base model",
        reasons[2],
        "was committed by cluster-6 but names another cluster",
        "contains values that are not finite",
        "claims more training samples than the round's cap of 1000",
      ])
    XCTAssert(reasons[2].contains("does not carry a valid signature of cluster-5"), reasons[2])
    // The model moved by the mean of the three accepted deltas.
    let model = try ModelBytes(fileA)
    XCTAssertEqual(model.parameters[10], 0.5 + 11e-3, accuracy: 2e-6)

    // Both endorsements count on the ledger, for their own platforms.
    XCTAssertEqual(try genesis.endorser(of: ea, at: Date()).get().name, "node-0")
    XCTAssertEqual(try genesis.endorser(of: eb, at: Date()).get().name, "node-1")
    XCTAssert(ea.verifies(network: genesis.hash))
    XCTAssertEqual(ea.evidence.kind, .simulatedEnclave)

    // Asked again for the same round, an enclave signs the same statement again (a retry
    // after fresh collateral, say), but never an earlier round.
    let again = try Endorsement(canonical: try a.aggregate(request).endorsement)
    XCTAssertEqual(again.statement, ea.statement)
    let earlier = AggregateRequest.proven(
      network: network, round: 1, baseModel: baseFile, rules: rules,
      updates: Array(updates[0..<3]), node: node)
    XCTAssertThrowsError(try a.aggregate(earlier)) {
      XCTAssert("\($0)".contains("before round 2"), "\($0)")
    }
  }

  /// Hole 1 of the review, asked again: a fresh enclave (new keys, no sealed state: what a
  /// host gets by restarting one, or by rolling its sealed state back) and an enclave asked a
  /// second time both return the very same statement and model, because everything that
  /// decides them comes from the ledger's proofs. Asking again reveals nothing new.
  func testAFreshEnclaveAndASecondAskReturnTheSameStatement() throws {
    let (a, _) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    let updates = try (0..<4).map { try envelope(cluster: $0, round: 1, base: base, group: group) }
    let request = AggregateRequest.proven(
      network: network, round: 1, baseModel: baseFile,
      rules: RoundRules(rule: .krum(f: 1, select: nil), minimumCohort: 3), updates: updates,
      node: node)
    let first = try a.aggregate(request)
    let fresh = try join(a, platform: platformA)
    XCTAssertEqual(fresh.lastEndorsedRound, 0)
    let second = try fresh.aggregate(request)
    let third = try a.aggregate(request)
    XCTAssertEqual(try second.statement.newModelBlob, try first.statement.newModelBlob)
    XCTAssertEqual(try third.statement.newModelBlob, try first.statement.newModelBlob)
    let statements = try [first, second, third].map {
      try Endorsement(canonical: $0.endorsement).statement
    }
    XCTAssertEqual(Set(statements.map(\.hash)).count, 1)
  }

  /// Hole 1 of the review: the host supplied each update's cluster and key, and the rule and
  /// its settings, so a host with the genuine proof could hand keys for the victim alone (the
  /// others were "rejected") or ask for Krum select 1, and get base + the victim's update.
  /// Now every field comes from the proven round-close and the round-open it names; a request
  /// that differs from the ledger in anything is refused whole, never turned into rejected
  /// updates.
  func testARequestDifferingFromTheLedgerInAnyFieldIsRefusedWhole() throws {
    let (a, _) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    let updates = try (0..<3).map { try envelope(cluster: $0, round: 1, base: base, group: group) }
    let rules = RoundRules(minimumCohort: 3)
    let full = AggregateRequest.proven(
      network: network, round: 1, baseModel: baseFile, rules: rules, updates: updates, node: node)
    func refused(_ r: AggregateRequest, _ text: String, line: UInt = #line) {
      XCTAssertThrowsError(try a.aggregate(r), line: line) {
        XCTAssert("\($0)".contains(text), "\($0)", line: line)
      }
    }
    // Envelopes: all but one, in another order, one replaced, one more.
    var subset = full
    subset.envelopes.removeLast()
    refused(subset, "2 envelope(s) given; round 1 closed with 3")
    var reordered = full
    reordered.envelopes.reverse()
    refused(reordered, "are not the 3 round 1 closed with, in ledger order")
    var replaced = full
    replaced.envelopes[0] = try envelope(cluster: 0, round: 1, base: base, group: group).envelope
    refused(replaced, "are not the 3 round 1 closed with")
    var extra = full
    extra.envelopes.append(full.envelopes[0])
    refused(extra, "4 envelope(s) given")
    // The victim's key alone (the host's old trick), or another key: only a close the
    // ledger's nodes signed carries keys, and that one has the enrolled ones.
    refused(
      .proven(
        network: network, round: 1, baseModel: baseFile, rules: rules, updates: updates,
        node: SigningKey()),
      "0 valid node signature(s); the quorum is 1")
    var swappedKey = full
    var close = try RoundClose(transaction: full.closed.transaction)
    close.updates[1].key = PublicKey(bytes: Array(clusterKeys[9].publicKey.rawRepresentation))!
    swappedKey.closed.transaction = close.transactionBytes
    refused(swappedKey, "its Merkle path does not reach the root")
    // The rule: a round-open the close does not name (Krum select 1, median, a tiny norm
    // bound, 30 fractional bits, a cohort of one) is refused, however well formed.
    for other in [
      RoundRules(rule: .krum(f: 0, select: 1), minimumCohort: 1), RoundRules(rule: .median),
      RoundRules(normBound: 1e-6), RoundRules(fractionalBits: 30), RoundRules(minimumCohort: 1),
    ] {
      var r = full
      r.open =
        RoundOpen(
          network: genesis.hash, round: 1, baseModel: Hash256(bytes: base)!, participants: [],
          rules: other, node: node
        ).transactionBytes
      refused(r, "the round-open given is not the one round 1's round-close names")
    }
    // A round whose (proven) round-open names another group key than the enclave holds: its
    // updates could not open here, and that would be no cluster's fault.
    refused(
      .proven(
        network: network, round: 1, baseModel: baseFile, rules: rules,
        groupKey: [UInt8](repeating: 5, count: 32), updates: updates, node: node),
      "names another group key than the one this enclave holds")
    // The base model: another file, however valid.
    var otherBase = full
    otherBase.baseModel = Self.modelFile([Float](repeating: 1, count: Self.parameters))
    refused(otherBase, "the base model given is not the one round 1 opened on")
    // Bytes that are no model file at all are refused by the proven hash, before any parsing.
    otherBase.baseModel = [UInt8](repeating: 0xff, count: 64)
    refused(otherBase, "the base model given is not the one round 1 opened on")
    // The proven hash at the end of a file whose content does not hash to it: refused too.
    otherBase.baseModel = [UInt8](repeating: 0, count: 100) + baseFile.suffix(32)
    refused(otherBase, "the base model file")
    // The proof: another round, another network, another block, a broken path or index.
    var otherNetwork = full
    otherNetwork.closed =
      AggregateRequest.proven(
        network: Array(repeating: 9, count: 32), round: 1, baseModel: baseFile, rules: rules,
        updates: updates, node: node
      ).closed
    refused(otherNetwork, "is not the one round 1's round-close names")
    var otherRound = full
    otherRound.closed =
      AggregateRequest.proven(
        network: network, round: 2, baseModel: baseFile, rules: rules, updates: updates,
        node: node
      ).closed
    refused(otherRound, "is not the one round 2's round-close names")
    // A block the ledger's quorum signed (colluding, say) holding a round-open or round-close
    // that no node signed: refused too.
    var unsignedClose = try RoundClose(transaction: full.closed.transaction)
    unsignedClose = RoundClose(
      network: genesis.hash, round: 1, open: unsignedClose.open, updates: unsignedClose.updates,
      node: SigningKey())
    var strangerClose = full
    strangerClose.closed = .lone(
      unsignedClose.transactionBytes, network: genesis.hash, signedBy: [node])
    refused(strangerClose, "the round-close is not signed by a ledger node")
    var badIndex = full
    badIndex.closed.index = 1
    refused(badIndex, "its Merkle path does not reach the root")
    var badHeader = full
    badHeader.closed.header.height += 1
    refused(badHeader, "0 valid node signature(s)")
    // Every byte of the request's proof and round-open, flipped one at a time, is refused
    // (or, for the unsigned parts of the proof, changes nothing the enclave uses).
    let bytes = full.canonicalBytes
    let model = try a.aggregate(full).statement.newModelBlob
    var reachable = 0
    for i in 0..<min(bytes.count, full.closed.canonicalBytes.count + 4 + full.open.count) {
      var b = bytes
      b[i] ^= 0x01
      guard let r = try? AggregateRequest(canonical: b) else { continue }
      if let answer = try? a.aggregate(r) {
        XCTAssertEqual(try answer.statement.newModelBlob, model, "byte \(i)")
        reachable += 1
      }
    }
    // Only the block's unsigned parts (the proposer's time and name are signed; signature
    // list order is not) may change without effect: a handful of bytes at most.
    XCTAssertLessThan(reachable, 8)
    // The genuine request aggregates.
    XCTAssertNoThrow(try a.aggregate(full))
  }

  /// A round's aggregate leaves the enclave only once the ledger proves the model committed:
  /// a host that aborts a closed round (or never gathers k endorsements) and re-runs the same
  /// base model with another cohort has no uncommitted aggregate to subtract.
  func testTheModelLeavesTheEnclaveOnlyAgainstTheProofOfItsCommit() throws {
    let (a, b) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    let updates = try (0..<3).map { try envelope(cluster: $0, round: 1, base: base, group: group) }
    let response = try a.aggregate(
      .proven(network: network, round: 1, baseModel: baseFile, updates: updates, node: node))
    XCTAssertNotNil(try? AggregateResponse(canonical: response.canonicalBytes))
    let s = try Endorsement(canonical: response.endorsement).statement
    func commit(
      model: Hash256? = nil, blob: Hash256? = nil, round: UInt64 = 1, statement: Hash256? = nil
    ) -> ModelCommit {
      ModelCommit(
        round: round, model: model ?? s.newModel, modelBlob: blob ?? s.newModelBlob,
        modelSize: s.newModelSize, statement: statement ?? s.hash, endorsements: [])
    }
    func refused(_ p: InclusionProof, on e: Enclave? = nil, _ text: String, line: UInt = #line) {
      XCTAssertThrowsError(try (e ?? a).release(p), line: line) {
        XCTAssert("\($0)".contains(text), "\($0)", line: line)
      }
    }
    let net = genesis.hash
    // No proof by the ledger's nodes, another model, another round, another transaction.
    refused(
      .lone(commit().transactionBytes, network: net, signedBy: [SigningKey()]),
      "0 valid node signature(s)")
    refused(
      .lone(commit(model: Hash256.of([1])).transactionBytes, network: net, signedBy: [node]),
      "names another statement or model")
    refused(
      .lone(commit(blob: Hash256.of([1])).transactionBytes, network: net, signedBy: [node]),
      "names another statement or model")
    refused(
      .lone(commit(round: 2).transactionBytes, network: net, signedBy: [node]),
      "holds no model of round 2")
    // A commit of another statement naming the same model, or of another network.
    refused(
      .lone(commit(statement: Hash256.of([2])).transactionBytes, network: net, signedBy: [node]),
      "names another statement or model")
    refused(
      .lone(commit().transactionBytes, network: Hash256.of([3]), signedBy: [node]),
      "holds no model of round 1 of this network")
    let close = AggregateRequest.proven(
      network: network, round: 1, baseModel: baseFile, updates: updates, node: node
    ).closed
    refused(close, "is not a model commit")
    // An enclave that did not aggregate the round has nothing to give.
    refused(
      .lone(commit().transactionBytes, network: net, signedBy: [node]), on: b,
      "holds no model of round 1")
    // The proven commit releases it.
    let file = try a.release(.lone(commit().transactionBytes, network: net, signedBy: [node]))
    XCTAssertEqual(Hash256.of(file), s.newModelBlob)
  }

  /// Hole 2 of the review, at the enclave: it refuses to aggregate fewer updates than the
  /// round-open demands, whatever the host or a forged ledger says, and refuses to endorse a
  /// round where fewer than that many pass validation.
  func testAnEnclaveNeverAggregatesFewerThanTheMinimumCohort() throws {
    let (a, _) = try pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let baseFile = Self.modelFile([Float](repeating: 0, count: Self.parameters))
    let base = Array(baseFile.suffix(32))
    let victim = try envelope(cluster: 0, round: 1, base: base, group: group)
    // A round closed on the victim alone, under rules demanding three.
    XCTAssertThrowsError(
      try a.aggregate(
        .proven(
          network: network, round: 1, baseModel: baseFile, rules: RoundRules(minimumCohort: 3),
          updates: [victim], node: node))
    ) { XCTAssert("\($0)".contains("closed with 1 update(s); its rules need at least 3"), "\($0)") }
    // Three committed, two of them broken by their senders (the host's Sybils, say): one
    // passes, and the enclave will not publish it as the round's model.
    var nan = [Float](repeating: 0, count: Self.parameters)
    nan[0] = .nan
    let sybils = try (1...2).map {
      try envelope(cluster: $0, round: 1, base: base, group: group, values: nan)
    }
    XCTAssertThrowsError(
      try a.aggregate(
        .proven(
          network: network, round: 1, baseModel: baseFile, rules: RoundRules(minimumCohort: 3),
          updates: [victim] + sybils, node: node))
    ) {
      XCTAssertEqual(
        $0 as? EnclaveError,
        .tooFewUpdates(
          "in round 1, fewer updates passed validation and the rule than its minimum cohort of 3"
        ))
    }
    XCTAssertEqual(a.lastEndorsedRound, 0)
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
    // A rogue platform's enclave, given updates sealed to its own group key.
    let rogue = Enclave(measurement: measurement, platform: SimulatedPlatform(), policy: policy)
    try rogue.createGroupKey()
    let sealedToRogue = try envelope(
      cluster: 0, round: 1, base: Array(baseFile.suffix(32)),
      group: try XCTUnwrap(rogue.groupPublicKey))
    let rogueEndorsement = try Endorsement(
      canonical: try rogue.aggregate(
        .proven(
          network: network, round: 1, baseModel: baseFile, updates: [sealedToRogue], node: node)
      ).endorsement)
    refused(genesis, rogueEndorsement, "not a simulated-enclave endorser")
  }
}

/// The request and response messages and their frames.
