import Aggregation
import Attestation
import Crypto
import Dispatch
import Enclave
import EnclaveMessages
import Federation
import Foundation
import Learning
import Ledger
import Ordering
import Protection
import Records
import RecordsJSON
import UpdateSealing

/// Records a simulation's rounds on a ledger kept by simulated nodes in this process, and in
/// privacy mode tee runs each node's enclave.
///
/// It founds a network (genesis with one member per node), enrols every cluster, and for each
/// round orders the round-open, each update's commitment (signed by the cluster's key, payload
/// kept in every node's blob store), the round-close, every endorsement of the aggregation
/// statement and the model commit. Each global model is written with its receipt. Every node
/// checks every block itself; the orderer stops the run if any node reaches a different verdict
/// or head.
///
/// In mode tee, each node runs an enclave (the `fedledger-enclave` program, or the same code in
/// process through the same messages); the first makes the group key and shares it with each
/// other after mutual attestation. Clusters check an enclave's evidence for the group key, then
/// seal each update to it: hosts store, order and forward only envelopes. Each enclave opens,
/// validates and aggregates the closed round and signs its statement; the endorsements go on
/// the ledger, and the model commits with k matching ones. Without enclaves (mode none), the
/// strategy aggregates in the clear and node keys listed in genesis endorse.
public final class LedgerRecorder: RoundRecorder {
  public let directory: String
  public let genesis: Genesis
  public let orderer: EmbeddedOrderer
  private let nodeKeys: [SigningKey]
  private var clusterKeys: [ClusterID: SigningKey] = [:]
  private let roundSettings: [Setting]
  /// What decides every round's result, as genesis fixes it.
  public let rules: RoundRules
  private var payloads: [ClusterID: Hash256] = [:]
  /// Payload hashes in the order their commitments were submitted.
  private var arrivals: [Hash256] = []
  /// The round's commitments as the round-close lists them.
  private var entries: [RoundClose.Entry] = []
  private var base: Hash256 = .zero
  /// The open round's round-open transaction, which enclaves check against the close.
  private var openTransaction: [UInt8] = []
  /// Paths of the receipt written for each round's model.
  public private(set) var receipts: [Int: String] = [:]
  public private(set) var blocks = 0
  public private(set) var transactions = 0

  /// Each node's enclave, in node order (mode tee); empty in mode none.
  public let enclaves: [EnclaveClient]
  /// How the nodes run their enclaves.
  public enum EnclaveMode: String, Sendable {
    /// One `fedledger-enclave` process per node.
    case process
    /// The enclave code in this process, through the same messages (no isolation at all).
    case inProcess = "in-process"
    /// No enclaves (privacy mode none).
    case none
  }
  public let enclaveMode: EnclaveMode
  public let measurement: [UInt8]?
  private var groupKey: Curve25519.KeyAgreement.PublicKey?
  private let byzantineNodes: Int
  /// The simulated platforms of the nodes (a Byzantine host forges with its own).
  private let platforms: [SimulatedPlatform]
  private var envelopes: [Hash256: [UInt8]] = [:]
  private var clusterOf: [Hash256: ClusterID] = [:]
  /// The round's model, committed by `aggregate` (mode tee), for `aggregated` to write out.
  private var pending: (statement: AggregationStatement, model: [UInt8])?
  /// The ledger's proof of the open round's close, for the enclaves.
  private var closed: InclusionProof?
  /// Time `aggregate` spent ordering the round's endorsements and commit and storing the
  /// model (ledger work, not the enclaves'), last round.
  public private(set) var ledgerNanoseconds: UInt64 = 0
  /// Cluster-side time spent sealing updates (mode tee).
  public private(set) var sealingSeconds = 0.0
  /// Enclaves' own time on each round's aggregation, by node, last round.
  public private(set) var enclaveNanoseconds: [UInt64] = []
  /// Sees each update where its cluster seals it, before anything leaves the cluster (tests).
  public var onSeal: ((ClusterUpdate) -> Void)?
  /// Sees every frame between the hosts and their enclaves (tests).
  public var tap: (@Sendable ([UInt8]) -> Void)? {
    didSet { for e in enclaves { e.tap = tap } }
  }

