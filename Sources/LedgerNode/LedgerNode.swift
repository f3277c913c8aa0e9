import Attestation
import Etcd
import EtcdOrdering
import Foundation
import Host
import Ledger
import NodeAPI
import Ordering
import Records

/// A ledger node as a network service: its replica ordered through etcd, its blob store, and
/// who may call it. It is the backend `NodeService` serves.
public final class LedgerNode: NodeBackend {
  public let name: String
  public let network: Hash256
  public let genesis: Genesis
  public let orderer: EtcdOrderer
  public let blobs: BlobStore
  public let peers: PeerDirectory
  /// The node's enclave (privacy tee), started under genesis's policy; nil without enclaves.
  public let enclave: EnclaveClient?
  let ordering: String
  private let stopping = StopFlag()
  /// The commitments this node put on the log, by cluster and round.
  private let inFlight = Claims()
  /// The payloads this node keeps for its peers (`hold`), one per cluster and round.
  private let held = Claims()
  /// The newest blocks followers asked for, as sent (a stored block never changes).
  private let recentBlocks = Recent<UInt64, WireBlock>(capacity: 256)
  /// The payloads callers sent last (at most 64 MB): every peer pulls each one right after
  /// its commitment is ordered, and gets it from memory instead of the disk.
  private let recentBlobs = Recent<Hash256, [UInt8]>(capacity: 64 << 20) { $0.count + 256 }
  /// Callers waiting for the newest model while this node releases it (at most 32; the others
  /// hear "not found" at once and ask again).
  private let modelWaiters = Gate(limit: 32)
  /// The node's genesis key, if it takes part in the rounds: it proposes a round's close right
  /// behind the commitment that completes the round.
  private let closeKey: SigningKey?
  /// Peer nodes that keep a copy of each payload this node takes before it orders the
  /// commitment: one node's crash or stall cannot leave a round with a payload no one serves.
  private let holders: [NodeClient]
  /// Payloads on their way to each holder at once (four per core; the others wait their
  /// turn, which counts against the holder's patience): at a round's open a node has a few
  /// copies in flight, not one per cluster (all at once, 1,000 submissions took a node to
  /// 717 MB, and holds waiting past their patience were hedged to a second peer, adding
  /// load where there was too much), and a holder that stalls slows only its own.
  private let handing: [Admission]
  /// True once `stop()` was called: streams to callers end.
  public var isStopping: Bool { stopping.value }
  /// Ends the node's long-lived calls (its service calls this on a graceful shutdown).
  public func stop() { stopping.set() }

