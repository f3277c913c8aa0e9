import Dispatch
import Federation
import Foundation
import Gateway
import Host
import Learning
import Ledger
import Ordering
import Privacy
import Records
import RecordsJSON

/// A whole FedLedger network in this process, for `simulate`: a consortium that founds a
/// ledger, its nodes' hosts (each with its replica, blob store and aggregator), their enclaves
/// in privacy mode tee, and one agent per cluster.
///
/// It is only the wiring: each role's code is the one a deployment runs (`ClusterAgent`,
/// `NodeHost`, `EmbeddedOrderer`, the enclave program). Per round it hands each update to its
/// cluster's agent, which protects and signs it; publishes the payload to every node's blob
/// store and orders the commitment; has the first node open, close (or abort) the round; has
/// every node's aggregator endorse the closed round; and commits the statement k endorsements
/// agree on. Each global model is written with its receipt. Every node checks every block
/// itself; the run stops if any transaction is invalid or any node ends at another head.
///
/// For tests of the quorum it also plays Byzantine hosts: the last `byzantineNodes` nodes
/// forge endorsements with their simulated platform's key.
public final class SimulatedNetwork: RoundBackend {
  public let directory: String
  public let genesis: Genesis
  public let orderer: EmbeddedOrderer
  public let blobExchange: LocalBlobExchange
  public let hosts: [NodeHost]
  public let agents: [ClusterAgent]
  /// What decides every round's result, as genesis fixes it.
  public let rules: RoundRules
  /// The nodes' enclaves, in node order (mode tee); empty in mode none.
  public let enclaves: [EnclaveClient]
  /// How the nodes run their enclaves.
  public enum EnclavePlacement: String, Sendable {
    /// One `fedledger-enclave` process per node.
    case process
    /// The enclave code in this process, through the same messages (no isolation at all).
    case inProcess = "in-process"
    /// No enclaves (privacy mode none).
    case none
  }
  public let enclavePlacement: EnclavePlacement
  /// The enclaves' measurement (mode tee).
  public let measurement: [UInt8]?
  let byzantine: [ByzantineHost]
  /// The devices each cluster enrolled with.
  public let enrolledDevices: [UInt32]
  let roundSettings: [Setting]
  var groupKey: [UInt8]?

  // The open round.
  private var baseHash: Hash256 = .zero
  private var baseFile: [UInt8] = []
  var openTransaction: [UInt8] = []
  private var entries: [RoundClose.Entry] = []
  private var clusterOf: [Hash256: ClusterID] = [:]
  /// Secure aggregation: the shares messages this round's shares-close fixed.
  var secaggShares: [(cluster: String, body: [UInt8])]?
  /// Time this round spent recording (ordering, storing, sealing, receipts).
  private var recordingNanoseconds: UInt64 = 0

  /// Paths of the receipt written for each round's model.
  public private(set) var receipts: [Int: String] = [:]
  /// The receipt of the last committed model (nil before the first commit).
  var lastReceipt: Receipt?
  public private(set) var blocks = 0
  public private(set) var transactions = 0

  /// Sees every frame between the hosts and their enclaves (tests).
  public var tap: (@Sendable ([UInt8]) -> Void)? {
    didSet { for e in enclaves { e.tap = tap } }
  }

