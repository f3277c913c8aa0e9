import Etcd
import Foundation
import Ledger
import Ordering
import Records

/// A ledger node's ordering through an etcd cluster (etcd's Raft decides the order, as
/// Hyperledger Fabric's orderers do with it): the node writes transactions, cut markers and
/// its block signatures to the network's log in etcd, and follows the log with a watch,
/// building, signing and storing blocks as `LogFollower` says.
///
/// Every node runs one; none leads. Each node's timer cuts when transactions have waited
/// `batchTimeout` (the first marker per sequence counts, so racing timers cut once).
public actor EtcdOrderer {
  public nonisolated let node: String
  public nonisolated let layout: EtcdLogLayout
  let client: EtcdClient
  private var follower: LogFollower
  let maxBlockTransactions: Int
  let clock: @Sendable () -> UInt64
  /// How long transactions wait before this node cuts them (nil: only `cut()` cuts).
  public let batchTimeout: Duration?
  /// The newest revision of the log this node has read.
  public private(set) var revision: Int64 = 0
  /// When this node first saw the transactions now pending.
  private var pendingSince: ContinuousClock.Instant?
  private let onStored: @Sendable (OrderedBlock) -> Void
  /// Why this node did not sign a block (it stores it anyway if a quorum signed); the last 100.
  public private(set) var refusals: ArraySlice<(height: UInt64, problem: String)> = []
  /// Heights at which the log voided a block (it was dated again by the next marker); the
  /// last 100.
  public private(set) var voids: ArraySlice<UInt64> = []
  /// How many batch timeouts this node waits before a cut: doubles with each void in a row.
  private var backoff = 1
  /// When this node last stored a block.
  private var lastStored: ContinuousClock.Instant?
  /// Submissions of this node on their way to the log now.
  private var writing = 0
  /// Writes of this node waiting for the etcd transaction on its way to finish: they go
  /// together in the next one (a group commit: one Raft commit for many submissions).
  private var queued: [Group] = []
  /// True while one of this node's etcd transactions is on its way.
  private var flushing = false
  /// Callers waiting for the next block this node stores.
  private var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
  private var nextWaiter: UInt64 = 0

  public init(
    replica: sending LedgerReplica, client: EtcdClient, root: String = "/fedledger",
    batchTimeout: Duration? = .milliseconds(20), maxBlockTransactions: Int = 1000,
    clock: @escaping @Sendable () -> UInt64 = { UInt64(Date().timeIntervalSince1970 * 1000) },
    onStored: @escaping @Sendable (OrderedBlock) -> Void = { _ in }
  ) {
    node = replica.name
    layout = EtcdLogLayout(root: root, network: replica.genesis.hash)
    self.client = client
    follower = LogFollower(replica: replica, maxBlockTransactions: maxBlockTransactions)
    self.maxBlockTransactions = maxBlockTransactions
    self.batchTimeout = batchTimeout
    self.clock = clock
    self.onStored = onStored
  }

  /// The height of this node's newest block (nil before the genesis block).
  public var height: UInt64? { follower.replica.height }
  public var head: Hash256 { follower.replica.head }
  /// Cut markers read from the log so far.
  public var markers: Int { follower.markers }

  /// Runs `body` on this node's replica (reads between blocks).
  public func withReplica<T: Sendable>(_ body: (LedgerReplica) throws -> T) rethrows -> T {
    try body(follower.replica)
  }

  /// The stored ledger's state and the transactions the log holds beyond it, in log order:
  /// what the ledger's tip will be once they are stored (a block may still void and be dated
  /// again, which does not change their order).
  public func tip() -> (state: LedgerState, beyond: [[UInt8]]) {
    (follower.replica.state, follower.unstoredTransactions)
  }

  /// Follows the log from its start until cancelled: the genesis block first (this node
  /// writes it to the log unless another node did), then everything any node writes.
  /// Run again after a failure (etcd unreachable), it reads the log from its start again,
  /// checking what this node stored against it.
  public func run() async throws {
    if let problem = LogFollower.problem(with: follower.replica.genesis) {
      throw LedgerError.storage(path: "genesis", reason: problem)
    }
    follower = LogFollower(replica: follower.replica, maxBlockTransactions: maxBlockTransactions)
    revision = 0
    pendingSince = nil
    let genesis = Transaction.genesis(follower.replica.genesis).canonicalBytes
    if follower.replica.height == nil {
      _ = try await client.create(key: layout.transaction(genesis), value: genesis)
    }
    // The watch only queues what it reads: a watch that waited for the writes its events
    // cause would stop the connection those writes go over.
    let (events, sink) = AsyncStream.makeStream(of: [EtcdEvent].self)
    // Runs until cancelled or until one part fails, which stops the others.
    try await withThrowingDiscardingTaskGroup { group in
      group.addTask {
        defer { sink.finish() }
        try await self.client.watch(prefix: self.layout.bytes, from: 1) { sink.yield($0) }
      }
      group.addTask {
        for await batch in events { try await self.apply(batch) }
      }
      if let timeout = batchTimeout {
        group.addTask {
          while !Task.isCancelled {
            try await Task.sleep(for: timeout / 2)
            try await self.cutIfDue()
          }
        }
      }
      // The genesis block, on a new ledger: cut as soon as the genesis transaction is the log's.
      if follower.replica.height == nil {
        group.addTask { try await self.cutGenesis() }
      }
    }
  }

  /// Writes `bytes` to the log, unless the log holds them already (were two writes to race,
  /// the same bytes count once, where first).
  ///
  /// When the log is idle (nothing read from it waits to be cut and no other submission of
  /// this node is on its way, or no block for a batch timeout), the node's cut marker goes in
  /// the same etcd transaction as the write instead of a batch timeout later: a lone
  /// transaction (a round's open, close or commit) is cut in the same Raft commit that orders
  /// it, while a busy log still cuts in batches.
  public func submit(_ bytes: [UInt8]) async throws(EtcdError) {
    try await submit([bytes])
  }

  /// Writes each of `batch` to the log in order (those it does not hold yet, `unlessLogged`),
  /// in one etcd transaction, with a cut marker behind them as `submit` says: transactions
  /// that only make sense together go in one block.
  public func submit(_ batch: [[UInt8]], unlessLogged: Bool = true) async throws(EtcdError) {
    writing += 1
    defer { writing -= 1 }
    var writes: [(key: [UInt8], value: [UInt8])] = []
    for bytes in batch {
      guard unlessLogged else {
        writes.append((layout.transaction(bytes), bytes))
        continue
      }
      // The member's own copy is enough: a copy it has not seen yet is one more write of
      // the same bytes, which the log counts once.
      let copies = try await client.range(
        prefix: layout.transactions(like: bytes), serializable: true
      ).entries
      guard !copies.contains(where: { $0.value == bytes }) else { continue }
      writes.append((layout.transaction(bytes), bytes))
    }
    guard !writes.isEmpty else { return }
    try await write(writes)
  }

  /// One submission's writes, kept together (in order, in one etcd transaction when they fit).
  private struct Group {
    var writes: [(key: [UInt8], value: [UInt8])]
    /// Resumed with the outcome.
    var done: CheckedContinuation<Result<Void, EtcdError>, Never>
  }

  /// Writes `writes` in the node's next etcd transaction. While one is on its way, the
  /// submissions that arrive wait and then go together in the next: under load the log takes
  /// many transactions per Raft commit, instead of one etcd transaction each. One task of the
  /// node's writes them all, so no caller's submission waits on others' batches.
  private func write(_ writes: [(key: [UInt8], value: [UInt8])]) async throws(EtcdError) {
    try await withCheckedContinuation { done in
      queued.append(Group(writes: writes, done: done))
      if !flushing {
        flushing = true
        Task { await self.flush() }
      }
    }.get()
  }

  /// Writes what is queued, a batch per etcd transaction, until nothing is: each submission
  /// hears its own batch's outcome as soon as it is known.
  private func flush() async {
    while !queued.isEmpty {
      // Whole groups, as many as fit in one transaction beside a cut marker, and at most
      // 1 MiB of values (etcd takes requests of 1.5 MiB).
      var taken = 1
      var count = queued[0].writes.count
      var bytes = queued[0].writes.reduce(0) { $0 + $1.value.count }
      while taken < queued.count {
        let more = queued[taken].writes
        let size = more.reduce(0) { $0 + $1.value.count }
        guard count + more.count < EtcdClient.maximumEntries, bytes + size <= 1 << 20 else {
          break
        }
        count += more.count
        bytes += size
        taken += 1
      }
      let batch = Array(queued[..<taken])
      queued.removeFirst(taken)
      let results = await create(batch, last: queued.isEmpty)
      for (group, result) in zip(batch, results) { group.done.resume(returning: result) }
    }
    flushing = false
  }

  /// Writes `batch` in one etcd transaction (split where it holds more than one may), with
  /// this node's cut marker behind when the log is idle (`last`: nothing else of this node
  /// waits). Should a key exist already (keys end in a random nonce, so only a writer that
  /// took one could make it), the groups are written one by one, so that the taken key voids
  /// only its own group.
  private func create(_ batch: [Group], last: Bool) async -> [Result<Void, EtcdError>] {
    var writes = batch.flatMap(\.writes)
    if let timeout = batchTimeout, follower.genesisCut, backoff == 1,
      (follower.pendingCount == 0 && last && writing == batch.count)
        || lastStored.map({ ContinuousClock.now - $0 >= timeout }) ?? true
    {
      lastStored = .now
      let marker = CutMarker(timestamp: clock(), proposer: node)
      writes.append((layout.marker(by: node), marker.canonicalBytes))
    }
    do {
      if writes.count <= EtcdClient.maximumEntries {
        if try await client.create(writes) != nil || batch.count == 1 {
          return batch.map { _ in .success(()) }
        }
      } else if batch.count == 1 {
        var start = 0
        while start < writes.count {
          let end = min(writes.count, start + EtcdClient.maximumEntries)
          _ = try await client.create(Array(writes[start..<end]))
          start = end
        }
        return [.success(())]
      }
    } catch {
      return batch.map { _ in .failure(error) }
    }
    var results: [Result<Void, EtcdError>] = []
    for group in batch { results += await create([group], last: false) }
    return results
  }

  public func submit(_ transaction: Transaction) async throws(EtcdError) {
    try await submit(transaction.canonicalBytes)
  }

  /// Writes a cut marker now, dated by this node's clock (if another node's cut the same
  /// transactions first, this one cuts what came after, or nothing).
  public func cut() async throws(EtcdError) {
    let marker = CutMarker(timestamp: clock(), proposer: node)
    _ = try await client.create(key: layout.marker(by: node), value: marker.canonicalBytes)
  }

  /// Waits until this node stored the block at `height`, at most `timeout`; false if it
  /// had not by then.
  public func wait(forHeight height: UInt64, timeout: Duration) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline && !Task.isCancelled {
      if let h = follower.replica.height, h >= height { return true }
      // Woken by the next stored block, or at the deadline.
      let id = nextWaiter
      nextWaiter &+= 1
      await withTaskGroup(of: Void.self) { group in
        group.addTask {
          try? await Task.sleep(until: deadline)
          await self.wake(id)
        }
        await withCheckedContinuation { waiters[id] = $0 }
        group.cancelAll()
      }
    }
    return follower.replica.height.map { $0 >= height } ?? false
  }

  private func wake(_ id: UInt64) { waiters.removeValue(forKey: id)?.resume() }

  private func cutGenesis() async throws {
    while !follower.genesisCut && !Task.isCancelled {
      if follower.pendingCount > 0 {
        try await cut()
        return
      }
      try await Task.sleep(for: .milliseconds(5))
    }
  }

  private func cutIfDue() async throws {
    guard follower.genesisCut, follower.pendingCount > 0, let timeout = batchTimeout else {
      pendingSince = nil
      return
    }
    let now = ContinuousClock.now
    guard let since = pendingSince else {
      pendingSince = now
      return
    }
    if now - since >= timeout * backoff {
      pendingSince = nil
      try await cut()
    }
  }

  /// Reads the log's next events, in revision order.
  func apply(_ events: [EtcdEvent]) async throws {
    for event in events
    where event.kind == .put && event.entry.createRevision == event.entry.modRevision {
      revision = event.entry.modRevision
      guard let entry = layout.entry(event.entry.key, value: event.entry.value) else { continue }
      let steps: [LogFollower.Step]
      switch entry {
      case .transaction:
        follower.take(transaction: event.entry.value)
        continue
      case .marker(let writer):
        guard let marker = try? CutMarker(canonical: event.entry.value), marker.proposer == writer
        else { continue }
        steps = try follower.take(marker: marker)
      case .signature(let height):
        steps = try follower.take(signature: event.entry.value, height: height)
      case .refusal(let height):
        steps = try follower.take(refusal: event.entry.value, height: height)
      }
      try await perform(steps)
    }
  }

  private func perform(_ steps: [LogFollower.Step]) async throws {
    for step in steps {
      switch step {
      case .sign(let height, let signature):
        let bytes = signature.canonicalBytes
        _ = try await client.create(key: layout.signature(bytes, height: height), value: bytes)
      case .refuse(let height, let refusal, let problem):
        refusals = (refusals + [(height, problem)]).suffix(100)
        let bytes = refusal.canonicalBytes
        _ = try await client.create(key: layout.refusal(bytes, height: height), value: bytes)
      case .voided(let height):
        voids = (voids + [height]).suffix(100)
        // Each void in a row waits twice as long before the next cut (at most 10 s), so
        // nodes that keep refusing do not flood the log.
        backoff = min(backoff * 2, 500)
      case .stored(let block):
        backoff = 1
        lastStored = .now
        onStored(block)
        let woken = waiters.values
        waiters = [:]
        for w in woken { w.resume() }
      }
    }
  }
}
