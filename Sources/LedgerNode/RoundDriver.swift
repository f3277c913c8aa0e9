import Attestation
import EnclaveMessages
import EtcdOrdering
import Federation
import Foundation
import Host
import Learning
import Ledger
import Logging
import NodeAPI
import Privacy
import Records

/// A node process's part in the network's rounds: after each block it reads its ledger, asks
/// `RoundSteps` what to do, and does it: proposes opens, closes and aborts (as coordinator, or
/// after a silent coordinator's failover wait), aggregates each closed round with its
/// aggregator and submits the endorsement, proposes the commit k endorsements allow, and
/// gets each committed model's file (released by its aggregator, or pulled from a peer).
///
/// Payloads and models it lacks it pulls from peer nodes by hash, checking each on arrival.
/// Everything it proposes is judged by the ledger; a step that found no answer is tried again.
public actor RoundDriver {
  let node: LedgerNode
  let key: SigningKey
  let steps: RoundSteps
  let aggregator: any RoundAggregator
  let peers: [NodeClient]
  let logger: Logger
  /// The initial model's file, and its blob hash.
  let initialModelBlob: Hash256
  /// How long each node after the coordinator waits before it steps in.
  let failover: Duration
  /// How long a round takes updates (and a later metric waits for an earlier one).
  let roundTimeout: Duration
  /// How long a step that was taken waits before it is taken again, if still called for.
  let retry: Duration
  /// When this node first saw, and last took, a step, by its slot.
  private var firstSeen: [String: ContinuousClock.Instant] = [:]
  private var taken: [String: ContinuousClock.Instant] = [:]
  /// Steps that found their answer for good (a combination with too few valid reports).
  private var settled: Set<RoundStep> = []
  /// When this node first saw each round open and close (its own clock).
  private var sightings: [UInt64: RoundSteps.Sightings] = [:]
  /// Where the enclave's sealed state is kept (privacy tee), and whether the enclave holds the
  /// group key the ledger recorded.
  let sealedState: String?
  private var groupReady = false
  /// Payloads of the newest round this node holds (so it does not look again each block).
  private var held: (round: UInt64, hashes: Set<Hash256>) = (0, [])
  /// Ended rounds whose payloads and model this node holds, all of them.
  private var complete: Set<UInt64> = []
  /// Blobs no peer served yet, with when to ask again (each miss waits twice as long).
  private var missing: [Hash256: (wait: Duration, next: ContinuousClock.Instant)] = [:]
  /// What this node did, newest last (the last 100), for status and tests.
  public private(set) var log: ArraySlice<String> = []

  /// Drives `node`'s rounds, signing with its genesis `key`; `initialModel` is the file of
  /// genesis's initial model (kept in the node's blob store).
  public init(
    node: LedgerNode, key: SigningKey, configuration: SimulationConfiguration,
    aggregator: sending any RoundAggregator, initialModel: [UInt8], peers: [NodeClient],
    endorserKey: PublicKey? = nil, sealedState: String? = nil,
    roundTimeout: Duration = .seconds(300), failover: Duration = .seconds(5),
    retry: Duration = .seconds(3), logger: Logger
  ) throws {
    self.sealedState = sealedState
    self.node = node
    self.key = key
    self.aggregator = aggregator
    self.peers = peers
    self.logger = logger
    self.failover = failover
    self.roundTimeout = roundTimeout
    self.retry = retry
    let genesis = node.genesis
    // Without enclaves a node endorses with its genesis key, as the endorser genesis lists;
    // with them, its enclave's platform key is the endorser genesis lists.
    let endorserKey = endorserKey ?? key.publicKey
    guard let endorser = genesis.endorsers.first(where: { $0.key == endorserKey })?.name else {
      throw RoundDriverError.notAnEndorser(node.name)
    }
    // A server optimiser's state moves with each round it aggregates, whether the round
    // commits or not, and a restart loses it: nodes would come to sign different statements.
    guard configuration.strategy.server == .plain || !(aggregator is ClearAggregator) else {
      throw RoundDriverError.statefulServer("\(configuration.strategy.server)")
    }
    guard roundTimeout >= .seconds(1), roundTimeout <= .seconds(86_400),
      failover >= .zero, failover <= .seconds(3_600)
    else { throw RoundDriverError.badTiming }
    steps = RoundSteps(
      configuration: configuration, node: node.name, endorser: endorser,
      nodes: genesis.nodes.map(\.name),
      roundTimeout: Double(roundTimeout.components.seconds)
        + Double(roundTimeout.components.attoseconds) / 1e18)
    let model = try ModelFile.decode(initialModel, path: "the initial model")
    guard Hash256(hex: model.hash) == genesis.initialModel else {
      throw RoundDriverError.notTheInitialModel(model.hash)
    }
    initialModelBlob = try node.blobs.put(initialModel)
  }

  /// The ledger's clusters answer, nodes decide, until cancelled.
  public func run() async throws {
    try await withThrowingDiscardingTaskGroup { group in
      for p in peers { group.addTask { try? await p.run() } }
      group.addTask {
        defer { for p in self.peers { p.close() } }
        try await self.drive()
      }
      group.addTask {
        // Apart from the rounds' steps, which it never holds up.
        while !Task.isCancelled {
          try await Task.sleep(for: .seconds(1))
          await self.backfill(await self.node.orderer.withReplica { $0.state })
        }
      }
    }
  }

  private func drive() async throws {
    var seen: UInt64? = nil
    while !Task.isCancelled {
      _ = await node.orderer.wait(forHeight: seen.map { $0 + 1 } ?? 0, timeout: .milliseconds(250))
      let (state, height) = await node.orderer.withReplica { ($0.state, $0.height) }
      seen = height
      guard height != nil else { continue }
      if node.enclave != nil && !groupReady {
        await joinGroup(state)
        continue
      }
      await pullPayloads(state)
      let blobs = node.blobs
      let round = state.currentRound
      if let r = state.rounds[round] {
        var seen = sightings[round] ?? .init()
        seen.opened = seen.opened ?? Date()
        if r.close != nil { seen.closed = seen.closed ?? Date() }
        sightings = [round: seen]
      }
      let planned = steps.next(state, now: Date(), seen: sightings[round] ?? .init()) {
        blobs.contains($0)
      }
      let now = ContinuousClock.now
      let current = Set(planned.map(\.step.slot))
      firstSeen = firstSeen.filter { current.contains($0.key) }
      taken = taken.filter { current.contains($0.key) }
      for p in planned where !settled.contains(p.step) {
        // Metrics are combined in their rounds' order (an enclave signs rounds that only move
        // forward): a later one waits while an earlier one is still to be combined here, but
        // not longer than a round's timeout (a report payload no node serves must not cost
        // every later metric).
        if case .combine(let round) = p.step,
          planned.contains(where: {
            guard case .combine(let earlier) = $0.step, earlier < round,
              !settled.contains($0.step)
            else { return false }
            return firstSeen[$0.step.slot].map { now - $0 < roundTimeout } ?? true
          })
        {
          continue
        }
        let slot = p.step.slot
        let since = firstSeen[slot] ?? now
        firstSeen[slot] = since
        let unit = p.quick ? min(failover, .milliseconds(250)) : failover
        guard now - since >= unit * p.rank else { continue }
        if let last = taken[slot], now - last < retry { continue }
        taken[slot] = now
        do {
          try await take(p.step, state)
        } catch is CancellationError {
          return
        } catch {
          note("\(p.step) failed: \(error)", level: .warning)
        }
      }
    }
  }

  private func take(_ step: RoundStep, _ state: LedgerState) async throws {
    let genesis = node.genesis
    let network = genesis.hash
    switch step {
    case .open(let round, let participants):
      try await node.orderer.submit(
        .roundOpen(
          RoundOpen(
            network: network, round: round,
            baseModel: state.latestModel ?? genesis.initialModel ?? .zero,
            participants: participants, rules: genesis.rules, configuration: genesis.round,
            groupKey: state.groupKey, node: key)))
      note("proposed \(step)")
    case .close(let round):
      guard let r = state.rounds[round] else { return }
      try await node.orderer.submit(
        .roundClose(
          RoundClose(
            network: network, round: round, open: r.openHash, updates: r.entries, node: key)))
      note("proposed \(step) on \(r.entries.count) update(s)")
    case .abort(let round, let reason):
      try await node.orderer.submit(
        .roundAbort(RoundAbort(network: network, round: round, reason: reason, node: key)))
      note("proposed \(step)")
    case .aggregate(let round):
      try await aggregate(round, state)
    case .commit, .commitThenOpen:
      try await node.orderer.submit(proposal(step, state))
      note("proposed \(step)")
    case .release(let round):
      try await release(round, state)
    case .closeEvaluation(let round):
      guard let r = state.rounds[round], let commit = r.commit, let rules = genesis.evaluation
      else { return }
      try await node.orderer.submit(
        .evaluationClose(
          EvaluationClose(
            network: network, round: round, model: commit.model, rules: rules,
            reports: r.reports, node: key)))
      note("proposed \(step) on \(r.reports.count) report(s)")
    case .combine(let round):
      try await combine(round, state)
    case .commitMetric(let metric):
      try await node.orderer.submit(.metricCommit(metric))
      note("proposed \(step)")
    }
  }

  /// The transactions that propose a commit step: the commit, and the next round's open
  /// behind it.
  private func proposal(_ step: RoundStep, _ state: LedgerState) -> [[UInt8]] {
    switch step {
    case .commit(let commit): return [Transaction.modelCommit(commit).canonicalBytes]
    case .commitThenOpen(let commit, let participants):
      let genesis = node.genesis
      let open = Transaction.roundOpen(
        RoundOpen(
          network: genesis.hash, round: commit.round + 1, baseModel: commit.model,
          participants: participants, rules: genesis.rules, configuration: genesis.round,
          groupKey: state.groupKey, node: key))
      return [Transaction.modelCommit(commit).canonicalBytes, open.canonicalBytes]
    default: return []
    }
  }

  /// Combines the closed evaluation of `round`'s model from what the ledger proves and
  /// submits the metric endorsement; with too few valid reports there is no metric, and this
  /// node does not ask again.
  private func combine(_ round: UInt64, _ state: LedgerState) async throws {
    guard let r = state.rounds[round], let close = r.evaluation else { return }
    let bytes = Transaction.evaluationClose(close).canonicalBytes
    let proof = try await node.orderer.withReplica {
      try $0.store.proof(ofValid: Hash256.of(bytes))
    }
    guard let proof else {
      throw RoundDriverError.unreadableRound(round, "the ledger holds no valid evaluation-close")
    }
    var reports: [[UInt8]] = []
    for e in close.reports {
      // Larger than any report may be: every node alike cannot use it (the hash fixes it).
      guard e.payloadSize <= UInt64(EvaluationRules.maximumReportBytes) else {
        throw RoundDriverError.unreadableRound(
          round, "the report of \(e.cluster) is larger than any report may be")
      }
      reports.append(try await blob(e.payload))
    }
    let verdict = try aggregator.combine(ClosedEvaluation(close: proof, reports: reports))
    try seal()
    switch verdict {
    case .endorsed(let endorsement):
      try await node.orderer.submit(.metricEndorsement(endorsement))
      note(
        "endorsed round \(round)'s metric: accuracy \(String(format: "%.4f", endorsement.statement.accuracy)) over \(endorsement.statement.clusters) cluster(s)"
      )
    case .tooFewReports(let why):
      settled.insert(.combine(round: round))
      note("round \(round)'s evaluation makes no metric: \(why)")
    }
  }

  /// Aggregates the closed `round` from what the ledger proves and submits the endorsement
  /// (or, if too few updates pass, the round's abort).
  private func aggregate(_ round: UInt64, _ state: LedgerState) async throws {
    guard let r = state.rounds[round], let close = r.close else { return }
    let start = ContinuousClock.now
    let closeBytes = Transaction.roundClose(close).canonicalBytes
    let openBytes = Transaction.roundOpen(r.open).canonicalBytes
    guard Hash256.of(openBytes) == r.openHash else {
      throw RoundDriverError.unreadableRound(round, "its round-open does not encode to its hash")
    }
    let proof = try await node.orderer.withReplica {
      try $0.store.proof(ofValid: Hash256.of(closeBytes))
    }
    guard let proof else {
      throw RoundDriverError.unreadableRound(round, "the ledger holds no valid close")
    }
    let hashes = [baseModelBlob(before: round, state)] + close.payloads
    var payloads: [[UInt8]] = []
    let blobs = node.blobs
    let kept = hashes.compactMap { node.recent($0) }
    if kept.count == hashes.count {
      // All in memory (taken or pulled as their commitments were ordered, checked then).
      payloads = kept
    } else if hashes.allSatisfy({ blobs.contains($0) }) {
      // All here: read in one go.
      payloads = try await Blocking.run { try hashes.map { try blobs.get($0) } }
    } else {
      for hash in hashes { payloads.append(try await blob(hash)) }
    }
    let base = payloads.removeFirst()
    let read = ContinuousClock.now
    let verdict = try aggregator.aggregate(
      ClosedRound(close: proof, open: openBytes, baseModel: base, payloads: payloads))
    try seal()
    let aggregated = ContinuousClock.now
    switch verdict {
    case .endorsed(let endorsement, _, let refused):
      let bytes = Transaction.endorsement(endorsement).canonicalBytes
      let (tip, beyond) = await node.orderer.tip()
      let behind = steps.commitBehind(
        bytes, round: round, state: tip, beyond: beyond, now: Date(),
        seen: sightings[round] ?? .init()
      ) { blobs.contains($0) }
      // Not read back from the log first: this node writes its endorsement once per try, and
      // the same bytes twice would count once. A commit proposed behind it is not marked
      // taken: were it refused, the coordinator's turn comes as for any commit.
      try await node.orderer.submit(
        [bytes] + (behind.map { proposal($0, tip) } ?? []), unlessLogged: false)
      note(
        "endorsed round \(round): model \(endorsement.statement.newModel.short), \(endorsement.statement.accepted.count) accepted, \(refused.count) refused (payloads read in \(Self.ms(read - start)), aggregated in \(Self.ms(aggregated - read)), submitted in \(Self.ms(.now - aggregated)))"
          + (behind.map { ", and proposed \($0) behind it" } ?? "")
      )
    case .tooFewUpdates(let why):
      try await node.orderer.submit(
        .roundAbort(
          RoundAbort(network: node.genesis.hash, round: round, reason: why, node: key)))
      note("proposed abort of round \(round): \(why)")
    }
  }

  /// "12 ms".
  static func ms(_ d: Duration) -> String {
    "\(d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000) ms"
  }

  /// The file of the model `round` starts from: the newest commit before it, or genesis's.
  private func baseModelBlob(before round: UInt64, _ state: LedgerState) -> Hash256 {
    state.newestCommit(before: round)?.modelBlob ?? initialModelBlob
  }

  /// Gets the committed model of `round` into this node's blob store: from its own aggregator
  /// if it endorsed the statement, or else from a peer.
  private func release(_ round: UInt64, _ state: LedgerState) async throws {
    guard let commit = state.rounds[round]?.commit else { return }
    let bytes = Transaction.modelCommit(commit).canonicalBytes
    if let proof = try await node.orderer.withReplica({
      try $0.store.proof(ofValid: Hash256.of(bytes))
    }), let file = try? aggregator.release(proof), Hash256.of(file) == commit.modelBlob {
      let blobs = node.blobs
      let hash = try await Blocking.run { try blobs.put(file) }
      node.keep(file, as: hash)
      note("released round \(round)'s model \(commit.model.short)")
      return
    }
    _ = try await blob(commit.modelBlob)
    note("fetched round \(round)'s model \(commit.model.short) from a peer")
  }

  /// Pulls the open round's payloads this node lacks as soon as their commitments are
  /// ordered, so a close finds them here.
  private func pullPayloads(_ state: LedgerState) async {
    guard let r = state.rounds[state.currentRound] else { return }
    let wanted =
      r.ended
      ? (r.evaluation == nil ? r.reports.map(\.payload) : [])
      : r.entries.map(\.payload)
    // No peer's answer is read past the most such a payload may be.
    let atMost =
      r.ended ? EvaluationRules.maximumReportBytes : Int(clamping: r.open.rules.payloadCap)
    if held.round != state.currentRound { held = (state.currentRound, []) }
    let now = ContinuousClock.now
    var lacking: [Hash256] = []
    for hash in wanted where !held.hashes.contains(hash) {
      if node.blobs.contains(hash) {
        held.hashes.insert(hash)
      } else if missing[hash].map({ now >= $0.next }) ?? true {
        lacking.append(hash)
      }
    }
    // Eight at a time: a large round's payloads arrive at the pace of the network, not of one
    // round trip each.
    for start in stride(from: 0, to: lacking.count, by: 8) {
      let batch = lacking[start..<min(start + 8, lacking.count)]
      let got = await withTaskGroup(of: (Hash256, Bool).self) { group in
        for hash in batch {
          group.addTask { (hash, (try? await self.blob(hash, atMost: atMost)) != nil) }
        }
        var got: [(Hash256, Bool)] = []
        for await answer in group { got.append(answer) }
        return got
      }
      for (hash, ok) in got {
        if ok {
          held.hashes.insert(hash)
          missing[hash] = nil
        } else {
          missed(hash, at: now)
        }
      }
    }
    if missing.count > 10_000 { missing = [:] }
  }

  /// Notes that no peer served `hash`: ask again after twice the last wait (250 ms to 30 s).
  private func missed(_ hash: Hash256, at now: ContinuousClock.Instant) {
    let wait = min((missing[hash]?.wait ?? .milliseconds(250)) * 2, .seconds(30))
    missing[hash] = (wait, now + wait)
  }

  /// Pulls what ended rounds name and this node lacks (their updates' payloads and the
  /// committed model): a node that was down, stalled or behind while a round ran holds, in
  /// the end, every blob its ledger names, as `ledger audit` checks. At most 8 a pass.
  private func backfill(_ state: LedgerState) async {
    var budget = 8
    let now = ContinuousClock.now
    for (round, r) in state.rounds.sorted(by: { $0.key < $1.key })
    where !complete.contains(round) && (r.ended || round < state.currentRound) {
      var wanted: [(Hash256, Int?)] = r.entries.map {
        ($0.payload, Int(clamping: r.open.rules.payloadCap))
      }
      // The newest model this node releases itself (a step of the rounds).
      if let commit = r.commit, commit.round != state.newestCommit()?.round {
        wanted.append((commit.modelBlob, nil))
      }
      let lacking = wanted.filter { !node.blobs.contains($0.0) }
      if lacking.isEmpty {
        complete.insert(round)
        continue
      }
      for (hash, atMost) in lacking where budget > 0 {
        guard missing[hash].map({ now >= $0.next }) ?? true else { continue }
        budget -= 1
        if (try? await blob(hash, atMost: atMost, keep: false)) != nil {
          missing[hash] = nil
        } else {
          missed(hash, at: now)
        }
      }
      if budget == 0 { return }
    }
  }

  /// The blob with `hash`: this node's copy, or the first peer's that has it (checked
  /// against the hash by the client, and stored); a peer's answer of more than `atMost` bytes
  /// is refused unread.
  private func blob(_ hash: Hash256, atMost: Int? = nil, keep: Bool = true) async throws
    -> [UInt8]
  {
    let blobs = node.blobs
    if blobs.contains(hash) { return try await Blocking.run { try blobs.get(hash) } }
    let peers = self.peers
    do {
      // A silent peer (stalled) gives way to the next after a second.
      // Checked against `hash` by the client.
      let bytes = try await Hedged.first(peers.map(\.address), patience: .seconds(1)) {
        try await peers[$0].blob(hash, atMost: atMost)
      }.answer
      _ = try await Blocking.run { try blobs.put(bytes, checked: hash) }
      // Not what a backfill pulls: those would push the open round's payloads out.
      if keep { node.keep(bytes, as: hash) }
      return bytes
    } catch let failure as Hedged.Failure {
      throw RoundDriverError.blobUnavailable(hash, failure.problems)
    }
  }

  /// Privacy tee: brings this node's enclave into the group and the group key onto the
  /// ledger. The first genesis node's enclave makes the key; every other enclave joins through
  /// a peer's after mutual attestation (each side checks the other's evidence against
  /// genesis's policy inside the enclave); once k enclaves hold it, the first node records it
  /// with their evidence. Rounds open only once the ledger holds it.
  private func joinGroup(_ state: LedgerState) async {
    guard let enclave = node.enclave else { return }
    let genesis = node.genesis
    let network = node.network.bytes
    let ledgerNonce = EnclaveEvidence.ledgerNonce(network: network)
    let first = genesis.nodes.first?.name == node.name
    do {
      let mine = try await Blocking.run { try enclave.evidence(nonce: ledgerNonce) }
      guard let held = mine.groupKey else {
        // Node 0's enclave makes the key, unless a peer's enclave (checked against genesis)
        // holds one already: its own was lost before the ledger recorded it.
        if first && state.groupKey == nil {
          var held = false
          for p in peers {
            if let bytes = try? await p.enclaveEvidence(nonce: ledgerNonce),
              holder(bytes, at: Date()) != nil,
              (try? EnclaveEvidence(canonical: bytes))?.groupKey != nil
            {
              held = true
            }
          }
          if !held {
            _ = try await Blocking.run { try enclave.createGroupKey() }
            try seal()
            note("its enclave made the group key")
            return
          }
        }
        for p in peers {
          do {
            let challenge = try await p.enclaveChallenge()
            let evidence = try await Blocking.run { try enclave.evidence(nonce: challenge) }
            let theirs = try await Blocking.run { try enclave.challenge() }
            let grant = try GroupKeyGrant(
              canonical: try await p.enclaveAdmit(
                evidence: evidence.canonicalBytes, challenge: theirs))
            // Whose key: the one the ledger recorded; before it records one, node 0's
            // enclave's only (a node whose enclave made a key of its own cannot split the
            // group), unless this is node 0 taking back the key it lost.
            if let recorded = state.groupKey {
              guard grant.groupPublicKey == recorded else { continue }
            } else if !first {
              guard let granter = PublicKey(bytes: grant.granter.signingKey),
                case .success(let who) = genesis.endorser(
                  evidence: Evidence(kind: .simulatedEnclave, bytes: grant.granter.canonicalBytes),
                  key: granter, at: Date(), checkEvidence: false),
                who.name == genesis.endorsers.first?.name
              else { continue }
            }
            _ = try await Blocking.run { try enclave.accept(grant, network: network) }
            try seal()
            note("its enclave joined the group through \(p.address)")
            return
          } catch {
            continue  // that peer's enclave holds no key yet, or is not reachable
          }
        }
        try await Task.sleep(for: .milliseconds(200))
        return
      }
      if let recorded = state.groupKey {
        guard held == recorded else { throw RoundDriverError.otherGroupKey }
        groupReady = true
        note("its enclave holds the group key the ledger recorded")
        return
      }
      // No key on the ledger yet: the first node records it with k holders' evidence.
      guard first, let signer = PublicKey(bytes: mine.signingKey) else { return }
      var holders = [
        GroupKeyRecord.Holder(
          enclave: signer, evidence: Evidence(kind: .simulatedEnclave, bytes: mine.canonicalBytes))
      ]
      // Each holder's evidence is checked as the ledger will (one bad answer must not spoil
      // the record), each genesis endorser once.
      var counted: Set<String> = holder(mine.canonicalBytes, at: Date()).map { [$0] } ?? []
      for p in peers {
        guard let bytes = try? await p.enclaveEvidence(nonce: ledgerNonce),
          let evidence = try? EnclaveEvidence(canonical: bytes), evidence.groupKey == held,
          let key = PublicKey(bytes: evidence.signingKey), let name = holder(bytes, at: Date()),
          counted.insert(name).inserted
        else { continue }
        holders.append(
          .init(enclave: key, evidence: Evidence(kind: .simulatedEnclave, bytes: bytes)))
      }
      guard holders.count >= genesis.endorsementThreshold else {
        try await Task.sleep(for: .milliseconds(200))
        return
      }
      try await node.orderer.submit(.groupKey(GroupKeyRecord(groupKey: held, holders: holders)))
      note("proposed the group key record with \(holders.count) enclaves' evidence")
      try await Task.sleep(for: .milliseconds(200))
    } catch is CancellationError {
      return
    } catch {
      note("group key: \(error)", level: .warning)
      try? await Task.sleep(for: .seconds(1))
    }
  }

  /// The genesis endorser whose enclave's evidence (for the ledger's nonce) this is, if it
  /// verifies as the ledger checks it.
  private func holder(_ bytes: [UInt8], at time: Date) -> String? {
    guard let evidence = try? EnclaveEvidence(canonical: bytes),
      let key = PublicKey(bytes: evidence.signingKey),
      case .success(let endorser) = node.genesis.endorser(
        evidence: Evidence(kind: .simulatedEnclave, bytes: bytes), key: key, at: time)
    else { return nil }
    return endorser.name
  }

  /// Keeps the enclave's sealed state (its keys and the last round it signed) on disk.
  private func seal() throws {
    guard let enclave = node.enclave, let path = sealedState else { return }
    try Data(try enclave.seal()).write(to: URL(fileURLWithPath: path), options: .atomic)
  }

  private func note(_ message: String, level: Logger.Level = .info) {
    logger.log(level: level, "\(node.name): \(message)")
    log = (log + [message]).suffix(100)
  }
}

/// Why a node could not take a round step.
public enum RoundDriverError: Error, CustomStringConvertible {
  case notTheInitialModel(String)
  case unreadableRound(UInt64, String)
  case blobUnavailable(Hash256, [String])
  case notAnEndorser(String)
  case otherGroupKey
  case statefulServer(String)
  case badTiming

  public var description: String {
    switch self {
    case .notTheInitialModel(let hash):
      "the initial model file holds model \(hash.prefix(12)), not the one genesis names"
    case .unreadableRound(let round, let why): "round \(round): \(why)"
    case .otherGroupKey:
      "this node's enclave holds another group key than the one the ledger recorded"
    case .notAnEndorser(let node):
      "\(node)'s key is not an endorser's in genesis: without enclaves, nodes endorse with their keys"
    case .statefulServer(let server):
      "the network's server optimiser \(server) keeps state across rounds, which node processes do not keep yet: use strategy.server plain"
    case .badTiming:
      "the round timeout must be 1 s to 1 day and the failover wait at most 1 hour"
    case .blobUnavailable(let hash, let problems):
      "no peer serves blob \(hash.short)"
        + (problems.isEmpty ? " (no peers)" : ": " + problems.joined(separator: "; "))
    }
  }
}
