import Attestation
import Canonical
import Foundation
import Records

/// Whether a transaction took effect, and if not, why.
public enum TransactionOutcome: Equatable, Sendable {
  case valid
  case invalid(String)

  public var isValid: Bool { self == .valid }
  public var reason: String? {
    if case .invalid(let r) = self { return r }
    return nil
  }
}

/// A round as the ledger sees it.
public struct RoundState: Sendable {
  public var open: RoundOpen
  /// Hash of the round-open transaction, which the round-close must name.
  public internal(set) var openHash: Hash256
  /// When the round opened, closed, and ended (committed or aborted): their blocks' times.
  /// Nodes time a round's deadline and a silent coordinator by them.
  public internal(set) var openedAt: Date?
  public internal(set) var closedAt: Date?
  public internal(set) var endedAt: Date?
  /// Valid commitments (cluster, enrolled key, payload hash), in ledger order.
  public var entries: [RoundClose.Entry] = []
  var committedBy: [String: Hash256] = [:]
  /// The payload hashes committed, for the one-commitment-per-payload check.
  public var payloads: Set<Hash256> = []
  /// Payload bytes the valid commitments name, in all.
  public var payloadBytes: UInt64 = 0
  public var close: RoundClose?
  /// Set when a node aborted the round: nothing more happens in it.
  public var abort: RoundAbort?
  /// Valid endorsements by transaction hash.
  public var endorsements: [Hash256: Endorsement] = [:]
  /// The statement hash each genesis endorser (by name) signed.
  public var endorsedBy: [String: Hash256] = [:]
  /// The genesis endorser each valid endorsement counts for, by transaction hash.
  public internal(set) var endorserOf: [Hash256: String] = [:]
  public var commit: ModelCommit?
  /// When the model committed (its block's time): clusters report within genesis's window.
  public var committedAt: Date?
  /// Valid report commitments on the committed model, in ledger order, and their bytes.
  public var reports: [EvaluationClose.Entry] = []
  var reportedBy: Set<String> = []
  var reportBytes: UInt64 = 0
  /// The federated evaluation of the committed model: the close fixing its reports, valid
  /// metric endorsements (with the statement each genesis endorser signed) and the commit.
  public var evaluation: EvaluationClose?
  public internal(set) var evaluationHash: Hash256?
  public var metricEndorsements: [Hash256: MetricEndorsement] = [:]
  public internal(set) var metricEndorsedBy: [String: Hash256] = [:]
  public internal(set) var metricEndorserOf: [Hash256: String] = [:]
  public var metric: MetricCommit?
  /// Secure aggregation's messages and stage-closes (rounds whose rules have it).
  public internal(set) var secagg = SecAggProgress()

  /// The metric the ledger recorded for the committed model: the statement its commit names.
  public var recordedMetric: MetricStatement? {
    guard let metric, let h = metric.endorsements.first else { return nil }
    return metricEndorsements[h]?.statement
  }

  /// Payload hashes of valid commitments, in ledger order.
  public var commitments: [Hash256] { entries.map(\.payload) }
  /// True when the round can take no more transactions but a next round-open.
  public var ended: Bool { commit != nil || abort != nil }
}

/// The ledger's state machine: every node runs the same transactions through it and reaches
/// the same verdicts, because each verdict depends only on genesis and the transactions before.
public struct LedgerState: Sendable {
  public let genesis: Genesis
  public let network: Hash256
  /// The genesis nodes' keys, which sign blocks.
  private let nodeKeys: Set<PublicKey>
  /// Height the next block must have.
  public private(set) var nextHeight: UInt64 = 0
  /// Header hash of the last block.
  public private(set) var head: Hash256 = .zero
  public private(set) var lastTimestamp: UInt64 = 0
  public private(set) var clusters: [String: PublicKey] = [:]
  /// The devices each cluster enrolled with.
  public private(set) var clusterDevices: [String: UInt32] = [:]
  private var clusterKeys: Set<PublicKey> = []
  /// Clusters each member enrolled, for genesis's `clustersPerMember`.
  private var enrolledBy: [String: Int] = [:]
  public internal(set) var rounds: [UInt64: RoundState] = [:]
  /// The newest round opened (0 before the first).
  public private(set) var currentRound: UInt64 = 0
  /// The network's group key, once an enclave's evidence fixed it (networks with enclaves).
  public private(set) var groupKey: [UInt8]?
  /// The newest committed model (genesis's initial model before any).
  public private(set) var latestModel: Hash256?
  public private(set) var transactionCount = 0