  /// Founds the network under `directory` (genesis.json, ledger/node-N, models/, and in mode
  /// tee enclaves/node-N with each node's simulated platform, sealed state and enclave log).
  /// In mode none each node's aggregator runs `makeStrategy()` (by default the configured one).
  public init(
    directory: String, configuration c: SimulationConfiguration, clusters: Int,
    initialModel: Model, rules: RoundRules, evaluation: EvaluationRules? = nil,
    devices: [Int]? = nil, network: String = "fedledger-simulation",
    enclaves launch: EnclaveLaunch = .automatic, makeStrategy: (() -> any Strategy)? = nil
  ) throws {
    self.directory = directory
    self.rules = rules
    let n = c.ledger.nodes
    // A consortium of the clusters' operators, one member each; the first n also run the
    // ledger nodes. One cluster per member keeps any member's own updates short of a cohort.
    let members = (0..<max(n, clusters)).map { _ in SigningKey() }
    let nodeKeys = (0..<n).map { _ in SigningKey() }
    let fm = FileManager.default
    // Enclaves first: genesis lists their platforms and measurement.
    let launched = c.privacy.mode == .tee ? try Self.launchEnclaves(n, in: directory, launch) : nil
    measurement = launched?.measurement
    enclavePlacement = launched?.placement ?? .none
    enclaves = launched?.clients ?? []
    let platforms = launched?.platforms ?? []
    roundSettings = try c.recordedSettings
    let genesis = try Genesis.consortium(
      network: network, configuration: c, members: members, nodes: nodeKeys,
      enclavePlatforms: platforms.map(\.publicKey), measurement: measurement,
      initialModel: Hash256(hex: initialModel.hash), rules: rules, evaluation: evaluation)
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
    blobExchange = LocalBlobExchange(stores: replicas.map(\.blobs))
    let strategy = makeStrategy ?? { c.makeStrategy(sampleCap: rules.sampleCap) }
    let enclaveClients = enclaves
    hosts = zip(replicas, nodeKeys).enumerated().map { i, node in
      let aggregator: any RoundAggregator =
        if !enclaveClients.isEmpty {
          EnclaveAggregator(enclave: enclaveClients[i])
        } else if rules.secureAggregation != nil {
          SecAggAggregator(
            key: node.1, network: genesis.hash, nodes: Set(genesis.nodes.map(\.key)),
            quorum: genesis.blockQuorum)
        } else {
          ClearAggregator(
            strategy: strategy(), key: node.1, network: genesis.hash,
            nodes: Set(genesis.nodes.map(\.key)), quorum: genesis.blockQuorum,
            clusterName: Self.name)
        }
      return NodeHost(replica: node.0, key: node.1, aggregator: aggregator)
    }
    agents = (0..<clusters).map {
      ClusterAgent(id: $0, name: Self.name($0), genesis: genesis)
    }
    // Byzantine hosts forge with their simulated platform's key: only in mode tee.
    let forgers = platforms.isEmpty ? 0..<0 : n - c.ledger.byzantineNodes..<n
    let measured = launched?.measurement ?? []
    byzantine = forgers.map {
      ByzantineHost(
        node: $0, platform: platforms[$0], measurement: measured,
        policy: genesis.enclavePolicy(), network: genesis.hash)
    }
    // Each cluster enrols with its devices: the most its updates may claim to stand for.
    enrolledDevices = (0..<clusters).map {
      UInt32(clamping: max(1, devices?.indices.contains($0) == true ? devices![$0] : 1))
    }
    if !enclaves.isEmpty { try startEnclaves() }
    for agent in agents {
      orderer.submit(
        agent.enrolment(
          member: "member-\(agent.id)", memberKey: members[agent.id],
          devices: enrolledDevices[agent.id]))
    }
    try cut("enrolment")
    if !enclaves.isEmpty { try clustersCheckEnclaves() }
  }

  @Sendable static func name(_ id: ClusterID) -> String { "cluster-\(id)" }

  public var network: Hash256 { genesis.hash }
  public var head: Hash256 { orderer.replicas[0].head }
  public var height: UInt64 { orderer.replicas[0].height ?? 0 }
  /// The node that opens, closes and aborts rounds (any genesis node may; here the first).
  var coordinator: NodeHost { hosts[0] }
  /// Cluster-side time spent protecting (sealing) updates, all rounds.
  public var sealingSeconds: Double {
    Double(agents.reduce(0) { $0 + $1.protectingNanoseconds }) / 1e9
  }
  /// Sees each update where its cluster protects it, before anything leaves the cluster (tests).
  public var onSeal: ((ClusterUpdate) -> Void)? {
    get { agents.first?.onProtect }
    set { for a in agents { a.onProtect = newValue } }
  }

  // MARK: A round

