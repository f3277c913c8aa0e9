import Attestation
import Federation
import Foundation
import GRPCCore
import Gateway
import Learning
import Ledger
import Logging
import NodeAPI
import Records

/// A cluster's gateway as a process: it follows the ledger through one node (failing over to
/// the next when that one fails it), and when a round-open asks it to train, it gets the base
/// model, checks it against its receipt and genesis, trains on its own data, and submits its
/// signed commitment with the payload.
///
/// What it sends for a round is written to `directory` first; after a restart it sends the
/// same bytes again (the ledger keeps one commitment per cluster and round), never a second
/// update.
public actor ClusterDaemon {
  let agent: ClusterAgent
  let cluster: Cluster
  let configuration: SimulationConfiguration
  let genesis: Genesis
  let initialModel: Model
  /// The clusters that keep held-out data (the evaluation schedule draws from them).
  let evaluators: [ClusterID]
  let nodes: [NodeClient]
  let directory: String
  let logger: Logger
  /// The node followed now (an index into `nodes`).
  private var current = 0
  /// The ledger as this cluster checked it, block by block, from genesis.
  private var chain: VerifiedChain
  /// The newest committed model this cluster fetched and checked, with its receipt.
  private var latest: (round: UInt64, hash: Hash256, model: Model, receipt: Receipt)?
  /// The newest round this cluster answered, and the newest it reported on.
  public private(set) var lastRound: UInt64 = 0
  /// Rounds whose model this cluster's own agent refused to report on (it will not change).
  private var noReport: Set<UInt64> = []
  /// The rounds whose reports are on their way to a node (sent while the next round trains).
  private var reportsInFlight: Set<UInt64> = []
  /// Reports a node took, by round: when, and how many times (a report the ledger does not
  /// show after `patience` goes again, to the next node).
  private var reportSent: [UInt64: (at: ContinuousClock.Instant, times: Int)] = [:]
  /// What happened, newest last (the last 100).
  public private(set) var log: ArraySlice<String> = []

  public init(
    agent: sending ClusterAgent, cluster: Cluster, configuration: SimulationConfiguration,
    genesis: Genesis, initialModel: Model, evaluators: [ClusterID], nodes: [NodeClient],
    directory: String, patience: Duration = .seconds(10), logger: Logger
  ) throws {
    self.patience = patience
    guard Hash256(hex: initialModel.hash) == genesis.initialModel else {
      throw ClusterDaemonError.notTheInitialModel(initialModel.hash)
    }
    guard !nodes.isEmpty else { throw ClusterDaemonError.noNodes }
    self.agent = agent
    self.cluster = cluster
    self.configuration = configuration
    self.genesis = genesis
    chain = VerifiedChain(genesis: genesis)
    self.initialModel = initialModel
    self.evaluators = evaluators
    self.nodes = nodes
    self.directory = directory
    self.logger = logger
    try FileManager.default.createDirectory(
      atPath: directory, withIntermediateDirectories: true)
  }

  public var name: String { agent.name }

  /// Follows the ledger and answers rounds until cancelled.
  public func run() async throws {
    try await withThrowingDiscardingTaskGroup { group in
      for n in nodes { group.addTask { try? await n.run() } }
      group.addTask {
        defer { for n in self.nodes { n.close() } }
        try await self.follow()
      }
    }
  }

  /// The height of the newest block this cluster checked.
  public var height: UInt64? { chain.nextHeight == 0 ? nil : chain.nextHeight - 1 }

  /// What the follower reacts to: a block from the node, or a second passing.
  enum Event: Sendable {
    case block(WireBlock)
    case tick
  }

  private func follow() async throws {
    var delay = Duration.milliseconds(200)
    while !Task.isCancelled {
      let node = nodes[current]
      // At most 256 blocks wait (a round's worth while this cluster trains): a node cannot
      // make this cluster buffer without bound.
      let (events, sink) = AsyncStream.makeStream(
        of: Event.self, bufferingPolicy: .bufferingOldest(256))
      let after = height
      do {
        try await withThrowingTaskGroup(of: Void.self) { group in
          group.addTask {
            defer { sink.finish() }
            let full = Flag()
            try await node.blocks(after: after) { block in
              // A full buffer ends the stream (this cluster is behind): it resumes from what
              // it checked, from the same node, at once.
              if case .dropped = sink.yield(.block(block)) {
                full.set()
                return false
              }
              return true
            }
            if full.value { return }
            // A stream that ends by itself is the node's doing: follow another.
            throw ClusterDaemonError.streamEnded(node.address)
          }
          group.addTask {
            while !Task.isCancelled {
              try await Task.sleep(for: .seconds(1))
              sink.yield(.tick)
            }
          }
          for await event in events {
            if case .block(let block) = event {
              try self.check(block, from: node.address)
              delay = .milliseconds(200)
            }
            try await self.act(event)
          }
          try await group.next()
          group.cancelAll()
        }
        continue  // the buffer filled up: on from the same node
      } catch is CancellationError {
        return
      } catch let error as VerifiedChainError {
        note("\(node.address) sent a block that does not check: \(error)", level: .warning)
      } catch {
        note("\(node.address): \(error); following the next node", level: .warning)
      }
      current = (current + 1) % nodes.count
      behindSince = nil
      try await Task.sleep(for: delay)
      delay = min(delay * 2, .seconds(5))
    }
  }

  /// Checks `block` as the next of this cluster's chain and moves past it.
  private func check(_ block: WireBlock, from address: String) throws {
    guard block.height == chain.nextHeight else {
      throw VerifiedChainError.refused(
        height: block.height, "is not the block this cluster asked for (\(chain.nextHeight))")
    }
    try chain.append(
      header: block.header, transactions: block.transactions, signatures: block.signatures)
    lastBlock = .now
  }

  /// When the node followed last sent a block, and since when it says it holds blocks it
  /// does not send (a node that withholds is left after `patience`).
  private var lastBlock = ContinuousClock.now
  private var behindSince: ContinuousClock.Instant?
  /// How long a node may withhold blocks it says it holds, or the ledger may lack an update
  /// this cluster sent, before the cluster turns to the next node.
  let patience: Duration
  /// When this cluster last sent its update for the open round.
  private var sentAt: (round: UInt64, at: ContinuousClock.Instant)?

  /// Does what the checked ledger asks of this cluster now: keep the newest committed model,
  /// report on it when the evaluation schedule asks, train for the newest round if it names
  /// this cluster, and send its update again (to the next node) if the ledger does not show it
  /// after `patience`. While the node followed holds blocks of a newer round (catching up) it
  /// waits; within the node's current round it acts on what it checked so far (the blocks
  /// behind are that round's updates, which change nothing here), but sends nothing it made
  /// before (those blocks may hold it). A node that says it holds newer blocks and sends none
  /// is left.
  private func act(_ event: Event) async throws {
    let state = chain.state
    let current = state.currentRound
    let newest = state.newestCommit()
    // The newest model, and the one before it (judged while the newest's successor trains).
    let judged = [newest.flatMap { state.newestCommit(before: $0.round) }, newest].compactMap {
      $0
    }
    let keep =
      (newest.map { $0.round > (latest?.round ?? 0) } ?? false)
      || judged.contains { reportDue($0, state) }
    let r = state.rounds[current]
    let open = r.map { $0.close == nil && $0.abort == nil } ?? false
    let asked = open && r!.open.participants.contains(agent.name)
    let mine = asked && r!.entries.contains { $0.cluster == agent.name }
    let waiting = keep || (asked && !mine)
    guard waiting else {
      behindSince = nil
      return
    }
    guard let status = try? await nodes[self.current].status(), let top = status.height else {
      return
    }
    let behind = top > chain.nextHeight - 1
    if behind {
      // Behind: the blocks are on their way, but not for ever.
      let since = behindSince ?? .now
      behindSince = since
      if ContinuousClock.now - since > patience && ContinuousClock.now - lastBlock > patience {
        throw ClusterDaemonError.withholding(nodes[self.current].address, height: top)
      }
      // Catching up across rounds (after a restart): no training for a round long over.
      guard status.round == current else { return }
    } else {
      behindSince = nil
    }
    if keep {
      for commit in judged where commit.round == newest?.round || reportDue(commit, state) {
        await step("round \(commit.round)'s model") {
          let model = try await baseModel(commit.model, round: commit.round)
          if behind && kept(String(format: "report-%06llu", commit.round)) { return }
          try await report(on: commit, model, state)
        }
      }
    }
    guard asked, !mine, let r else { return }
    if behind && (sentAt?.round == current || kept(String(format: "round-%06llu", current))) {
      return
    }
    if let sent = sentAt, sent.round == current, ContinuousClock.now - sent.at < patience {
      return
    }
    if sentAt?.round == current {
      // Sent, and still not on the ledger: the next node gets it.
      self.current = (self.current + 1) % nodes.count
    }
    await step("round \(current)") {
      try await answer(r.open)
      sentAt = (current, .now)
    }
    if current > lastRound { lastRound = current }
  }

  /// Whether this cluster made and kept the submission `name` (sent, or to send again).
  private func kept(_ name: String) -> Bool {
    FileManager.default.fileExists(atPath: "\(directory)/\(name).tx")
  }

  /// Runs `body`; a failure is logged (every node was tried), the daemon goes on.
  private func step(_ what: String, _ body: () async throws -> Void) async {
    do {
      try await body()
    } catch {
      if !Task.isCancelled { note("\(what): \(error)", level: .warning) }
    }
  }

  /// Trains on the round's base model and submits the update (or, after a restart, the one
  /// already made for the round).
  private func answer(_ open: RoundOpen) async throws {
    let round = open.round
    let stem = String(format: "%@/round-%06llu", directory, round)
    try await sendOnce(stem, "round \(round)'s update") { () async throws -> Submission? in
      try await trustEnclaves()
      let base = try await baseModel(open.baseModel, round: nil)
      try agent.acceptBase(open.baseModel, receipt: base.receipt)
      let plan = RoundPlan(
        round: Int(round), baseModelHash: base.model.hash,
        participants: open.participants.compactMap { Int($0.dropFirst("cluster-".count)) },
        training: configuration.local, deadline: configuration.participation.deadline,
        sampleCap: open.rules.sampleCap)
      // The simulation's seed for this cluster and round: the same update as `simulate`.
      let seed =
        configuration.seed &+ UInt64(round) &* 1_000_003 &+ UInt64(cluster.id) &* 7919
      let start = ContinuousClock.now
      let update = try cluster.train(plan: plan, base: base.model, seed: seed)
      if let e = update.edge, e.devices == 0 {
        note("round \(round): none of its devices answered; nothing to send")
        return nil
      }
      let trained = Self.seconds(since: start)
      let sealing = ContinuousClock.now
      let submission = try agent.submission(for: update)
      note(
        "round \(round): trained on \(update.sampleCount) samples in \(trained), loss \(String(format: "%.4f", update.trainLoss)); sealed in \(Self.seconds(since: sealing))"
      )
      return submission
    }
  }

  /// Judges the model `commit` names on the cluster's held-out data and submits the sealed
  /// report, if the network's evaluation schedule asks this cluster for it.
  private func report(
    on commit: ModelCommit, _ model: (model: Model, receipt: Receipt?), _ state: LedgerState
  ) async throws {
    guard let rules = genesis.evaluation, reportDue(commit, state) else { return }
    let round = Int(commit.round)
    let stem = String(format: "%@/report-%06llu", directory, commit.round)
    // Sent while this cluster goes on to train: a report is not worth a round's time.
    try await sendOnce(stem, "round \(round)'s evaluation report", waiting: false) {
      () async throws -> Submission? in
      try await trustEnclaves()
      try agent.check(commit.model, receipt: model.receipt)
      let start = ContinuousClock.now
      guard
        let report = try cluster.evaluate(
          model.model, round: round, cap: Int(clamping: rules.sampleCap))
      else { return nil }
      note(
        "round \(round): the model scores accuracy \(String(format: "%.4f", report.accuracy)) on \(report.samples) held-out samples in \(Self.seconds(since: start))"
      )
      do {
        let sent = try agent.reportSubmission(
          for: report, model: commit.model, round: commit.round)
        return Submission(payload: sent.payload, commitment: sent.commitment)
      } catch {
        noReport.insert(commit.round)  // this cluster's own refusal: it will not change
        throw error
      }
    }
  }

  /// A report's sending ended: taken (or held already: `sent` says which node), or to be sent
  /// again.
  private func reported(_ round: UInt64, _ sent: String?, problem: String? = nil) {
    if let sent {
      note(sent)
      reportSent[round] = (.now, (reportSent[round]?.times ?? 0) + 1)
      if reportSent.count > 8, let oldest = reportSent.keys.min() { reportSent[oldest] = nil }
    }
    if let problem { note(problem, level: .warning) }
    reportsInFlight.remove(round)
  }

  /// Whether the evaluation schedule asks this cluster to report on `commit`'s model and the
  /// ledger does not hold its report yet, while the evaluation is open.
  private func reportDue(_ commit: ModelCommit, _ state: LedgerState) -> Bool {
    guard genesis.evaluation != nil, cluster.heldOut != nil, !noReport.contains(commit.round),
      !reportsInFlight.contains(commit.round),
      reportSent[commit.round].map({ ContinuousClock.now - $0.at >= patience }) ?? true,
      let r = state.rounds[commit.round], r.evaluation == nil, state.evaluationOpen(commit.round),
      !r.reports.contains(where: { $0.cluster == agent.name })
    else { return false }
    return configuration.evaluation.strategy.evaluators(
      round: Int(commit.round), lastRound: configuration.rounds, clusters: evaluators,
      seed: configuration.seed
    ).contains(cluster.id)
  }

  /// Privacy tee: before it seals anything, the cluster checks an enclave itself: evidence
  /// for its own nonce, from a node's enclave, that verifies against genesis's policy and
  /// attests the group key the ledger recorded (which its checked chain holds).
  private func trustEnclaves() async throws {
    guard !agent.canProtect else { return }
    guard let key = chain.state.groupKey else { throw ClusterDaemonError.noGroupKey }
    var problems: [String] = []
    for i in 0..<nodes.count {
      let node = nodes[(current + i) % nodes.count]
      do {
        let nonce = agent.challenge()
        let evidence = try EnclaveEvidence(
          canonical: try await node.enclaveEvidence(nonce: nonce))
        try agent.trustEnclaves(
          evidence: evidence, policy: genesis.enclavePolicy(), ledgerGroupKey: key)
        note(
          "the enclave of \(node.address) attests the ledger's group key: updates are sealed to it")
        return
      } catch {
        problems.append("\(node.address): \(error)")
      }
    }
    throw ClusterDaemonError.enclavesRefused(problems)
  }

  /// Sends what `make` makes (kept under `stem` first), or, if an earlier run made it, the
  /// same bytes again: the ledger holds one per cluster, so a restart never sends a second.
  /// Not `waiting`: a report, sent in the background while this cluster trains.
  private func sendOnce(
    _ stem: String, _ what: String, waiting: Bool = true,
    make: () async throws -> Submission?
  ) async throws {
    let submission: (transaction: [UInt8], payload: [UInt8])
    if let tx = FileManager.default.contents(atPath: stem + ".tx"),
      let payload = FileManager.default.contents(atPath: stem + ".payload")
    {
      submission = (Array(tx), Array(payload))
      note("\(what): sending again the one made before a restart")
    } else {
      guard let made = try await make() else { return }
      submission = (made.commitment.canonicalBytes, made.payload)
      try Data(submission.payload).write(
        to: URL(fileURLWithPath: stem + ".payload"), options: .atomic)
      try Data(submission.transaction).write(
        to: URL(fileURLWithPath: stem + ".tx"), options: .atomic)
    }
    guard !waiting,
      case .reportCommitment(let c)? = try? Transaction(
        canonical: submission.transaction)
    else {
      try await submit(submission.transaction, payload: submission.payload, what: what)
      return
    }
    reportsInFlight.insert(c.round)
    // A report sent before and still not on the ledger goes to the next node.
    let (nodes, first) = (self.nodes, (current + (reportSent[c.round]?.times ?? 0)) % nodes.count)
    let patience = self.patience
    Task.detached {
      do {
        let sent = try await Self.submit(
          submission.transaction, payload: submission.payload, what: what, to: nodes,
          from: first, patience: patience)
        await self.reported(c.round, sent)
      } catch {
        await self.reported(c.round, nil, problem: "\(error)")
      }
    }
  }

  /// Sends the commitment and payload to the node followed, then to each other until one
  /// takes it.
  private func submit(_ transaction: [UInt8], payload: [UInt8], what: String) async throws {
    note(
      try await Self.submit(
        transaction, payload: payload, what: what, to: nodes, from: current, patience: patience))
  }

  /// Sends to `nodes` from the one at `first` on, says where it went: to the next node when
  /// one refuses, or has not answered within `patience` (`Hedged`; the log counts the same
  /// bytes sent to two nodes once).
  private static func submit(
    _ transaction: [UInt8], payload: [UInt8], what: String, to nodes: [NodeClient],
    from first: Int, patience: Duration
  ) async throws -> String {
    let start = ContinuousClock.now
    do {
      let names = nodes.indices.map { nodes[(first + $0) % nodes.count].address }
      return try await Hedged.first(names, patience: patience) { i -> String in
        let node = nodes[(first + i) % nodes.count]
        let appended = try await node.submit(transaction, blob: payload)
        return
          "\(what) \(Hash256.of(payload).short) \(appended ? "submitted to" : "already held by") \(node.address) (in \(seconds(since: start)))"
      }.answer
    } catch let failure as Hedged.Failure {
      throw ClusterDaemonError.notSubmitted(what, failure.problems)
    }
  }

  /// The base model with the receipt that proves it (none for genesis's initial model),
  /// from the node followed or, failing that, the others.
  private func baseModel(_ hash: Hash256, round: UInt64?) async throws -> (
    model: Model, receipt: Receipt?
  ) {
    if hash == genesis.initialModel && round == nil { return (initialModel, nil) }
    if let latest, latest.hash == hash, round == nil || latest.round == round {
      return (latest.model, latest.receipt)
    }
    // The newest round that committed it, on this cluster's checked chain.
    guard
      let commit = chain.state.rounds.values.compactMap(\.commit)
        .filter({ $0.model == hash && (round == nil || $0.round == round) })
        .max(by: { $0.round < $1.round })
    else { throw ClusterDaemonError.unknownModel(hash) }
    var problems: [String] = []
    let (nodes, first, genesis) = (self.nodes, current, self.genesis)
    // A node may not hold the file yet just after the commit: each pass over the nodes
    // waits twice as long (20 ms to 1.3 s). Within a pass, a silent node gives way to the
    // next after 2 s.
    for pass in 0..<7 {
      if pass > 0 { try await Task.sleep(for: .milliseconds(20 << (pass - 1))) }
      let start = ContinuousClock.now
      do {
        let names = nodes.indices.map { nodes[(first + $0) % nodes.count].address }
        let ((file, model, receipt), refused) = try await Hedged.first(
          names, patience: .seconds(2)
        ) { i in
          let node = nodes[(first + i) % nodes.count]
          let file = try await node.blob(commit.modelBlob)
          let model = try ModelFile.decode(file, path: "round \(commit.round)'s model")
          let receipt = try Receipt.parse(try await node.receipt(round: commit.round))
          // The cluster's own offline check: the receipt must prove this model under genesis.
          _ = try receipt.verify(genesis: genesis, modelHash: Hash256(hex: model.hash))
          guard Hash256(hex: model.hash) == hash, receipt.round == commit.round else {
            throw ClusterDaemonError.unprovenModel(
              hash, ["the file holds model \(model.hash.prefix(12))"])
          }
          return (file, model, receipt)
        }
        let stem = String(format: "%@/models/round-%06llu", directory, commit.round)
        try FileManager.default.createDirectory(
          atPath: directory + "/models", withIntermediateDirectories: true)
        try Data(file).write(to: URL(fileURLWithPath: stem + ".flm"), options: .atomic)
        try Data(receipt.json()).write(
          to: URL(fileURLWithPath: stem + ".receipt.json"), options: .atomic)
        if commit.round >= (latest?.round ?? 0) { latest = (commit.round, hash, model, receipt) }
        refusals(refused, round: commit.round)
        note(
          "round \(commit.round)'s model \(hash.short) checked against its receipt and kept (in \(Self.seconds(since: start)))"
        )
        return (model, receipt)
      } catch let failure as Hedged.Failure {
        problems += failure.problems
        refusals(failure.problems, round: commit.round)
      }
    }
    throw ClusterDaemonError.unprovenModel(hash, problems)
  }

  /// Logs the nodes whose model or receipt for `round` did not check out ("address: why");
  /// not having it yet is no news.
  private func refusals(_ problems: [String], round: UInt64) {
    for p in problems where !p.contains("notFound") {
      let (address, error) =
        p.firstRange(of: ": ").map { (p[..<$0.lowerBound], p[$0.upperBound...]) } ?? (p[...], "")
      note("round \(round)'s model from \(address) refused: \(error)", level: .warning)
    }
  }

  /// "1.234 s": how long since `start`, as the log says it (and `bench network` reads it).
  static func seconds(since start: ContinuousClock.Instant) -> String {
    let d = ContinuousClock.now - start
    return String(
      format: "%.3f s", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
  }

  private func note(_ message: String, level: Logger.Level = .info) {
    logger.log(level: level, "\(agent.name): \(message)")
    log = (log + [message]).suffix(100)
  }
}

/// A flag set once, read from any thread.
private final class Flag: @unchecked Sendable {
  private let lock = NSLock()
  private var raised = false
  func set() { lock.withLock { raised = true } }
  var value: Bool { lock.withLock { raised } }
}

/// Why a cluster process stopped or skipped a round.
public enum ClusterDaemonError: Error, CustomStringConvertible {
  case notTheInitialModel(String)
  case noNodes
  case unknownModel(Hash256)
  case unprovenModel(Hash256, [String])
  case notSubmitted(String, [String])
  case streamEnded(String)
  case noGroupKey
  case enclavesRefused([String])
  case withholding(String, height: UInt64)

  public var description: String {
    switch self {
    case .notTheInitialModel(let hash):
      "this cluster's configuration makes initial model \(hash.prefix(12)), not the one genesis names"
    case .noNodes: "no node to follow"
    case .unknownModel(let hash):
      "the round starts from model \(hash.short), which no model commit this cluster saw names"
    case .unprovenModel(let hash, let problems):
      "no node served model \(hash.short) with a receipt that verifies: "
        + problems.joined(separator: "; ")
    case .streamEnded(let node): "\(node) ended its stream of blocks"
    case .noGroupKey: "the ledger records no group key yet: nothing can be sealed"
    case .enclavesRefused(let problems):
      "no node's enclave passed this cluster's check: " + problems.joined(separator: "; ")
    case .withholding(let node, let height):
      "\(node) says it holds blocks up to \(height) but sends none"
    case .notSubmitted(let what, let problems):
      "\(what) was taken by no node: " + problems.joined(separator: "; ")
    }
  }
}