  /// Takes over `replica`, ordering through the etcd cluster `client` reaches; the clusters
  /// the replica already holds enrolled may call at once.
  public init(
    replica: sending LedgerReplica, etcd client: EtcdClient, enclave: EnclaveClient? = nil,
    closeKey: SigningKey? = nil, holders: [NodeClient] = [],
    batchTimeout: Duration? = .milliseconds(20),
    clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) }
  ) {
    name = replica.name
    self.holders = holders
    handing = holders.map { _ in Admission(limit: 4 * ProcessInfo.processInfo.activeProcessorCount)
    }
    self.enclave = enclave
    self.closeKey = closeKey
    network = replica.genesis.hash
    genesis = replica.genesis
    blobs = replica.blobs
    let genesis = replica.genesis
    let peers = PeerDirectory(
      network: genesis.hash,
      nodes: genesis.nodes.map { ($0.name, $0.key) },
      members: genesis.members.map { ($0.name, $0.key) })
    for (cluster, key) in replica.state.clusters { peers.enrol(cluster: cluster, key: key) }
    self.peers = peers
    ordering = "etcd " + client.endpoints.map(\.description).joined(separator: ",")
    orderer = EtcdOrderer(
      replica: replica, client: client, batchTimeout: batchTimeout, clock: clock
    ) { block in
      // Clusters enrolled in this block may call from now on.
      for (bytes, outcome) in zip(block.block.transactions, block.outcomes) where outcome.isValid {
        if case .enrolment(let e) = try? Transaction(canonical: bytes) {
          peers.enrol(cluster: e.cluster, key: e.key)
        }
      }
    }
  }

  public func status() async -> NodeStatus {
    await orderer.withReplica { r in
      NodeStatus(
        node: r.name, network: r.state.network, height: r.height, head: r.head,
        round: r.state.currentRound, enrolledClusters: r.state.clusters.count,
        ordering: ordering)
    }
  }

  public func submit(transaction: [UInt8], blob: [UInt8]?, from peer: Peer) async throws -> Bool {
    guard let transactionValue = try? Transaction(canonical: transaction) else {
      throw NodeError.notATransaction(from: peer.description)
    }
    // A commitment (an update's or a report's) comes with the payload it names, which this node
    // keeps before ordering it: one without would close a round no node can aggregate. A blob
    // rides only with the commitment that names it.
    let named = Self.payload(of: transactionValue)
    if named != nil && blob == nil { throw NodeError.blobNotCommitted(from: peer.description) }
    if let blob {
      guard let named, named.size == UInt64(blob.count), named.hash == Hash256.of(blob) else {
        throw NodeError.blobNotCommitted(from: peer.description)
      }
    }
    // Only what the ledger would take now goes to the log (and a blob only with a valid
    // commitment): a caller cannot fill the log or the disk with what every node refuses.
    let now = UInt64(Date().timeIntervalSince1970 * 1000)
    let (stored, verdict) = await orderer.withReplica { r in
      (
        (try? r.store.transaction(Hash256.of(transaction))) != nil,
        r.state.precheck(transaction, timestamp: max(now, r.state.lastTimestamp))
      )
    }
    if stored { return false }
    if let reason = verdict.reason {
      throw NodeError.refused(from: peer.description, reason: reason)
    }
    // The check above reads the ledger as stored: until the block holding a cluster's
    // commitment is stored, another one of its (for the same round, another payload) would
    // pass it too, and cost a blob and a log entry. One per cluster and round is on its way.
    let claim = named?.slot
    let hash = Hash256.of(transaction)
    if let claim {
      switch inFlight.claim(claim, for: hash) {
      case .fresh: break
      // The same bytes again (a retry): on their way to the log already, not written twice.
      case .again: return false
      case .taken:
        throw NodeError.refused(
          from: peer.description,
          reason: "another commitment of this cluster for this round is on its way to the ledger")
      }
    }
    // The last participant's update (claimed, so once): the round's close goes right behind it.
    // The ledger's tip counts: commitments in the log but not yet in a stored block too.
    var close: [UInt8]? = nil
    if let closeKey, case .commitment(let c) = transactionValue {
      let (stored, beyond) = await orderer.tip()
      if let r = stored.rounds[c.round], !r.open.participants.isEmpty,
        r.entries.count + beyond.count + 1 >= r.open.participants.count
      {
        // Not verified here: each is when its block is built, and a close that names one
        // the ledger refuses is refused too (the coordinator closes the round then).
        let tip = stored.evaluate(beyond, timestamp: stored.lastTimestamp) { _ in false }.0
        if let updates = tip.closeEntries(completedBy: c), let open = tip.rounds[c.round]?.openHash
        {
          close =
            Transaction.roundClose(
              RoundClose(
                network: tip.network, round: c.round, open: open, updates: updates,
                node: closeKey)
            ).canonicalBytes
        }
      }
    }
    do {
      // The blob is kept before its commitment is ordered, so no node orders a commitment
      // whose payload this node cannot serve.
      if let blob, let hash = named?.hash {
        let blobs = self.blobs
        _ = try await Blocking.run { try blobs.put(blob, checked: hash) }
        keep(blob, as: hash)
        try await holdElsewhere(transaction, blob, from: peer)
      }
      // A cluster's commitment is claimed above: the log need not be read for a copy first
      // (one would count once anyway).
      try await orderer.submit(
        [transaction] + (close.map { [$0] } ?? []), unlessLogged: claim == nil)
    } catch {
      if let claim { inFlight.release(claim) }
      throw error
    }
    return true
  }

  /// Sends the payload to one holder (chosen by its hash, so that copies spread) and returns
  /// once it keeps it; one that refuses or has not answered within 2 s gives way to the next.
  /// The other peers pull the payload once its commitment is ordered, as before: one copy
  /// more before ordering is what lets any one node fail.
  private func holdElsewhere(_ transaction: [UInt8], _ blob: [UInt8], from peer: Peer)
    async throws
  {
    guard !holders.isEmpty else { return }
    let (holders, handing) = (self.holders, self.handing)
    let first = Int(Hash256.of(blob).bytes[0]) % holders.count
    // Once one holder keeps it, asking the others is no use: their queues let it go.
    let kept = Abandonment()
    defer { kept.fire() }
    do {
      let names = holders.indices.map { holders[(first + $0) % holders.count].address }
      _ = try await Hedged.first(names, patience: .seconds(2)) {
        let h = (first + $0) % holders.count
        return try await handing[h].run(unless: kept) {
          try await holders[h].hold(transaction: transaction, blob: blob)
        }
      }
    } catch let failure as Hedged.Failure {
      throw NodeError.refused(
        from: peer.description,
        reason:
          "no peer node kept a copy of the payload, so it is not ordered (\(failure.description))"
      )
    }
  }

  public func hold(transaction: [UInt8], blob: [UInt8], from peer: Peer) async throws {
    // Only a payload a valid commitment names, as this node's ledger reads it now, and one per
    // cluster and round (a node cannot fill its peers' disks with payloads a cluster signed and
    // no one orders): the cheap checks first, the hash last.
    guard let value = try? Transaction(canonical: transaction),
      let named = Self.payload(of: value), named.size == UInt64(blob.count)
    else { throw NodeError.blobNotCommitted(from: peer.description) }
    if blobs.contains(named.hash) { return }
    let now = UInt64(Date().timeIntervalSince1970 * 1000)
    let verdict = await orderer.withReplica {
      $0.state.precheck(transaction, timestamp: max(now, $0.state.lastTimestamp))
    }
    if let reason = verdict.reason {
      throw NodeError.refused(from: peer.description, reason: reason)
    }
    guard Hash256.of(blob) == named.hash else {
      throw NodeError.blobNotCommitted(from: peer.description)
    }
    switch held.claim(named.slot, for: named.hash) {
    case .fresh: break
    case .again: return
    case .taken:
      throw NodeError.refused(
        from: peer.description,
        reason: "this node holds another payload of this cluster for this round already")
    }
    let blobs = self.blobs
    do {
      _ = try await Blocking.run { try blobs.put(blob, checked: named.hash) }
    } catch {
      held.release(named.slot)
      throw error
    }
    keep(blob, as: named.hash)
  }

  /// The payload a commitment (an update's or a report's) names, its size, and the slot it
  /// takes: one per cluster and round. Nil for every other transaction.
  private static func payload(of t: Transaction) -> (hash: Hash256, size: UInt64, slot: String)? {
    switch t {
    case .commitment(let c): (c.payload, c.payloadSize, "update/\(c.round)/\(c.cluster)")
    case .reportCommitment(let c): (c.payload, c.payloadSize, "report/\(c.round)/\(c.cluster)")
    default: nil
    }
  }

  /// Keeps `bytes`, stored under `hash` and checked against it, in memory too (the oldest
  /// leave first): peers and this node's aggregation read them without the disk.
  public func keep(_ bytes: [UInt8], as hash: Hash256) { recentBlobs[hash] = bytes }

  /// The blob with `hash` if this node keeps it in memory (it was checked when kept).
  public func recent(_ hash: Hash256) -> [UInt8]? { recentBlobs[hash] }

  public func block(at height: UInt64) async throws -> WireBlock? {
    // Every follower asks for each new block: read it from the store once, not once each
    // (and not on the orderer's time).
    if let cached = recentBlocks[height] { return cached }
    let block = try await orderer.withReplica { r -> WireBlock? in
      guard let block = try r.store.block(at: height) else { return nil }
      return WireBlock(
        height: height, header: block.header.canonicalBytes, transactions: block.transactions,
        signatures: block.signatures.canonicalBytes,
        valid: try r.store.transactions(at: height).map(\.outcome.isValid))
    }
    if let block { recentBlocks[height] = block }
    return block
  }

  public func blob(_ hash: Hash256) async throws -> [UInt8]? {
    if let bytes = recentBlobs[hash] { return bytes }
    let blobs = self.blobs
    // Not checked here: every caller checks what it gets against the hash it asked for.
    if let bytes = try await Blocking.run({
      blobs.contains(hash) ? try blobs.get(hash, unchecked: true) : nil
    }) {
      return bytes
    }
    // The newest committed model, which this node is releasing (or pulling) right now: the
    // caller (a cluster about to train on it) gets it as soon as it is here, not a "not found"
    // and a retry later.
    guard await orderer.withReplica({ $0.state.newestCommit()?.modelBlob == hash }),
      modelWaiters.enter()
    else { return nil }
    defer { modelWaiters.leave() }
    let deadline = ContinuousClock.now + .seconds(2)
    while ContinuousClock.now < deadline && !isStopping {
      try await Task.sleep(for: .milliseconds(5))
      if blobs.contains(hash) {
        return try await Blocking.run { try blobs.get(hash, unchecked: true) }
      }
    }
    return nil
  }

  public func receipt(round: UInt64) async throws -> [UInt8]? {
    try await orderer.withReplica { r -> [UInt8]? in
      guard r.state.rounds[round]?.commit != nil else { return nil }
      return try r.receipt(round: round).json()
    }
  }

  public func height() async -> UInt64? { await orderer.height }

  public func enclaveEvidence(nonce: [UInt8]) async throws -> [UInt8]? {
    guard let enclave else { return nil }
    return try await Blocking.run { try enclave.evidence(nonce: nonce).canonicalBytes }
  }

  public func enclaveChallenge() async throws -> [UInt8]? {
    guard let enclave else { return nil }
    return try await Blocking.run { try enclave.challenge() }
  }

  public func enclaveAdmit(evidence: [UInt8], challenge: [UInt8]) async throws -> [UInt8]? {
    guard let enclave else { return nil }
    let network = self.network
    return try await Blocking.run {
      try enclave.admit(
        evidence: try EnclaveEvidence(canonical: evidence), joinerChallenge: challenge,
        network: network.bytes
      ).canonicalBytes
    }
  }

  public func waitForBlock(after height: UInt64?, timeout: Duration) async {
    _ = await orderer.wait(forHeight: height.map { $0 + 1 } ?? 0, timeout: timeout)
  }
}