  public func open(_ plan: RoundPlan, base model: Model) throws {
    recordingNanoseconds = 0
    try recording {
      entries = []
      clusterOf = [:]
      baseHash = Hash256(hex: plan.baseModelHash) ?? .zero
      baseFile = ModelFile.encode(model)
      let open = coordinator.roundOpen(
        round: UInt64(plan.round), baseModel: baseHash,
        // Sorted under secure aggregation: the ledger takes one order only.
        participants: rules.secureAggregation != nil
          ? plan.participants.map(Self.name).sorted() : plan.participants.map(Self.name),
        rules: rules,
        configuration: roundSettings, groupKey: groupKey)
      openTransaction = open.canonicalBytes
      orderer.submit(open)
      // Each cluster asked checks the base against the ledger before it trains.
      for id in plan.participants where agents.indices.contains(id) {
        try agents[id].acceptBase(baseHash, receipt: lastReceipt)
      }
      secaggShares = nil
      if case .roundOpen(let record) = open, record.rules.secureAggregation != nil {
        try secaggSetUp(record, participants: plan.participants, parameters: model.parameters.count)
      }
    }
  }

  public func prepareEvaluation(of model: Model, round: Int, by evaluators: [ClusterID]) throws
    -> [ClusterID: String]
  {
    guard let hash = Hash256(hex: model.hash) else {
      throw ModelFileError.invalidArchitecture(
        path: nil, reason: "model hash \(model.hash) is not SHA-256")
    }
    return recording {
      // The newest commit's receipt proves the standing model (an aborted round leaves it).
      // Each cluster checks it on its own device: here, at once (one iteration per agent).
      let asked = Array(Set(evaluators)).sorted()
      nonisolated(unsafe) let agents = agents
      let receipt = lastReceipt
      var verdicts = [String?](repeating: nil, count: asked.count)
      verdicts.withUnsafeMutableBufferPointer { out in
        nonisolated(unsafe) let out = out
        DispatchQueue.concurrentPerform(iterations: asked.count) { i in
          let id = asked[i]
          guard agents.indices.contains(id) else {
            out[i] = "cluster \(id) is not enrolled on the ledger"
            return
          }
          do {
            try agents[id].check(hash, receipt: receipt)
          } catch {
            out[i] = "\(agents[id].name) \(error)"
          }
        }
      }
      var refused: [ClusterID: String] = [:]
      for (id, why) in zip(asked, verdicts) where why != nil { refused[id] = why }
      return refused
    }
  }

  public func submit(_ update: ClusterUpdate) throws -> String? {
    guard agents.indices.contains(update.cluster) else {
      return "cluster \(update.cluster) is not enrolled on the ledger"
    }
    return try recording {
      let agent = agents[update.cluster]
      let sent: Submission
      if rules.secureAggregation != nil {
        guard let shares = secaggShares else {
          return "secure aggregation did not start this round (too few clusters dealt shares)"
        }
        do {
          sent = try agent.secaggSubmission(for: update, shares: shares)
        } catch {
          // Its own check refused the update, or a neighbour's share (forged, missing): it
          // sends nothing and drops out, recovered as any dropout.
          return "\(agent.name) \(error)"
        }
      } else {
        sent = try agent.submission(for: update)
      }
      let hash = try blobExchange.publish(sent.payload)
      clusterOf[hash] = agent.id
      entries.append(
        .init(
          cluster: agent.name, key: agent.publicKey, payload: hash,
          devices: enrolledDevices[agent.id]))
      orderer.submit(sent.commitment)
      return nil
    }
  }

  public func finish(round: Int, base: Model) throws -> RoundConclusion {
    let start = DispatchTime.now().uptimeNanoseconds
    var aggregating: UInt64 = 0
    let outcome = try finish(round: round, base: base, aggregating: &aggregating)
    recordingNanoseconds += DispatchTime.now().uptimeNanoseconds - start - aggregating
    return RoundConclusion(
      outcome: outcome, recordingNanoseconds: recordingNanoseconds,
      enclaveNanoseconds: enclaves.isEmpty ? nil : aggregating)
  }