  public init(genesis: Genesis) {
    self.genesis = genesis
    network = genesis.hash
    nodeKeys = Set(genesis.nodes.map(\.key))
    latestModel = genesis.initialModel
  }

  /// Checks a block's header against the chain so far (all but the Merkle root, which also
  /// covers the verdicts: see `Block.root`); nil when it may follow.
  public func problem(with header: BlockHeader, transactions: [[UInt8]]) -> String? {
    if header.network != network {
      return "belongs to network \(header.network.short), not \(network.short)"
    }
    if header.height != nextHeight { return "has height \(header.height), expected \(nextHeight)" }
    if header.previous != head {
      return "names previous block \(header.previous.short), but the head is \(head.short)"
    }
    if Int(header.transactionCount) != transactions.count {
      return "says \(header.transactionCount) transactions but carries \(transactions.count)"
    }
    if header.timestamp < lastTimestamp {
      return "has timestamp \(header.timestamp), before the previous block's \(lastTimestamp)"
    }
    if !genesis.nodes.contains(where: { $0.name == header.proposer }) {
      return "was proposed by \"\(header.proposer)\", who is not a node in genesis"
    }
    if header.height == 0 {
      guard transactions.count == 1, transactions[0] == Transaction.genesis(genesis).canonicalBytes
      else { return "is the first block but does not hold exactly this network's genesis" }
    }
    return nil
  }

  /// Nil when the header's Merkle root covers exactly these transactions with these verdicts.
  public func problem(
    with header: BlockHeader, transactions: [[UInt8]], outcomes: [TransactionOutcome]
  ) -> String? {
    header.merkleRoot == Block.root(transactions, outcomes: outcomes)
      ? nil : "has a Merkle root that does not match its transactions and their verdicts"
  }

  /// Checks the node signatures on a block: nil when at least `blockQuorum` distinct genesis
  /// nodes signed it and every signature verifies.
  public func problem(with signatures: BlockSignatures, on header: BlockHeader) -> String? {
    do {
      _ = try signatures.signers(
        of: header, among: nodeKeys, quorum: genesis.blockQuorum, strict: true)
      return nil
    } catch {
      switch error {
      case .unknownSigner(let key):
        return "is signed by key \(key.short), which is not a node in genesis"
      case .forgedSignature(let key):
        return "has a bad signature from node \(genesis.node(key)?.name ?? key.short)"
      case .quorum(_, let have, let need):
        return "has \(have) node signature(s); genesis requires \(need)"
      case .otherNetwork, .notIncluded: return "\(error)"
      }
    }
  }

  /// Runs a block's transactions on a copy of this state and returns the verdicts and the
  /// state after them; `seal` then moves that state past the block's header. `timestamp` is the
  /// block's (milliseconds since 1970): SGX evidence is judged at that time, so every node and
  /// every later replay reach the same verdict. `verify(i)` says whether to check transaction
  /// i's signatures and enclave evidence (replaying a node's own checked blocks skips them for
  /// the valid ones).
  public func evaluate(
    _ transactions: [[UInt8]], timestamp: UInt64, verify: (Int) -> Bool = { _ in true }
  ) -> (LedgerState, [TransactionOutcome]) {
    var next = self
    let time = Date(timeIntervalSince1970: Double(timestamp) / 1000)
    let outcomes = transactions.enumerated().map { i, bytes -> TransactionOutcome in
      do throws(CanonicalDecodingError) {
        let tx = try Transaction(canonical: bytes)
        return next.apply(tx, hash: Hash256.of(bytes), at: time, verifySignatures: verify(i))
      } catch {
        return .invalid("cannot be decoded: \(error)")
      }
    }
    next.transactionCount += transactions.count
    return (next, outcomes)
  }

  /// Moves past a block whose transactions `evaluate` ran.
  public mutating func seal(_ header: BlockHeader) {
    nextHeight = header.height + 1
    head = header.hash
    lastTimestamp = header.timestamp
  }

  /// Why a node-signed record (round-open, round-close, round-abort) does not count: its
  /// signer is no genesis node, or (when checked) its signature does not verify.
  func nodeSignatureProblem(_ record: some NodeSigned, verify: Bool) -> TransactionOutcome? {
    guard genesis.node(record.signer) != nil else {
      return .invalid("is signed by key \(record.signer.short), which is not a node in genesis")
    }
    if verify && !record.verifies(network: network) {
      return .invalid("the signature of its node does not verify")
    }
    return nil
  }