  /// Founds the network under `directory` (genesis.json, ledger/node-N, models/).
  ///
  /// In mode tee, `enclaves` says how each node runs its enclave; each node's simulated
  /// platform, sealed state and enclave log live in `directory`/enclaves/node-N.
  public init(
    directory: String, configuration c: SimulationConfiguration, clusters: Int,
    initialModel: Model, rules: RoundRules, network: String = "fedledger-simulation",
    enclaves launch: EnclaveLaunch = .automatic
  ) throws {
    self.directory = directory
    let n = c.ledgerNodes
    // A consortium of the clusters' operators, one member each; the first n also run the
    // ledger nodes. One cluster per member keeps any member's own updates short of a cohort.
    let members = (0..<max(n, clusters)).map { _ in SigningKey() }
    let nodeKeys = (0..<n).map { _ in SigningKey() }
    self.nodeKeys = nodeKeys
    self.rules = rules
    byzantineNodes = c.byzantineNodes
    let fm = FileManager.default
    // Enclaves first: genesis lists their platforms and measurement.
    var platforms: [SimulatedPlatform] = []
    var transports: [any EnclaveTransport] = []
    var measurement: [UInt8]?
    var mode = EnclaveMode.none
    if c.privacy == .tee {
      let root = directory + "/enclaves"
      try? fm.removeItem(atPath: root)
      let program: String?
      switch launch {
      case .automatic: program = EnclaveProgram.locate()
      case .program(let path):
        guard FileManager.default.isExecutableFile(atPath: path) else {
          throw EnclaveHostError.program("\(path): not an executable enclave program")
        }
        program = path
      case .inProcess: program = nil
      }
      let m: [UInt8]
      if let program {
        m = try Enclave.measure(executable: program)
        mode = .process
      } else {
        m = try Enclave.measure(executable: "/proc/self/exe")
        mode = .inProcess
      }
      measurement = m
      for i in 0..<n {
        let dir = "\(root)/node-\(i)"
        let platform = try SimulatedPlatform.loadOrCreate(path: dir + "/platform.key")
        platforms.append(platform)
        if let program {
          transports.append(
            try ProcessEnclave(
              program: program, platform: dir + "/platform.key", log: dir + "/enclave.log"))
        } else {
          transports.append(
            InProcessEnclave(service: EnclaveService(measurement: m, platform: platform)))
        }
      }
    }
    self.measurement = measurement
    self.platforms = platforms
    enclaveMode = mode
    enclaves = transports.enumerated().map { EnclaveClient(node: "node-\($0)", transport: $1) }
    let settings = flatten(c.settings).filter { !$0.key.hasPrefix("output.") }
    roundSettings = settings
    let created = ISO8601DateFormatter().string(from: Date())
    let genesis = Genesis(
      network: network, createdAt: created,
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodeKeys.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: platforms.isEmpty
        ? nodeKeys.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) }
        : platforms.enumerated().map {
          .init(
            name: "node-\($0)", kind: .simulatedEnclave,
            key: PublicKey(bytes: $1.publicKey)!)
        },
      endorsementThreshold: c.effectiveEndorsementThreshold,
      initialModel: Hash256(hex: initialModel.hash), round: settings,
      enclaveMeasurements: measurement.map { [Hash256(bytes: $0)!] } ?? [], rules: rules,
      clustersPerMember: 1)
    try genesis.validate()
    self.genesis = genesis
    if fm.fileExists(atPath: directory + "/ledger") {
      // A new network each run: an old ledger in the same place would be another network.
      try fm.removeItem(atPath: directory + "/ledger")
    }
    try? fm.removeItem(atPath: directory + "/models")
    try fm.createDirectory(atPath: directory + "/models", withIntermediateDirectories: true)
    try Data(genesis.json()).write(
      to: URL(fileURLWithPath: directory + "/genesis.json"), options: .atomic)
    let replicas = try nodeKeys.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/ledger/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    orderer = try EmbeddedOrderer(replicas: replicas)
    if !enclaves.isEmpty { try startEnclaves() }
    for id in 0..<clusters {
      let key = SigningKey()
      clusterKeys[id] = key
      orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: Self.name(id), key: key.publicKey,
            member: "member-\(id)", memberKey: members[id])))
    }
    try cut("enrolment")
    if !enclaves.isEmpty { try checkGroupKey(clusters: clusters) }
  }

  static func name(_ id: ClusterID) -> String { "cluster-\(id)" }

  public var network: Hash256 { genesis.hash }
  public var head: Hash256 { orderer.replicas[0].head }
  public var height: UInt64 { orderer.replicas[0].height ?? 0 }

  /// The node that opens, closes and aborts rounds (any genesis node may; here the first).
  private var coordinator: SigningKey { nodeKeys[0] }

  public func open(_ plan: RoundPlan, base model: Model) throws {
    payloads = [:]
    arrivals = []
    entries = []
    envelopes = [:]
    clusterOf = [:]
    pending = nil
    base = Hash256(hex: plan.baseModelHash) ?? .zero
    let open = Transaction.roundOpen(
      RoundOpen(
        network: network, round: UInt64(plan.round), baseModel: base,
        participants: plan.participants.map(Self.name), rules: rules,
        configuration: roundSettings, groupKey: groupKey.map { Array($0.rawRepresentation) },
        node: coordinator))
    openTransaction = open.canonicalBytes
    orderer.submit(open)
  }

  public func arrived(_ update: ClusterUpdate) throws -> String? {
    guard let key = clusterKeys[update.cluster] else {
      return "cluster \(update.cluster) is not enrolled on the ledger"
    }
    var payload = UpdatePayload(update).encode()
    if let groupKey {
      // The cluster's side: it seals its update to the attested group key and signs the
      // envelope. Only the envelope leaves the cluster.
      onSeal?(update)
      let start = DispatchTime.now().uptimeNanoseconds
      payload = try UpdateEnvelope.seal(
        payload, network: network.bytes, round: UInt64(update.round),
        cluster: Self.name(update.cluster), baseModel: base.bytes, to: groupKey,
        signedWith: key.key
      ).canonicalBytes
      sealingSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
    let hash = try orderer.storeBlob(payload)
    payloads[update.cluster] = hash
    clusterOf[hash] = update.cluster
    arrivals.append(hash)
    entries.append(.init(cluster: Self.name(update.cluster), key: key.publicKey, payload: hash))
    if groupKey != nil { envelopes[hash] = payload }
    orderer.submit(
      .commitment(
        UpdateCommitment(
          network: network, round: UInt64(update.round), cluster: Self.name(update.cluster),
          payload: hash, payloadSize: UInt64(payload.count), clusterKey: key)))
    return nil
  }

  public func close(round: Int) throws {
    let close = Transaction.roundClose(
      RoundClose(
        network: network, round: UInt64(round), open: Hash256.of(openTransaction),
        updates: entries, node: coordinator))
    orderer.submit(close)
    let bytes = close.canonicalBytes
    closed = nil
    for o in try cut("round \(round) open and commitments") {
      guard let i = o.block.transactions.firstIndex(of: bytes) else { continue }
      closed = o.block.inclusionProof(of: i, valid: o.outcomes.map(\.isValid))
    }
  }

  public func aggregated(round: Int, decisions: [UpdateDecision], model: Model) throws {
    if let pending {
      try write(round: round, file: pending.model)
      return
    }
    var accepted: [AggregationStatement.Accepted] = []
    var rejected: [AggregationStatement.Rejected] = []
    for d in decisions {
      guard let update = payloads[d.cluster] else { continue }
      if d.verdict == .rejected {
        rejected.append(.init(update: update, reason: d.reason ?? "rejected"))
      } else {
        accepted.append(
          .init(
            update: update, note: d.verdict == .clipped ? FixedPointAggregation.clippedNote : ""))
      }
    }
    guard let newModel = Hash256(hex: model.hash) else {
      throw LedgerError.storage(path: directory, reason: "model hash \(model.hash) is not SHA-256")
    }
    let file = ModelFile.encode(model)
    let statement = AggregationStatement(
      round: UInt64(round), baseModel: base, accepted: accepted, rejected: rejected,
      rule: rules.ruleName, parameters: rules.statementParameters, newModel: newModel,
      newModelBlob: Hash256.of(file), newModelSize: UInt64(file.count))
    // Without enclaves, each node's genesis-listed key endorses what the strategy computed.
    var endorsements: [Hash256] = []
    for key in nodeKeys {
      let tx = Transaction.endorsement(
        Endorsement(network: network, statement: statement, key: key))
      endorsements.append(Hash256.of(tx.canonicalBytes))
      orderer.submit(tx)
    }
    try commit(
      round: round, statement: statement, endorsements: endorsements,
      file: file)
  }

  private func commit(
    round: Int, statement: AggregationStatement, endorsements: [Hash256], file: [UInt8]
  ) throws {
    let blob = try orderer.storeBlob(file)
    orderer.submit(
      .modelCommit(
        ModelCommit(
          round: UInt64(round), model: statement.newModel, modelBlob: blob,
          modelSize: UInt64(file.count), statement: statement.hash,
          endorsements: endorsements.sorted())))
    try cut("round \(round) endorsements and commit")
    try write(round: round, file: file)
  }

  /// Writes the round's model and its receipt beside the ledger.
  private func write(round: Int, file: [UInt8]) throws {
    let stem = String(format: "%@/models/round-%03d", directory, round)
    try Data(file).write(to: URL(fileURLWithPath: stem + ".flm"), options: .atomic)
    let receipt = try orderer.replicas[0].receipt(round: UInt64(round))
    try Data(receipt.json()).write(
      to: URL(fileURLWithPath: stem + ".receipt.json"), options: .atomic)
    receipts[round] = stem + ".receipt.json"
  }

  // MARK: Enclaves (privacy mode tee)

  public var aggregates: Bool { !enclaves.isEmpty }

  /// Starts every node's enclave under the genesis policy, shares the group key from the first
  /// to each other after mutual attestation, and records the group key on the ledger with the
  /// first enclave's evidence (ordered with the enrolments).
  private func startEnclaves() throws {
    let policy = genesis.enclavePolicy()
    for e in enclaves { _ = try e.start(sealed: nil, policy: policy) }
    _ = try enclaves[0].createGroupKey()
    for joiner in enclaves.dropFirst() { try enclaves[0].admit(joiner, network: network.bytes) }
    // Every enclave holds the key now; the record carries all their evidence (k is enough).
    var holders: [GroupKeyRecord.Holder] = []
    var key: [UInt8]?
    for (i, e) in enclaves.enumerated() {
      let evidence = try e.evidence(nonce: EnclaveEvidence.ledgerNonce(network: network.bytes))
      guard let held = evidence.groupKey, key == nil || key == held,
        let enclave = PublicKey(bytes: evidence.signingKey)
      else {
        throw EnclaveHostError.program("the enclave of node-\(i) attests no group key or another")
      }
      key = held
      holders.append(
        .init(
          enclave: enclave,
          evidence: Evidence(kind: .simulatedEnclave, bytes: evidence.canonicalBytes)))
    }
    orderer.submit(.groupKey(GroupKeyRecord(groupKey: key!, holders: holders)))
    try sealEnclaves()
  }

  /// Each cluster's own check before it seals anything: an enclave's evidence for the
  /// cluster's nonce verifies against genesis, and the group key it attests is the one the
  /// ledger recorded (and every round-open names), not merely some attested enclave's.
  private func checkGroupKey(clusters: Int) throws {
    let policy = genesis.enclavePolicy()
    guard let recorded = orderer.replicas[0].state.groupKey else {
      throw EnclaveHostError.program("the ledger recorded no group key")
    }
    for id in 0..<clusters {
      var rng = SystemRandomNumberGenerator()
      let nonce = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
      let node = id % enclaves.count
      let evidence = try enclaves[node].evidence(nonce: nonce)
      do {
        try evidence.verify(nonce: nonce, policy: policy)
      } catch {
        throw EnclaveHostError.program(
          "\(Self.name(id)) refuses the enclave of node-\(node): \(error)")
      }
      guard evidence.groupKey == recorded else {
        throw EnclaveHostError.program(
          "\(Self.name(id)) refuses the enclave of node-\(node): it attests another group key than the ledger's"
        )
      }
    }
    groupKey = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: recorded)
  }

  /// Keeps each enclave's sealed state beside its platform, as a node would on disk.
  private func sealEnclaves() throws {
    for (i, e) in enclaves.enumerated() {
      try Data(try e.seal()).write(
        to: URL(fileURLWithPath: "\(directory)/enclaves/node-\(i)/sealed.bin"), options: .atomic)
    }
  }

  /// Ends the round without a model, with a node's signed round-abort.
  public func abort(round: Int, reason: String) throws {
    pending = nil
    orderer.submit(
      .roundAbort(
        RoundAbort(network: network, round: UInt64(round), reason: reason, node: coordinator)))
    try cut("round \(round) abort")
  }

  /// Each node's enclave aggregates the closed round; every endorsement goes on the ledger,
  /// and the statement k of them signed decides the model. The request carries the ledger's
  /// proof of the close, the round-open it names and the bytes their hashes fix: nothing an
  /// enclave takes on its host's word.
  public func aggregate(round: Int, base: Model) throws -> AggregationOutcome {
    guard let closed, (try? RoundClose(transaction: closed.transaction))?.round == UInt64(round)
    else {
      throw EnclaveHostError.program("round \(round) was not closed on the ledger")
    }
    let request = AggregateRequest(
      closed: closed, open: openTransaction, baseModel: ModelFile.encode(base),
      envelopes: arrivals.map { envelopes[$0]! })
    let n = enclaves.count
    // A Byzantine host (the last `byzantineNodes` nodes) cannot make its enclave sign anything
    // but the round as the ledger fixed it; with a simulated platform it can forge, though.
    let honest = n - byzantineNodes
    var results = [Result<AggregateResponse, any Error>?](repeating: nil, count: honest)
    results.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      nonisolated(unsafe) let enclaves = enclaves
      let request = request
      DispatchQueue.concurrentPerform(iterations: honest) { i in
        out[i] = Result { try enclaves[i].aggregate(request) }
      }
    }
    var responses: [AggregateResponse] = []
    var tooFew: [String] = []
    for r in results {
      switch r! {
      case .success(let response): responses.append(response)
      case .failure(EnclaveHostError.tooFewUpdates(_, let why)): tooFew.append(why)
      case .failure(let error): throw error
      }
    }
    if !tooFew.isEmpty {
      // Every enclave reads the same closed round, so all say the same: the round aborts.
      guard responses.isEmpty, Set(tooFew).count == 1 else {
        throw EnclaveHostError.program(
          "round \(round): the enclaves disagree on whether it can commit: \(tooFew)")
      }
      try sealEnclaves()
      return AggregationOutcome(parameters: base.parameters, decisions: [], aborted: tooFew[0])
    }
    enclaveNanoseconds = responses.map(\.nanoseconds)
    try sealEnclaves()

    var endorsements = try responses.map { try Endorsement(canonical: $0.endorsement) }
    if let first = endorsements.first {
      for i in honest..<n {
        endorsements.append(try forge(first.statement, node: i))
      }
    }
    // Endorsements by statement, with an enclave that signed it (to release its model).
    var byStatement: [Hash256: (statement: AggregationStatement, txs: [Hash256], signer: Int?)] =
      [:]
    for (i, e) in endorsements.enumerated() {
      let tx = Transaction.endorsement(e)
      orderer.submit(tx)
      byStatement[e.statement.hash, default: (e.statement, [], nil)].txs.append(
        Hash256.of(tx.canonicalBytes))
      if i < responses.count, byStatement[e.statement.hash]?.signer == nil {
        byStatement[e.statement.hash]?.signer = i
      }
    }
    let k = genesis.endorsementThreshold
    guard let (_, chosen) = byStatement.first(where: { $0.value.txs.count >= k }),
      let signer = chosen.signer
    else {
      try cut("round \(round) endorsements")
      throw EnclaveHostError.program(
        "round \(round): no aggregation statement has \(k) endorsements (\(byStatement.values.map { "\($0.txs.count)" }.joined(separator: ", "))); the round cannot commit"
      )
    }
    // The commit first: an enclave hands out the model only against the ledger's proof of it.
    let blob = chosen.statement.newModelBlob
    let commit = ModelCommit(
      round: UInt64(round), model: chosen.statement.newModel, modelBlob: blob,
      modelSize: chosen.statement.newModelSize, statement: chosen.statement.hash,
      endorsements: chosen.txs)
    let bytes = commit.transactionBytes
    orderer.submit(bytes: bytes)
    var proof: InclusionProof?
    let ledgerStart = DispatchTime.now().uptimeNanoseconds
    defer { ledgerNanoseconds = DispatchTime.now().uptimeNanoseconds - ledgerStart }
    for o in try cut("round \(round) endorsements and commit") {
      guard let i = o.block.transactions.firstIndex(of: bytes) else { continue }
      proof = o.block.inclusionProof(of: i, valid: o.outcomes.map(\.isValid))
    }
    guard let proof else {
      throw EnclaveHostError.program("round \(round): the model commit was not ordered")
    }
    let file = try enclaves[signer].release(proof)
    guard try orderer.storeBlob(file) == blob else {
      throw EnclaveHostError.program(
        "round \(round): the enclave released another model than the committed one")
    }
    let model: Model
    do {
      model = try ModelFile.decode(file, path: "the enclaves' round \(round) model")
    } catch {
      throw EnclaveHostError.program("\(error)")
    }
    guard Hash256(hex: model.hash) == chosen.statement.newModel else {
      throw EnclaveHostError.program(
        "round \(round): the enclaves' model does not hash to the statement's new model")
    }
    pending = (chosen.statement, file)
    var decisions: [UpdateDecision] = []
    // Weights stay inside the enclaves: the statement says only accepted, clipped or rejected.
    for a in chosen.statement.accepted {
      guard let cluster = clusterOf[a.update] else { continue }
      decisions.append(
        a.note.isEmpty
          ? .init(cluster: cluster, verdict: .accepted, weight: nil)
          : .init(cluster: cluster, verdict: .clipped, weight: nil, reason: a.note))
    }
    for r in chosen.statement.rejected {
      guard let cluster = clusterOf[r.update] else { continue }
      decisions.append(.init(cluster: cluster, verdict: .rejected, weight: 0, reason: r.reason))
    }
    return AggregationOutcome(
      parameters: model.parameters, decisions: decisions.sorted { $0.cluster < $1.cluster })
  }

  /// What the Byzantine host of node `i` endorses: `statement` with a model nobody computed,
  /// signed by a key it made and vouched for by its simulated platform, whose secret it holds
  /// (NO HARDWARE PROTECTION). The ledger records it as evidence against node `i`; it can never
  /// count towards the honest statement.
  private func forge(_ statement: AggregationStatement, node i: Int) throws -> Endorsement {
    var forged = statement
    forged.newModel = Hash256.of(
      Array("forged by the host of node-\(i)".utf8) + statement.newModel.bytes)
    let key = SigningKey()
    let encryption = Curve25519.KeyAgreement.PrivateKey()
    let signing = key.publicKey.bytes
    let sealing = Array(encryption.publicKey.rawRepresentation)
    let report = try platforms[i].report(
      measurement: measurement ?? [],
      reportData: EnclaveEvidence.reportData(
        signingKey: signing, encryptionKey: sealing, groupKey: nil,
        policy: genesis.enclavePolicy().digest,
        nonce: EnclaveEvidence.ledgerNonce(network: network.bytes)))
    let evidence = EnclaveEvidence(
      signingKey: signing, encryptionKey: sealing, groupKey: nil, report: report)
    return Endorsement(
      network: network, statement: forged, key: key,
      evidence: Evidence(kind: .simulatedEnclave, bytes: evidence.canonicalBytes))
  }

  /// Stops the enclave programs.
  public func shutdown() {
    for e in enclaves { e.close() }
  }

  /// Orders what is pending; every transaction the simulation submits must be valid.
  @discardableResult
  private func cut(_ what: String) throws -> [EmbeddedOrderer.Ordered] {
    let ordered = try orderer.cut()
    for o in ordered {
      blocks += 1
      transactions += o.outcomes.count
      for (i, outcome) in o.outcomes.enumerated() {
        if let reason = outcome.reason {
          throw LedgerError.rejectedBlock(
            node: orderer.proposer, height: o.block.header.height,
            problem: "holds an invalid transaction \(i) (\(what)): \(reason)")
        }
      }
    }
    let heads = Set(orderer.heads.map(\.head))
    if heads.count != 1 {
      throw LedgerError.rejectedBlock(
        node: "all", height: height, problem: "left the nodes with different heads")
    }
    return ordered
  }
}

/// Nested settings as dotted keys with their values as text, sorted.
func flatten(_ settings: [String: Any], prefix: String = "") -> [Setting] {
  var out: [Setting] = []
  for (key, value) in settings {
    let path = prefix.isEmpty ? key : "\(prefix).\(key)"
    if let nested = value as? [String: Any] {
      out += flatten(nested, prefix: path)
    } else {
      out.append(Setting(path, "\(value)"))
    }
  }
  return out.sorted { $0.key < $1.key }
}
