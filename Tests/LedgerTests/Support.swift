import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// A small consortium with fixed keys: members, nodes (which also endorse) and clusters.
struct TestNetwork {
  let members: [SigningKey]
  let nodes: [SigningKey]
  let clusters: [SigningKey]
  let genesis: Genesis
  /// The group key round-opens name: a fixed stand-in on networks with enclave endorsers
  /// (whose tests record it with an enclave's evidence first), none elsewhere.
  let groupKey: [UInt8]?

  init(
    nodes n: Int = 4, threshold: Int = 3, clusters c: Int = 3, initialModel: Hash256? = model(0),
    endorsers: [Genesis.Endorser]? = nil, enclaveMeasurements: [Hash256] = [],
    sgxRootCA: [UInt8]? = nil, rules: RoundRules? = nil, clustersPerMember: Int? = 1,
    evaluation: EvaluationRules? = nil
  ) {
    // Networks with enclave endorsers need a cohort above one member's clusters plus one.
    let enclaves = endorsers?.contains { $0.kind != .genesisKey } ?? false
    let rules = rules ?? RoundRules(minimumCohort: enclaves ? 3 : 2)
    groupKey = enclaves ? [UInt8](repeating: 0x42, count: 32) : nil
    func key(_ role: UInt8, _ i: Int) -> SigningKey {
      try! SigningKey(seed: [role, UInt8(i)] + [UInt8](repeating: 7, count: 30))
    }
    members = (0..<n).map { key(1, $0) }
    nodes = (0..<n).map { key(2, $0) }
    clusters = (0..<c).map { key(3, $0) }
    genesis = Genesis(
      network: "test", createdAt: "2026-11-26T12:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodes.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: endorsers
        ?? nodes.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: threshold, initialModel: initialModel,
      round: [Setting("rule", "fedavg"), Setting("localEpochs", "1")],
      enclaveMeasurements: enclaveMeasurements, sgxRootCA: sgxRootCA, rules: rules,
      clustersPerMember: clustersPerMember, evaluation: evaluation)
  }

  var network: Hash256 { genesis.hash }

  /// Replicas for every node under `directory`, and an orderer with a fixed clock.
  func open(
    _ directory: String, maxBlock: Int = 1000, clock: UInt64 = 1_800_000_000_000
  ) throws -> EmbeddedOrderer {
    try open(directory, maxBlock: maxBlock, ticking: TestClock(clock))
  }

