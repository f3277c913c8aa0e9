import Etcd
import EtcdOrdering
import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// Ordering through a real etcd cluster: the same transactions make the same blocks as the
/// embedded orderer, on every node, whoever writes them and whoever cuts.
final class EtcdOrdererTests: XCTestCase {
  let members = (0..<3).map { _ in SigningKey() }
  let nodes = (0..<3).map { _ in SigningKey() }
  var directory = ""
  var etcd: EtcdProcesses?
  /// A fixed clock, so that both orderers date their blocks alike.
  static let now: UInt64 = 1_796_000_000_000

  override func setUp() async throws {
    directory =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-etcd-ordering-\(UUID().uuidString)"
      ).path
    etcd = try await EtcdProcesses.ready(members: 3)
  }

  override func tearDown() {
    etcd?.stop()
    try? FileManager.default.removeItem(atPath: directory)
  }

  lazy var genesis: Genesis = {
    Genesis(
      network: "etcd-ordering-test", createdAt: "2026-12-07T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodes.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: nodes.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: 2, initialModel: Hash256.of([0]), round: [],
      rules: RoundRules(minimumCohort: 2), clustersPerMember: 1)
  }()

  func replica(_ i: Int, in folder: String) throws -> LedgerReplica {
    try Self.replica(
      directory: "\(directory)/\(folder)/node-\(i)", genesis: genesis, node: i, key: nodes[i])
  }

  static func replica(
    directory: String, genesis: Genesis, node: Int, key: SigningKey, clock: UInt64 = now
  ) throws -> LedgerReplica {
    try LedgerReplica(
      directory: directory, genesis: genesis, name: "node-\(node)", key: key, clock: { clock })
  }

  func enrolment(_ cluster: String, member: Int, signedBy key: SigningKey? = nil) -> Transaction {
    .enrolment(
      ClusterEnrolment(
        network: genesis.hash, cluster: cluster, key: SigningKey().publicKey,
        member: "member-\(member)", memberKey: key ?? members[member]))
  }

  /// A node's orderer, following the log in a task of its own.
  struct Running {
    let orderer: EtcdOrderer
    let client: EtcdClient
    let tasks: [Task<Void, Never>]
    let failure: Failure
    func stop() {
      for t in tasks { t.cancel() }
      client.close()
    }
  }

  func start(
    _ i: Int, in folder: String, batchTimeout: Duration? = nil, clock: UInt64 = now
  ) throws -> Running {
    let client = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
    let replica = try Self.replica(
      directory: "\(directory)/\(folder)/node-\(i)", genesis: genesis, node: i, key: nodes[i],
      clock: clock)
    let orderer = EtcdOrderer(
      replica: replica, client: client, batchTimeout: batchTimeout, clock: { clock })
    let connections = Task { _ = try? await client.run() }
    let failure = Failure()
    let following = Task {
      do { try await orderer.run() } catch { failure.set("\(error)") }
    }
    return Running(
      orderer: orderer, client: client, tasks: [connections, following], failure: failure)
  }

  /// Nodes 0, 1 and 2 following the log, node 0 having started it (so the genesis block is
  /// node 0's), all at the genesis block.
  func startThree() async throws -> [Running] {
    var running = [try start(0, in: "etcd")]
    for _ in 0..<2000 where await running[0].orderer.markers == 0 {
      try await Task.sleep(for: .milliseconds(10))
    }
    running += try (1..<3).map { try start($0, in: "etcd") }
    try await wait(running, forHeight: 0)
    return running
  }

  /// An etcd client of the test's own: any writer to etcd, as an attacker would be.
  func rawWriter() throws -> EtcdClient {
    let writer = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
    Task { _ = try? await writer.run() }
    return writer
  }

  /// Waits for every node to store `height`, at most 20 s each.
  func wait(_ nodes: [Running], forHeight height: UInt64) async throws {
    for n in nodes {
      let stored = await n.orderer.wait(forHeight: height, timeout: .seconds(20))
      if !stored {
        let (node, at, refusals) = await (n.orderer.node, n.orderer.height, n.orderer.refusals)
        XCTFail(
          "\(node) did not store block \(height) in 20 s (at \(String(describing: at)); refused \(refusals); stopped: \(n.failure.value ?? "no"))"
        )
        throw CancellationError()
      }
    }
  }

  /// The embedded orderer and the etcd one, fed the same transactions in the same batches,
  /// store byte-identical blocks (header hash, transactions, verdicts) on every node.
  func testTheEtcdOrdererCutsTheBlocksTheEmbeddedOneDoes() async throws {
    let batches: [[Transaction]] = [
      [
        enrolment("cluster-0", member: 0),
        enrolment("cluster-1", member: 1, signedBy: SigningKey()),
      ],
      [enrolment("cluster-2", member: 2), enrolment("cluster-3", member: 1)],
    ]
    let embedded = try EmbeddedOrderer(
      replicas: (0..<3).map { try replica($0, in: "embedded") }, clock: { Self.now })
    var expected = try embedded.cut()
    for batch in batches {
      for t in batch { embedded.submit(t) }
      expected += try embedded.cut()
    }
    XCTAssertEqual(expected.count, 3)

    // Node 0 starts the log (its genesis block is node 0's, as the embedded orderer's is),
    // then the others join and read it from the start.
    var running = [try start(0, in: "etcd")]
    defer { for r in running { r.stop() } }
    for _ in 0..<2000 where await running[0].orderer.markers == 0 {
      try await Task.sleep(for: .milliseconds(10))
    }
    running += try (1..<3).map { try start($0, in: "etcd") }
    try await wait(running, forHeight: 0)
    for (b, batch) in batches.enumerated() {
      // Each transaction from another node; node 0 cuts.
      for (i, t) in batch.enumerated() {
        try await running[(i + b) % 3].orderer.submit(t)
      }
      try await running[0].orderer.cut()
      try await wait(running, forHeight: UInt64(b + 1))
    }
    for r in running {
      for e in expected {
        let height = e.block.header.height
        let stored = try await r.orderer.withReplica { try XCTUnwrap($0.store.block(at: height)) }
        XCTAssertEqual(stored.header, e.block.header, "height \(height)")
        XCTAssertEqual(stored.transactions, e.block.transactions)
        let outcomes = try await r.orderer.withReplica {
          try $0.store.transactions(at: height).map(\.outcome)
        }
        XCTAssertEqual(outcomes, e.outcomes)
        XCTAssertGreaterThanOrEqual(stored.signatures.all.count, genesis.blockQuorum)
      }
      let head = await r.orderer.head
      XCTAssertEqual(head, embedded.replicas[0].head)
    }
  }

  /// Submissions that arrive while the node's etcd transaction is on its way go together in
  /// its next one (a group commit): 60 at once take far fewer Raft commits than 60, and each
  /// is in the log, and then in the block, exactly once and whole.
  func testConcurrentSubmissionsShareEtcdTransactionsAndEachCountsOnce() async throws {
    let running = try await startThree()
    defer { for r in running { r.stop() } }
    let layout = running[0].orderer.layout
    let client = running[0].client
    let before = try await client.range(prefix: layout.bytes).revision
    let transactions = (0..<60).map { enrolment("cluster-\($0)", member: $0 % 3) }
    let orderer = running[0].orderer
    try await withThrowingTaskGroup(of: Void.self) { group in
      for t in transactions { group.addTask { try await orderer.submit(t) } }
      try await group.waitForAll()
    }
    let after = try await client.range(prefix: layout.bytes).revision
    XCTAssertLessThan(after - before, 30, "one etcd transaction per few submissions")
    try await running[1].orderer.cut()
    try await wait(running, forHeight: 1)
    for r in running {
      let block = try await r.orderer.withReplica { try XCTUnwrap($0.store.block(at: 1)) }
      XCTAssertEqual(Set(block.transactions), Set(transactions.map(\.canonicalBytes)))
      XCTAssertEqual(block.transactions.count, transactions.count)
    }
  }

  /// Attack (any etcd writer): junk under a transaction's key, markers not by their writer or
  /// by no node, and signature entries that claim a genesis node but do not verify,
  /// written around the honest ones for the same block, and entries for blocks not yet cut,
  /// do not keep the block from being stored with valid signatures.
  func testForgedSignatureEntriesDoNotBlockABlock() async throws {
    let running = try await startThree()
    defer { for r in running { r.stop() } }
    let writer = try rawWriter()
    defer { writer.close() }
    let layout = running[0].orderer.layout
    func forge(height: UInt64, tag: String) async throws {
      for key in nodes {
        let junk = BlockSignature(
          signer: key.publicKey, signature: SigningKey().sign([1], for: .block))
        _ = try await writer.create(
          key: layout.signature(junk.canonicalBytes, height: height), value: junk.canonicalBytes)
      }
    }
    try await forge(height: 1, tag: "early")
    try await forge(height: 7, tag: "ahead")
    let t = enrolment("cluster-0", member: 0)
    // Squatting: junk under a key naming the hash of the transaction about to be written, a
    // marker by no genesis node dated a day ahead, and one whose key and proposer disagree.
    // None counts, and none can take the key an honest write will use.
    let hash = Hash256.of(t.canonicalBytes).hex
    _ = try await writer.create(
      key: Array((layout.prefix + "tx/\(hash)/squat").utf8), value: [1, 2, 3])
    _ = try await writer.create(
      key: Array((layout.prefix + "cut/evil/1").utf8),
      value: CutMarker(timestamp: Self.now + 86_400_000, proposer: "evil").canonicalBytes)
    _ = try await writer.create(
      key: Array((layout.prefix + "cut/node-1/2").utf8),
      value: CutMarker(timestamp: Self.now + 86_400_000, proposer: "node-2").canonicalBytes)
    try await running[1].orderer.submit(t)
    // A retried write of the same bytes is not written again (the squatter's junk, under the
    // same hash, does not count as a copy).
    try await running[0].orderer.submit(t)
    let copies = try await writer.range(prefix: layout.transactions(like: t.canonicalBytes))
    XCTAssertEqual(copies.entries.count, 2)
    XCTAssertEqual(copies.entries.filter { $0.value == t.canonicalBytes }.count, 1)
    try await running[2].orderer.cut()
    try await forge(height: 1, tag: "late")
    try await wait(running, forHeight: 1)
    for r in running {
      let block = try await r.orderer.withReplica { try XCTUnwrap($0.store.block(at: 1)) }
      XCTAssertEqual(block.transactions, [t.canonicalBytes])
      XCTAssert(block.signatures.all.allSatisfy { $0.verifies(block.header) })
    }
  }

  /// A block dated far from the nodes' clocks (a faulty node's marker, or a network down for
  /// longer than the skew between a cut and its signatures) cannot stall the ledger: every
  /// node refuses it in the log, the refusals void it, and the next marker dates the same
  /// transactions again at the same height.
  func testRefusedBlocksAreVoidedAndCutAgain() async throws {
    let running = try await startThree()
    defer { for r in running { r.stop() } }
    let writer = try rawWriter()
    defer { writer.close() }
    let layout = running[0].orderer.layout
    let t = enrolment("cluster-0", member: 0)
    try await running[1].orderer.submit(t)
    // node-1's marker, dated a day ahead: no node signs that block.
    let ahead = CutMarker(timestamp: Self.now + 86_400_000, proposer: "node-1")
    _ = try await writer.create(key: layout.marker(by: "node-1"), value: ahead.canonicalBytes)
    for _ in 0..<2000 {
      let voided = await running[0].orderer.voids
      if !voided.isEmpty { break }
      try await Task.sleep(for: .milliseconds(10))
    }
    for r in running {
      let (height, voids, refusals) = await (r.orderer.height, r.orderer.voids, r.orderer.refusals)
      XCTAssertEqual(height, 0, "nothing stored at height 1 yet")
      XCTAssertEqual(Array(voids), [1], "\(r.orderer.node)")
      XCTAssertEqual(refusals.map(\.height), [1])
    }
    // The next marker dates it again.
    try await running[2].orderer.cut()
    try await wait(running, forHeight: 1)
    var heads = Set<Hash256>()
    for r in running {
      let block = try await r.orderer.withReplica { try XCTUnwrap($0.store.block(at: 1)) }
      XCTAssertEqual(block.transactions, [t.canonicalBytes])
      XCTAssertEqual(block.header.timestamp, Self.now)
      XCTAssertEqual(block.header.proposer, "node-2")
      heads.insert(block.hash)
    }
    XCTAssertEqual(heads.count, 1)
  }

  /// Clocks disagree at the skew's edge: one node signs a block the others refuse. A quorum of
  /// refusals voids it (so it can never gather a quorum of signatures), which releases the
  /// node that signed it: the block dated again at the same height is signed and stored.
  func testAVoidReleasesTheNodeThatSignedTheVoidBlock() async throws {
    let minute: UInt64 = 60_000
    // node-0's clock runs six minutes ahead of the others'; node-1 starts the log, so the
    // genesis block is dated by the others' clock (node-0 refuses it; the other two store it).
    var running = [try start(1, in: "etcd")]
    defer { for r in running { r.stop() } }
    for _ in 0..<2000 where await running[0].orderer.markers == 0 {
      try await Task.sleep(for: .milliseconds(10))
    }
    running = [try start(0, in: "etcd", clock: Self.now + 6 * minute), running[0]]
    running.append(try start(2, in: "etcd"))
    try await wait(running, forHeight: 0)
    let writer = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
    let connection = Task { _ = try? await writer.run() }
    defer {
      writer.close()
      connection.cancel()
    }
    let layout = running[0].orderer.layout
    let t = enrolment("cluster-0", member: 0)
    try await running[1].orderer.submit(t)
    // Dated 5.5 minutes ahead of nodes 1 and 2: node-0 (half a minute off) signs, they refuse.
    let edge = CutMarker(timestamp: Self.now + 5 * minute + minute / 2, proposer: "node-1")
    _ = try await writer.create(key: layout.marker(by: "node-1"), value: edge.canonicalBytes)
    for _ in 0..<2000 where await running[1].orderer.voids.isEmpty {
      try await Task.sleep(for: .milliseconds(10))
    }
    // Dated again 2.75 minutes ahead: within everyone's skew.
    let again = CutMarker(timestamp: Self.now + 2 * minute + 3 * minute / 4, proposer: "node-2")
    _ = try await writer.create(key: layout.marker(by: "node-2"), value: again.canonicalBytes)
    try await wait(running, forHeight: 1)
    let block = try await running[1].orderer.withReplica { try XCTUnwrap($0.store.block(at: 1)) }
    XCTAssertEqual(block.transactions, [t.canonicalBytes])
    XCTAssertEqual(block.header.timestamp, again.timestamp)
    XCTAssert(block.signatures.all.allSatisfy { $0.verifies(block.header) })
    // node-0 signed the void block and, released, the one dated again: it refused neither.
    let refused = await running[0].orderer.refusals
    XCTAssertFalse(refused.contains { $0.height == 1 }, "\(refused)")
    for r in running {
      let head = await r.orderer.head
      XCTAssertEqual(head, block.hash)
    }
  }
}