/// What a node refuses from a caller.
public enum NodeError: Error, Sendable, CustomStringConvertible {
  case notATransaction(from: String)
  case blobNotCommitted(from: String)
  case refused(from: String, reason: String)

  public var description: String {
    switch self {
    case .notATransaction(let peer): "\(peer) sent bytes that are not a FedLedger transaction"
    case .blobNotCommitted(let peer):
      "\(peer) sent a commitment without its payload, or a blob with a transaction that is not a commitment to exactly it"
    case .refused(let peer, let reason):
      "\(peer) sent a transaction the ledger would not take now: \(reason)"
    }
  }
}

/// Blocking file work (a blob written and synced, or read and checked) off the concurrency
/// pool's few threads, so that calls in flight go on meanwhile.
/// At most `width` at once (a flood of calls waits its turn instead of starting a thread and
/// holding a blob each).
enum Blocking {
  private static let slots = Admission(limit: 8)

  static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await slots.run {
      try await withCheckedContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async {
          continuation.resume(returning: Result { try body() })
        }
      }.get()
    }
  }
}

/// Names claimed for one transaction each (a retry of the same bytes is told so, and written
/// to the log no second time).
final class Claims: @unchecked Sendable {
  private let lock = NSLock()
  private var held: [String: Hash256] = [:]