  /// Replicas for every node under `directory` and an orderer, all on `clock` (the orderer
  /// `ahead` milliseconds ahead of the nodes).
  func open(
    _ directory: String, maxBlock: Int = 1000, ticking clock: TestClock, ahead: UInt64 = 0
  ) throws -> EmbeddedOrderer {
    let replicas = try nodes.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key,
        clock: { clock.now })
    }
    return try EmbeddedOrderer(
      replicas: replicas, maxBlockTransactions: maxBlock, clock: { clock.now + ahead })
  }

  func enrol(_ i: Int) -> Transaction {
    .enrolment(
      ClusterEnrolment(
        network: network, cluster: "cluster-\(i)", key: clusters[i].publicKey,
        member: "member-\(i % members.count)", memberKey: members[i % members.count]))
  }

  /// Round `round`'s round-open on `base`, signed by node `node` (with genesis's rules unless
  /// `rules` says otherwise).
  func roundOpen(
    _ round: UInt64, base: Hash256, participants: [String] = [], rules: RoundRules? = nil,
    by node: Int = 0
  ) -> Transaction {
    .roundOpen(
      RoundOpen(
        network: network, round: round, baseModel: base, participants: participants,
        rules: rules ?? genesis.rules, configuration: genesis.round, groupKey: groupKey,
        node: nodes[node]))
  }

  /// The round-close's entry for cluster `i`'s payload.
  func entry(cluster i: Int, payload: Hash256) -> RoundClose.Entry {
    .init(cluster: "cluster-\(i)", key: clusters[i].publicKey, payload: payload)
  }

  /// The round-close of `open`'s round listing `entries`, signed by node `node`.
  func roundClose(_ open: Transaction, entries: [RoundClose.Entry], by node: Int = 0)
    -> Transaction
  {
    .roundClose(
      RoundClose(
        network: network, round: open.round!, open: Hash256.of(open.canonicalBytes),
        updates: entries, node: nodes[node]))
  }

  /// A node's signed abort of `round`.
  func roundAbort(_ round: UInt64, reason: String = "too few updates", by node: Int = 0)
    -> Transaction
  {
    .roundAbort(RoundAbort(network: network, round: round, reason: reason, node: nodes[node]))
  }

  func commitment(round: UInt64, cluster i: Int, payload: [UInt8]) -> Transaction {
    .commitment(
      UpdateCommitment(
        network: network, round: round, cluster: "cluster-\(i)", payload: Hash256.of(payload),
        payloadSize: UInt64(payload.count), clusterKey: clusters[i]))
  }

  /// A statement accepting all but the last update (all of them when that would fall short of
  /// the minimum cohort), which it rejects.
  func statement(round: UInt64, base: Hash256, updates: [Hash256], newModel: Hash256)
    -> AggregationStatement
  {
    let rejecting = updates.count > genesis.rules.minimumCohort ? 1 : 0
    return AggregationStatement(
      round: round, baseModel: base,
      accepted: updates.dropLast(rejecting).map { .init(update: $0) },
      rejected: updates.suffix(rejecting).map {
        .init(update: $0, reason: "contains values that are not finite")
      },
      rule: genesis.rules.ruleName, parameters: genesis.rules.statementParameters,
      newModel: newModel, newModelBlob: Hash256.of(modelBytes(newModel)),
      newModelSize: UInt64(modelBytes(newModel).count))
  }

  /// Runs one full round through the orderer: open, commitments, close, endorsements by
  /// `endorsers` (node indices), commit. Returns the ordered blocks.
  @discardableResult
  func round(
    _ round: UInt64, on orderer: EmbeddedOrderer, base: Hash256, newModel: Hash256,
    endorsers: [Int]? = nil, endorse: ((AggregationStatement, Int) -> Endorsement)? = nil
  ) throws -> [OrderedBlock] {
    let payloads = clusters.indices.map { payload(round: round, cluster: $0) }
    let open = roundOpen(round, base: base)
    orderer.submit(open)
    for (i, p) in payloads.enumerated() {
      for r in orderer.replicas { try r.blobs.put(p) }
      orderer.submit(commitment(round: round, cluster: i, payload: p))
    }
    let updates = payloads.map { Hash256.of($0) }
    orderer.submit(
      roundClose(open, entries: updates.enumerated().map { entry(cluster: $0, payload: $1) }))
    let s = statement(round: round, base: base, updates: updates, newModel: newModel)
    var hashes: [Hash256] = []
    for i in endorsers ?? Array(nodes.indices) {
      let tx = Transaction.endorsement(
        endorse?(s, i) ?? Endorsement(network: network, statement: s, key: nodes[i]))
      hashes.append(Hash256.of(tx.canonicalBytes))
      orderer.submit(tx)
    }
    orderer.submit(
      try commit(round, model: newModel, statement: s.hash, endorsements: hashes, on: orderer))
    return try orderer.cut()
  }

  /// The model commit of `round` naming `endorsements`, with the model's blob put on every
  /// replica of `orderer`.
  func commit(
    _ round: UInt64, model: Hash256, statement: Hash256, endorsements: [Hash256],
    on orderer: EmbeddedOrderer
  ) throws -> Transaction {
    let blob = modelBytes(model)
    for r in orderer.replicas { try r.blobs.put(blob) }
    return .modelCommit(
      ModelCommit(
        round: round, model: model, modelBlob: Hash256.of(blob), modelSize: UInt64(blob.count),
        statement: statement, endorsements: endorsements.sorted()))
  }

  func payload(round: UInt64, cluster: Int) -> [UInt8] {
    Array("update r\(round) c\(cluster) ".utf8) + [UInt8](repeating: UInt8(cluster), count: 100)
  }
}

/// A clock a test moves by hand, in milliseconds since 1970.
final class TestClock: @unchecked Sendable {
  var now: UInt64
  init(_ now: UInt64) { self.now = now }
}

/// A stand-in model hash and model file bytes for it.
func model(_ i: Int) -> Hash256 { Hash256.of(Array("model \(i)".utf8)) }
func modelBytes(_ h: Hash256) -> [UInt8] { Array("a model file for ".utf8) + h.bytes }

func temporaryDirectory(_ name: String = #function) -> String {
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(
    "fedledger-\(name.filter(\.isLetter))-\(UUID().uuidString)"
  ).path
  try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
  return path
}

func assertThrows(
  _ body: @autoclosure () throws -> some Any, containing text: String,
  file: StaticString = #filePath, line: UInt = #line
) {
  do {
    _ = try body()
    XCTFail("expected an error containing \"\(text)\"", file: file, line: line)
  } catch {
    XCTAssert(
      "\(error)".contains(text), "error \"\(error)\" does not contain \"\(text)\"", file: file,
      line: line)
  }
}