  /// The verdict the ledger would reach on `bytes` if the next block held them alone, dated
  /// `timestamp`: what a node checks before it puts a submission on the log.
  public func precheck(_ bytes: [UInt8], timestamp: UInt64) -> TransactionOutcome {
    if case .commitment(let c)? = try? Transaction(canonical: bytes) {
      return problem(with: c) ?? .valid
    }
    return evaluate([bytes], timestamp: timestamp).1[0]
  }

  /// The updates a round-close lists if commitment `c`, which the ledger would take now, is
  /// the last of the round's participants to arrive (nil otherwise): a node that orders `c`
  /// can order the close right behind it, in the same block, instead of a block later.
  public func closeEntries(completedBy c: UpdateCommitment) -> [RoundClose.Entry]? {
    guard let r = rounds[c.round], !r.open.participants.isEmpty,
      r.entries.count + 1 == r.open.participants.count,
      r.entries.count + 1 >= r.open.rules.minimumCohort,
      problem(with: c, verifySignatures: false) == nil, let key = clusters[c.cluster]
    else { return nil }
    return r.entries + [
      .init(
        cluster: c.cluster, key: key, payload: c.payload, devices: clusterDevices[c.cluster] ?? 1)
    ]
  }

  /// Why the ledger would not take commitment `c` now (nil: it would). Reads the state
  /// without copying it, so a node can check each submission against a large round cheaply.
  public func problem(with c: UpdateCommitment, verifySignatures: Bool = true)
    -> TransactionOutcome?
  {
    guard let r = rounds[c.round], c.round == currentRound else {
      return .invalid("round \(c.round) is not the open round")
    }
    if r.close != nil { return .invalid("round \(c.round) is already closed") }
    if r.abort != nil { return .invalid("round \(c.round) was aborted") }
    guard let key = clusters[c.cluster] else {
      return .invalid("cluster \"\(c.cluster)\" is not enrolled")
    }
    if !r.open.participants.isEmpty && !r.open.participants.contains(c.cluster) {
      return .invalid("cluster \"\(c.cluster)\" was not asked to train in round \(c.round)")
    }
    if r.committedBy[c.cluster] != nil {
      return .invalid("cluster \"\(c.cluster)\" already committed an update in round \(c.round)")
    }
    if let refusal = secaggCommitmentProblem(r, cluster: c.cluster) { return refusal }
    if r.payloads.contains(c.payload) {
      return .invalid("payload \(c.payload.short) was already committed in round \(c.round)")
    }
    if verifySignatures
      && !key.verifies(
        c.signature,
        over: UpdateCommitment.message(
          network: network, round: c.round, cluster: c.cluster, payload: c.payload,
          payloadSize: c.payloadSize), for: .commitment)
    {
      return .invalid("the signature of cluster \"\(c.cluster)\" does not verify")
    }
    if c.payloadSize > r.open.rules.payloadCap {
      return .invalid(
        "names a payload of \(c.payloadSize) bytes; the most a commitment may name is \(r.open.rules.payloadCap) (the round's payload cap)"
      )
    }
    if r.payloadBytes + c.payloadSize > RoundRules.maximumRoundBytes {
      return .invalid(
        "round \(c.round) is full: its payloads would exceed \(RoundRules.maximumRoundBytes) bytes, what one enclave request carries"
      )
    }
    if r.entries.count >= r.open.rules.capacity {
      return .invalid(
        "round \(c.round) is full: it holds \(r.open.rules.capacity) update(s), the most its largest weight allows (2^31 / \(r.open.rules.maximumWeight))"
      )
    }
    return nil
  }