  private func finish(round: Int, base: Model, aggregating: inout UInt64) throws
    -> AggregationOutcome
  {
    let cohort = rules.minimumCohort
    guard entries.count >= cohort else {
      return try abort(round, base, RoundAbortReason.tooFewArrived(entries.count, cohort: cohort))
    }
    let close = coordinator.roundClose(
      round: UInt64(round), open: Hash256.of(openTransaction), updates: entries)
    let closed = try order(
      close, round: round, what: "round-close", in: "round \(round) open and commitments")
    if rules.secureAggregation != nil { try secaggReveal(round: round) }

    // Every honest node's aggregator answers the closed round at once.
    let start = DispatchTime.now().uptimeNanoseconds
    let verdicts = try aggregate(closed: closed)
    aggregating = DispatchTime.now().uptimeNanoseconds - start
    if !enclaves.isEmpty { try sealEnclaves() }

    var endorsed:
      [(
        endorsement: Endorsement, decisions: [UpdateDecision]?,
        refused: [AggregationStatement.Rejected]
      )] = []
    var tooFew: [String] = []
    for v in verdicts {
      switch v {
      case .endorsed(let e, let decisions, let refused): endorsed.append((e, decisions, refused))
      case .tooFewUpdates(let why): tooFew.append(why)
      }
    }
    if !tooFew.isEmpty {
      // Every node reads the same closed round, so all say the same: the round aborts.
      guard endorsed.isEmpty, Set(tooFew).count == 1 else {
        throw RoundError.aggregatorsDisagree(round: round, tooFewUpdates: tooFew)
      }
      return try abort(round, base, tooFew[0])
    }
    // Every node's endorsement goes on the ledger; the tally counts those the ledger kept.
    var submitted = endorsed.enumerated().map { (node: $0, endorsement: $1.endorsement) }
    for b in byzantine {
      submitted.append((b.node, try b.forge(endorsed[0].endorsement.statement)))
    }
    for s in submitted { orderer.submit(.endorsement(s.endorsement)) }
    let verdictOf = Dictionary(
      try cut("round \(round) endorsements", strict: false).flatMap { o in
        zip(o.block.transactions, o.outcomes.map(\.isValid))
      }, uniquingKeysWith: { $0 || $1 })
    var tally = EndorsementTally<AggregationStatement>(threshold: genesis.endorsementThreshold)
    for s in submitted {
      let bytes = Transaction.endorsement(s.endorsement).canonicalBytes
      let endorser = try? genesis.endorser(of: s.endorsement, at: Date(), checkEvidence: false)
        .get().name
      tally.add(s.endorsement, node: s.node, endorser: endorser, valid: verdictOf[bytes] ?? false)
    }
    guard let chosen = tally.quorum else {
      throw RoundError.noQuorum(round: round, counts: tally.counts, threshold: tally.threshold)
    }
    // The commit first: an enclave hands out the model only against the ledger's proof of it.
    let statement = chosen.statement
    let commit = Transaction.modelCommit(
      ModelCommit(
        round: UInt64(round), model: statement.newModel, modelBlob: statement.newModelBlob,
        modelSize: statement.newModelSize, statement: statement.hash,
        endorsements: chosen.endorsements.sorted()))
    let proof = try order(commit, round: round, what: "model commit", in: "round \(round) commit")
    // A node whose aggregator endorsed the statement releases its model.
    guard let signer = chosen.nodes.first(where: { $0 < hosts.count - byzantine.count }) else {
      throw RoundError.noQuorum(round: round, counts: tally.counts, threshold: tally.threshold)
    }
    let file = try hosts[signer].aggregator.release(proof)
    guard try blobExchange.publish(file) == statement.newModelBlob else {
      throw RoundError.releasedAnotherModel(round: round)
    }
    let model: Model
    do {
      model = try ModelFile.decode(file, path: "the round \(round) model")
    } catch {
      throw RoundError.releasedAnotherModel(round: round)
    }
    guard Hash256(hex: model.hash) == statement.newModel else {
      throw RoundError.releasedAnotherModel(round: round)
    }
    try write(round: round, file: file)
    // Every cluster fetches the new model's receipt and checks it against genesis, once, as it
    // learns of the commit (each on its own device: here, at once); training on the model or
    // judging it then needs no second check.
    nonisolated(unsafe) let agents = agents
    if let receipt = lastReceipt, let hash = Hash256(hex: model.hash) {
      DispatchQueue.concurrentPerform(iterations: agents.count) { i in
        try? agents[i].check(hash, receipt: receipt)
      }
    }
    // The strategy's decisions carry weights (mode none); the statement has every update's fate.
    var decisions = decisions(of: statement)
    if let clear = endorsed[signer].decisions {
      let refused = Set(endorsed[signer].refused.compactMap { clusterOf[$0.update] })
      decisions = (clear + decisions.filter { refused.contains($0.cluster) })
        .sorted { $0.cluster < $1.cluster }
    }
    return AggregationOutcome(parameters: model.parameters, decisions: decisions)
  }