/// Why a node's orderer stopped, if it did.
final class Failure: @unchecked Sendable {
  private let lock = NSLock()
  private var reason: String?
  func set(_ r: String) { lock.withLock { reason = r } }
  var value: String? { lock.withLock { reason } }
}

/// The etcd client's failover between the members it was given.
final class EtcdClientFailoverTests: EtcdTestCase {
  override class var etcdMembers: Int { 3 }

  /// The member a client uses dies (kill -9; it was the leader, or not): the client's next
  /// calls go to the others within seconds, and the log takes writes again after the election.
  func testTheClientGoesOnWithTheOtherMembersWhenOneDies() async throws {
    let etcd = try XCTUnwrap(self.etcd)
    let client = try EtcdClient(endpoints: etcd.endpoints, timeout: .seconds(2))
    let running = Task { try? await client.run() }
    defer {
      client.close()
      running.cancel()
    }
    _ = try await client.create(key: Array("/test/before".utf8), value: [1])
    // The first member given is the one a client that connects in order reaches first.
    let reached = 0
    kill(etcd.processes[reached].processIdentifier, SIGKILL)
    let start = ContinuousClock.now
    var written = false
    while !written && ContinuousClock.now - start < .seconds(20) {
      written = (try? await client.create(key: Array("/test/after".utf8), value: [2])) != nil
    }
    XCTAssertTrue(written, "no write in 20 s after member \(reached) died")
    XCTAssertLessThan(ContinuousClock.now - start, .seconds(10))
  }
}