  /// Applies one transaction.
  mutating func apply(
    _ tx: Transaction, hash: Hash256, at time: Date, verifySignatures: Bool = true
  ) -> TransactionOutcome {
    switch tx {
    case .genesis(let g):
      guard nextHeight == 0, g == genesis else {
        return .invalid("a genesis transaction may only be the first block's")
      }
      return .valid

    case .enrolment(let e):
      // A cluster's name goes into records and reasons that readers bound: keep it short.
      guard (1...ClusterEnrolment.maximumName).contains(e.cluster.utf8.count),
        !e.cluster.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
      else {
        return .invalid(
          "a cluster name is 1 to \(ClusterEnrolment.maximumName) bytes without control characters")
      }
      guard (1...genesis.rules.deviceCap).contains(UInt64(e.devices)) else {
        return .invalid(
          "enrols \(e.devices) devices; a cluster has 1 to \(genesis.rules.deviceCap) (the rules' device cap)"
        )
      }
      guard let member = genesis.member(e.member) else {
        return .invalid("member \"\(e.member)\" is not in genesis")
      }
      if clusters[e.cluster] != nil {
        return .invalid("cluster \"\(e.cluster)\" is already enrolled")
      }
      if clusterKeys.contains(e.key) {
        return .invalid("key \(e.key.short) is already enrolled for another cluster")
      }
      if let cap = genesis.clustersPerMember, enrolledBy[e.member, default: 0] >= cap {
        return .invalid(
          "member \"\(e.member)\" already enrolled \(cap) cluster(s), the most genesis allows one member (clustersPerMember)"
        )
      }
      if verifySignatures
        && !member.key.verifies(
          e.signature,
          over: ClusterEnrolment.message(
            network: network, cluster: e.cluster, key: e.key, member: e.member,
            devices: e.devices),
          for: .enrolment)
      {
        return .invalid("the signature of member \"\(e.member)\" does not verify")
      }
      clusters[e.cluster] = e.key
      clusterDevices[e.cluster] = e.devices
      clusterKeys.insert(e.key)
      enrolledBy[e.member, default: 0] += 1
      return .valid

    case .roundOpen(let o):
      if let refusal = nodeSignatureProblem(o, verify: verifySignatures) { return refusal }
      guard o.round == currentRound + 1 else {
        return .invalid("opens round \(o.round), but the next round is \(currentRound + 1)")
      }
      if currentRound > 0, rounds[currentRound]?.ended != true {
        return .invalid(
          "round \(currentRound) has neither committed a model nor been aborted; a round opens only after the one before ends"
        )
      }
      if let latestModel, o.baseModel != latestModel {
        return .invalid(
          "starts from model \(o.baseModel.short), but the latest committed model is \(latestModel.short)"
        )
      }
      if let refusal = evaluationPending(before: o.round, at: time) { return refusal }
      if genesis.endorsers.contains(where: { $0.kind != .genesisKey }) {
        guard let groupKey else {
          return .invalid(
            "opens a round before the network's group key is recorded: clusters would not know what to seal to"
          )
        }
        if o.groupKey != groupKey {
          return .invalid(
            "names group key \(o.groupKey.map { Hex.encode($0).prefix(12) } ?? "none"), but the network's is \(Hex.encode(groupKey).prefix(12))"
          )
        }
      } else if o.groupKey != nil {
        return .invalid("names a group key, but this network has no enclaves")
      }
      if o.rules != genesis.rules {
        return .invalid(
          "carries rules \(o.rules.ruleName) \(o.rules.statementParameters.map { "\($0.key)=\($0.value)" }), not the network's (genesis): \(genesis.rules.ruleName) \(genesis.rules.statementParameters.map { "\($0.key)=\($0.value)" })"
        )
      }
      for p in o.participants where clusters[p] == nil {
        return .invalid("names participant \"\(p)\", who is not enrolled")
      }
      if Set(o.participants).count != o.participants.count {
        return .invalid("names a participant twice")
      }
      if o.rules.secureAggregation != nil {
        if o.participants.isEmpty {
          return .invalid(
            "names no participants; secure aggregation numbers its clusters by the round-open's list"
          )
        }
        // One order only: a coordinator free to order them could steer the clusters' places.
        if o.participants != o.participants.sorted() {
          return .invalid(
            "lists its participants out of order; secure aggregation numbers them sorted")
        }
      }
      if !o.participants.isEmpty && o.participants.count < o.rules.minimumCohort {
        return .invalid(
          "asks \(o.participants.count) cluster(s) to train; a round needs at least \(o.rules.minimumCohort) (minimum cohort)"
        )
      }
      currentRound = o.round
      var opened = RoundState(open: o, openHash: hash)
      opened.openedAt = time
      rounds[o.round] = opened
      return .valid

    case .commitment(let c):
      if let refusal = problem(with: c, verifySignatures: verifySignatures) { return refusal }
      // In place: a round of many updates is not copied for each one.
      rounds[c.round]!.entries.append(
        .init(
          cluster: c.cluster, key: clusters[c.cluster]!, payload: c.payload,
          devices: clusterDevices[c.cluster] ?? 1))
      rounds[c.round]!.payloadBytes += c.payloadSize
      rounds[c.round]!.payloads.insert(c.payload)
      rounds[c.round]!.committedBy[c.cluster] = c.payload
      return .valid

    case .roundClose(let c):
      if let refusal = nodeSignatureProblem(c, verify: verifySignatures) { return refusal }
      guard var r = rounds[c.round], c.round == currentRound else {
        return .invalid("round \(c.round) is not the open round")
      }
      if r.close != nil { return .invalid("round \(c.round) is already closed") }
      if r.abort != nil { return .invalid("round \(c.round) was aborted") }
      if c.open != r.openHash {
        return .invalid(
          "names round-open \(c.open.short), but round \(c.round) was opened by \(r.openHash.short)"
        )
      }
      if r.open.rules.secureAggregation != nil && r.secagg.closes[.shares] == nil {
        return .invalid("round \(c.round)'s shares stage is not closed yet")
      }
      if c.updates != r.entries {
        return .invalid(
          "lists \(c.updates.count) update(s), but the ledger holds \(r.entries.count) commitment(s) for round \(c.round) with other clusters, keys, payloads or order"
        )
      }
      if c.updates.count < r.open.rules.minimumCohort {
        return .invalid(
          "closes round \(c.round) with \(c.updates.count) update(s); it needs at least \(r.open.rules.minimumCohort) (minimum cohort), or a round-abort"
        )
      }
      r.close = c
      r.closedAt = time
      rounds[c.round] = r
      return .valid

    case .groupKey(let g):
      guard genesis.endorsers.contains(where: { $0.kind != .genesisKey }) else {
        return .invalid("this network has no enclave endorsers to hold a group key")
      }
      if let groupKey {
        return .invalid(
          "the network's group key is already \(Hex.encode(groupKey).prefix(12)); it is fixed once")
      }
      var holders = Set<String>()
      for h in g.holders {
        guard h.evidence.kind != .genesisKey else {
          return .invalid("a group key needs enclaves' evidence")
        }
        let held: [UInt8]?
        do {
          held =
            h.evidence.kind == .sgxDCAP
            ? try CollateralizedEvidence(canonical: h.evidence.bytes).evidence.groupKey
            : try EnclaveEvidence(canonical: h.evidence.bytes).groupKey
        } catch {
          return .invalid("the evidence of holder \(h.enclave.short) does not decode: \(error)")
        }
        guard held == g.groupKey else {
          return .invalid(
            "the evidence of holder \(h.enclave.short) binds another group key (or none)")
        }
        switch genesis.endorser(
          evidence: h.evidence, key: h.enclave, at: time, checkEvidence: verifySignatures)
        {
        case .success(let endorser): holders.insert(endorser.name)
        case .failure(let refusal):
          return .invalid("holder \(h.enclave.short): \(refusal.description)")
        }
      }
      if holders.count < genesis.endorsementThreshold {
        return .invalid(
          "shows \(holders.count) distinct endorser(s) holding the key; genesis requires \(genesis.endorsementThreshold), as for a model"
        )
      }
      groupKey = g.groupKey
      return .valid

    case .roundAbort(let a):
      if let refusal = nodeSignatureProblem(a, verify: verifySignatures) { return refusal }
      guard var r = rounds[a.round], a.round == currentRound else {
        return .invalid("round \(a.round) is not the current round")
      }
      if r.commit != nil { return .invalid("round \(a.round) already committed a model") }
      if r.abort != nil { return .invalid("round \(a.round) was already aborted") }
      if a.reason.isEmpty { return .invalid("gives no reason") }
      r.abort = a
      r.endedAt = time
      rounds[a.round] = r
      return .valid

    case .endorsement(let e):
      let s = e.statement
      guard var r = rounds[s.round] else { return .invalid("round \(s.round) was never opened") }
      guard let close = r.close else { return .invalid("round \(s.round) is not closed yet") }
      if r.open.rules.secureAggregation != nil && r.secagg.closes[.reveals] == nil {
        return .invalid("round \(s.round)'s reveals stage is not closed yet")
      }
      if r.commit != nil { return .invalid("round \(s.round) is already committed") }
      if r.abort != nil { return .invalid("round \(s.round) was aborted") }
      // The signature first: it is cheap, and evidence is worth checking only for a key that
      // did sign.
      if verifySignatures && !e.verifies(network: network) {
        return .invalid("the signature of endorsing key \(e.endorser.short) does not verify")
      }
      let endorser: Genesis.Endorser
      switch genesis.endorser(of: e, at: time, checkEvidence: verifySignatures) {
      case .success(let found): endorser = found
      case .failure(let refusal): return .invalid(refusal.description)
      }
      // The same statement again is valid and still counts once: an SGX endorsement whose
      // collateral has since lapsed can be renewed, so the round is not lost with it.
      if let earlier = r.endorsedBy[endorser.name], earlier != s.hash {
        return .invalid(
          "endorser \"\(endorser.name)\" already endorsed a different statement for round \(s.round) (equivocation)"
        )
      }
      if s.baseModel != r.open.baseModel {
        return .invalid(
          "states base model \(s.baseModel.short), but round \(s.round) started from \(r.open.baseModel.short)"
        )
      }
      let named = s.accepted.map(\.update) + s.rejected.map(\.update)
      if named.sorted() != close.payloads.sorted() {
        return .invalid(
          "does not account for exactly the \(close.updates.count) update(s) round \(s.round) closed with"
        )
      }
      let rules = r.open.rules
      if s.rule != rules.ruleName || s.parameters != rules.statementParameters {
        return .invalid(
          "states rule \(s.rule) with other parameters than round \(s.round)'s rules (\(rules.ruleName))"
        )
      }
      if s.accepted.count < rules.minimumCohort {
        return .invalid(
          "accepts \(s.accepted.count) update(s); round \(s.round) aggregates at least \(rules.minimumCohort) (minimum cohort) or aborts"
        )
      }
      r.endorsements[hash] = e
      r.endorsedBy[endorser.name] = s.hash
      r.endorserOf[hash] = endorser.name
      rounds[s.round] = r
      return .valid

    case .secaggMessage(let m):
      return apply(m, hash: hash, verifySignatures: verifySignatures)
    case .secaggStageClose(let c):
      return apply(c, verifySignatures: verifySignatures)
    case .reportCommitment(let c):
      return apply(c, verifySignatures: verifySignatures)
    case .evaluationClose(let c):
      return apply(c, hash: hash, at: time, verifySignatures: verifySignatures)
    case .metricEndorsement(let e):
      return apply(e, hash: hash, at: time, verifySignatures: verifySignatures)
    case .metricCommit(let m):
      return apply(m, at: time, verifySignatures: verifySignatures)

    case .modelCommit(let m):
      guard var r = rounds[m.round] else { return .invalid("round \(m.round) was never opened") }
      guard r.close != nil else { return .invalid("round \(m.round) is not closed") }
      if r.commit != nil { return .invalid("round \(m.round) is already committed") }
      if r.abort != nil { return .invalid("round \(m.round) was aborted") }
      if m.round != currentRound {
        return .invalid("round \(m.round) is not the newest round (\(currentRound))")
      }
      var endorsers = Set<String>()
      for h in m.endorsements {
        guard let e = r.endorsements[h], let name = r.endorserOf[h] else {
          return .invalid(
            "names endorsement \(h.short), which is not a valid endorsement of round \(m.round)")
        }
        if e.statement.hash != m.statement {
          return .invalid("names endorsement \(h.short), which signs a different statement")
        }
        if e.statement.newModel != m.model || e.statement.newModelBlob != m.modelBlob
          || e.statement.newModelSize != m.modelSize
        {
          return .invalid(
            "commits model \(m.model.short) (file \(m.modelBlob.short), \(m.modelSize) bytes), but the statement names \(e.statement.newModel.short) (file \(e.statement.newModelBlob.short), \(e.statement.newModelSize) bytes)"
          )
        }
        // SGX evidence is judged again at the commit's time, as a receipt judges it: a model
        // never commits on collateral that expired, or a certificate revoked, since.
        if verifySignatures, e.evidence.kind == .sgxDCAP,
          case .failure(let refusal) = genesis.endorser(of: e, at: time)
        {
          return .invalid(
            "names endorsement \(h.short) by \"\(name)\", whose evidence no longer holds at the commit's time: \(refusal)"
          )
        }
        endorsers.insert(name)
      }
      if endorsers.count < genesis.endorsementThreshold {
        return .invalid(
          "has \(endorsers.count) distinct endorsement(s); genesis requires \(genesis.endorsementThreshold)"
        )
      }
      r.commit = m
      r.committedAt = time
      r.endedAt = time
      rounds[m.round] = r
      latestModel = m.model
      return .valid
    }
  }
}