  /// Each honest node's verdict on the closed round, in node order, computed at once.
  private func aggregate(closed: InclusionProof) throws -> [AggregatorVerdict] {
    let honest = hosts.count - byzantine.count
    var results = [Result<AggregatorVerdict, any Error>?](repeating: nil, count: honest)
    results.withUnsafeMutableBufferPointer { out in
      nonisolated(unsafe) let out = out
      nonisolated(unsafe) let hosts = hosts
      let open = openTransaction
      let base = baseFile
      DispatchQueue.concurrentPerform(iterations: honest) { i in
        out[i] = Result { try hosts[i].aggregate(closed: closed, open: open, baseModel: base) }
      }
    }
    return try results.map { try $0!.get() }
  }

  /// The statement's verdicts by cluster (enclaves keep weights to themselves).
  private func decisions(of statement: AggregationStatement) -> [UpdateDecision] {
    var decisions: [UpdateDecision] = []
    for a in statement.accepted {
      guard let cluster = clusterOf[a.update] else { continue }
      decisions.append(
        a.note.isEmpty
          ? .init(cluster: cluster, verdict: .accepted, weight: nil)
          : .init(cluster: cluster, verdict: .clipped, weight: nil, reason: a.note))
    }
    for r in statement.rejected {
      guard let cluster = clusterOf[r.update] else { continue }
      decisions.append(.init(cluster: cluster, verdict: .rejected, weight: 0, reason: r.reason))
    }
    return decisions.sorted { $0.cluster < $1.cluster }
  }

  /// Ends the round without a model, with the coordinator's signed round-abort.
  private func abort(_ round: Int, _ base: Model, _ reason: String) throws -> AggregationOutcome {
    orderer.submit(coordinator.roundAbort(round: UInt64(round), reason: reason))
    try cut("round \(round) abort")
    return AggregationOutcome(parameters: base.parameters, decisions: [], aborted: reason)
  }

  /// Writes the round's model and its receipt beside the ledger.
  private func write(round: Int, file: [UInt8]) throws {
    let stem = String(format: "%@/models/round-%03d", directory, round)
    try Data(file).write(to: URL(fileURLWithPath: stem + ".flm"), options: .atomic)
    try writeReceipt(round: round)
  }

  /// Writes the receipt of `round`'s model (with its federated metric, once committed).
  /// `keepLast` leaves the receipt clusters check models with as it is (a metric added later
  /// changes nothing they need).
  func writeReceipt(round: Int, keepLast: Bool = false) throws {
    let stem = String(format: "%@/models/round-%03d", directory, round)
    let receipt = try orderer.replicas[0].receipt(round: UInt64(round))
    try Data(receipt.json()).write(
      to: URL(fileURLWithPath: stem + ".receipt.json"), options: .atomic)
    receipts[round] = stem + ".receipt.json"
    if !keepLast { lastReceipt = receipt }
  }

  func recording<T>(_ body: () throws -> T) rethrows -> T {
    let start = DispatchTime.now().uptimeNanoseconds
    defer { recordingNanoseconds += DispatchTime.now().uptimeNanoseconds - start }
    return try body()
  }

  /// Stops the enclave programs.
  public func shutdown() {
    for e in enclaves { e.close() }
  }

  /// Orders `transaction` with what is pending, and returns the ledger's proof of it.
  func order(_ transaction: Transaction, round: Int, what: String, in blocks: String)
    throws -> InclusionProof
  {
    orderer.submit(transaction)
    let bytes = transaction.canonicalBytes
    guard let proof = try cut(blocks).lazy.compactMap({ $0.proof(of: bytes) }).first else {
      throw RoundError.notOrdered(round: round, what: what)
    }
    return proof
  }

  /// Orders what is pending; when `strict`, every transaction must be valid.
  @discardableResult
  func cut(_ what: String, strict: Bool = true) throws -> [OrderedBlock] {
    let ordered = try orderer.cut()
    for o in ordered {
      blocks += 1
      transactions += o.outcomes.count
      for (i, outcome) in o.outcomes.enumerated() where strict {
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