  enum Answer { case fresh, again, taken }

  /// `fresh`: the name is now the transaction's; `again`: it was already; `taken`: another
  /// transaction holds it.
  func claim(_ name: String, for transaction: Hash256) -> Answer {
    lock.withLock {
      if let holder = held[name] { return holder == transaction ? .again : .taken }
      if held.count >= 100_000 { held = [:] }
      held[name] = transaction
      return .fresh
    }
  }

  func release(_ name: String) { lock.withLock { held[name] = nil } }
}

/// The values kept last, up to `capacity` in total cost (the oldest leave first), read and
/// written from any thread. Only for values that never change under their key.
final class Recent<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [Key: Value] = [:]
  private var order: [Key] = []
  private var oldest = 0
  private var total = 0
  let capacity: Int
  let cost: @Sendable (Value) -> Int

  init(capacity: Int, cost: @escaping @Sendable (Value) -> Int = { _ in 1 }) {
    self.capacity = capacity
    self.cost = cost
  }

  subscript(key: Key) -> Value? {
    get { lock.withLock { values[key] } }
    set {
      guard let newValue else { return }
      let size = cost(newValue)
      guard size <= capacity else { return }
      lock.withLock {
        guard values[key] == nil else { return }
        values[key] = newValue
        order.append(key)
        total += size
        while total > capacity, let value = values.removeValue(forKey: order[oldest]) {
          total -= cost(value)
          oldest += 1
        }
        if oldest > 1024 && oldest * 2 > order.count {
          order.removeFirst(oldest)
          oldest = 0
        }
      }
    }
  }
}

/// At most `limit` holders at once; no waiting.
final class Gate: @unchecked Sendable {
  private let lock = NSLock()
  private var held = 0
  let limit: Int
  init(limit: Int) { self.limit = limit }

  func enter() -> Bool {
    lock.withLock {
      guard held < limit else { return false }
      held += 1
      return true
    }
  }

  func leave() { lock.withLock { held -= 1 } }
}

/// A flag set once, read from any thread.
final class StopFlag: @unchecked Sendable {
  private let lock = NSLock()
  private var stopped = false
  func set() { lock.withLock { stopped = true } }
  var value: Bool { lock.withLock { stopped } }
}
