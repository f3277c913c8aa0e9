import Crypto
import Etcd
import EtcdOrdering
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Ledger
import LedgerNode
import LocalProcesses
import Logging
import NodeAPI
import Records
import TransportIdentity
import X509
import XCTest

/// Ledger nodes as network services: each orders through a real etcd cluster and serves gRPC
/// over mutual TLS, where a certificate counts only if a key genesis or the ledger knows
/// vouches for it.
final class LedgerNodeTests: EtcdTestCase {
  override class var etcdMembers: Int { 3 }
  let members = (0..<3).map { _ in SigningKey() }
  let nodeKeys = (0..<3).map { _ in SigningKey() }

  lazy var genesis: Genesis = {
    Genesis(
      network: "node-test", createdAt: "2026-12-07T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodeKeys.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: nodeKeys.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: 2, initialModel: Hash256.of([0]), round: [],
      rules: RoundRules(minimumCohort: 2), clustersPerMember: 1)
  }()

  static func replica(directory: String, genesis: Genesis, node: Int, key: SigningKey) throws
    -> LedgerReplica
  {
    try LedgerReplica(directory: directory, genesis: genesis, name: "node-\(node)", key: key)
  }

  /// Starts node `i`: its orderer and its gRPC server on a free loopback port.
  func startNode(_ i: Int) async throws -> (node: LedgerNode, port: Int) {
    try await startNode(i, stop: { self.stops.append($0) })
  }

  func startNode(_ i: Int, stop: (@escaping () -> Void) -> Void) async throws -> (
    node: LedgerNode, port: Int
  ) {
    let client = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
    let replica = try Self.replica(
      directory: "\(directory)/node-\(i)", genesis: genesis, node: i, key: nodeKeys[i])
    let node = LedgerNode(replica: replica, etcd: client)
    let identity = try TransportCertificate.make(
      name: "node-\(i)", ledgerKey: nodeKeys[i], network: genesis.hash)
    let server = GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: "127.0.0.1", port: 0),
        transportSecurity: PeerTLS.server(
          identity, peers: node.peers, logger: Logger(label: "node-\(i)"))),
      services: [nodeService(backend: node, peers: node.peers)])
    let tasks = [
      Task { _ = try? await client.run() },
      Task { _ = try? await node.orderer.run() },
      Task { _ = try? await server.serveGracefully() },
    ]
    stop {
      server.beginGracefulShutdown()
      client.close()
      for t in tasks { t.cancel() }
    }
    let address = try await server.listeningAddress
    return (node, try XCTUnwrap(address?.ipv4?.port))
  }

  /// A client of node `i` presenting a certificate `key` vouches for.
  func client(of port: Int, node i: Int, as key: SigningKey, expecting: PublicKey? = nil) throws
    -> NodeClient
  {
    let identity = try TransportCertificate.make(
      name: "client", ledgerKey: key, network: genesis.hash)
    let client = try NodeClient(
      host: "127.0.0.1", port: port, identity: identity, network: genesis.hash,
      expected: [expecting ?? nodeKeys[i].publicKey], timeout: .seconds(5))
    let task = Task { _ = try? await client.run() }
    stops.append {
      client.close()
      task.cancel()
    }
    return client
  }

  func testNodesOrderThroughEtcdAndServeOnlyPeersTheLedgerKnows() async throws {
    var nodes: [(node: LedgerNode, port: Int)] = []
    for i in 0..<3 { nodes.append(try await startNode(i)) }
    for n in nodes {
      let stored = await n.node.orderer.wait(forHeight: 0, timeout: .seconds(20))
      XCTAssertTrue(stored, "\(n.node.name) stored the genesis block")
    }

    // A member enrols a cluster through node 1; every node stores it.
    let clusterKey = SigningKey()
    let enrolment = Transaction.enrolment(
      ClusterEnrolment(
        network: genesis.hash, cluster: "cluster-0", key: clusterKey.publicKey,
        member: "member-0", memberKey: members[0]))
    let member = try client(of: nodes[1].port, node: 1, as: members[0])
    let appended = try await member.submit(enrolment.canonicalBytes)
    XCTAssertTrue(appended)
    try await member.submit(enrolment.canonicalBytes)  // a retry: the block holds it once
    for n in nodes {
      let stored = await n.node.orderer.wait(forHeight: 1, timeout: .seconds(20))
      XCTAssertTrue(stored)
    }
    let again = try await member.submit(enrolment.canonicalBytes)
    XCTAssertFalse(again, "the ledger holds it already")
    var heads = Set<Hash256>()
    for (i, n) in nodes.enumerated() {
      let status = try await client(of: n.port, node: i, as: members[2]).status()
      XCTAssertEqual(status.node, "node-\(i)")
      XCTAssertEqual(status.network, genesis.hash)
      XCTAssertEqual(status.enrolledClusters, 1)
      heads.insert(status.head)
    }
    XCTAssertEqual(heads.count, 1, "every node is at the same head")

    // The enrolled cluster may now call any node; the block travels as stored.
    let cluster = try client(of: nodes[2].port, node: 2, as: clusterKey)
    let block = try await cluster.block(at: 1)
    XCTAssertEqual(block.transactions, [enrolment.canonicalBytes])
    XCTAssertEqual(block.valid, [true])

    // Attack: a key no one vouches for is refused at the handshake.
    let stranger = try client(of: nodes[0].port, node: 0, as: SigningKey())
    do {
      _ = try await stranger.status()
      XCTFail("a stranger's certificate was served")
    } catch {}
    // Attack: a server whose certificate another key vouches for is not the node meant.
    let misdirected = try client(
      of: nodes[0].port, node: 0, as: members[1], expecting: nodeKeys[1].publicKey)
    do {
      _ = try await misdirected.status()
      XCTFail("the client trusted a server that is not the node it meant")
    } catch {}
    // Attack: a stream request after the last possible height (it overflowed, and the trap
    // ended the node); the node refuses it and still answers.
    do {
      try await member.blocks(after: .max) { _ in false }
      XCTFail("a stream after the last height was served")
    } catch {}
    let alive = try await member.status()
    XCTAssertEqual(alive.node, "node-1")
    // The stream of blocks from the start carries what the node stored.
    let streamed = Counter()
    try await member.blocks(after: nil) { block in
      streamed.add()
      return block.height < 1
    }
    XCTAssertEqual(streamed.value, 2)
    // Attack: a transaction every node would refuse (an enrolment no member signed) is refused
    // before it reaches the log, so no one can fill the log with it.
    let forged = Transaction.enrolment(
      ClusterEnrolment(
        network: genesis.hash, cluster: "cluster-1", key: SigningKey().publicKey,
        member: "member-1", memberKey: SigningKey()))
    do {
      try await member.submit(forged.canonicalBytes)
      XCTFail("the node logged a transaction the ledger refuses")
    } catch {
      XCTAssert("\(error)".contains("would not take"), "\(error)")
    }
    // Attack: bytes that are not a transaction, and a blob with no commitment to it.
    do {
      try await member.submit([1, 2, 3])
      XCTFail("the node ordered bytes that are not a transaction")
    } catch {}
    do {
      try await member.submit(enrolment.canonicalBytes, blob: [9, 9, 9])
      XCTFail("the node kept a blob no commitment names")
    } catch {}
  }

  /// A node stopped mid-run misses blocks; started again on the same data, it reads the log
  /// from its start, checks what it stored against it, and catches up to the others' head.
  func testARestartedNodeCatchesUp() async throws {
    var nodes: [(node: LedgerNode, port: Int)] = []
    for i in 0..<2 { nodes.append(try await startNode(i)) }
    var stopThird: (() -> Void)?
    let third = try await startNode(2) { stopThird = $0 }
    for n in nodes + [third] {
      let stored = await n.node.orderer.wait(forHeight: 0, timeout: .seconds(20))
      XCTAssertTrue(stored)
    }
    let member = try client(of: nodes[0].port, node: 0, as: members[0])
    func enrol(_ i: Int) async throws {
      try await member.submit(
        Transaction.enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: "cluster-\(i)", key: SigningKey().publicKey,
            member: "member-\(i)", memberKey: members[i])
        ).canonicalBytes)
    }
    try await enrol(0)
    let first = await third.node.orderer.wait(forHeight: 1, timeout: .seconds(20))
    XCTAssertTrue(first)
    stopThird?()
    // Two nodes of three are a quorum: the ledger goes on without the third.
    try await enrol(1)
    try await enrol(2)
    var top: UInt64 = 0
    for _ in 0..<400 {
      top = await nodes[0].node.orderer.height ?? 0
      if await nodes[0].node.status().enrolledClusters == 3 { break }
      try await Task.sleep(for: .milliseconds(50))
    }
    let behind = await third.node.orderer.height
    XCTAssertLessThan(behind ?? 0, top, "the stopped node missed blocks")
    try await Task.sleep(for: .milliseconds(200))  // its replica is closed with its tasks
    let restarted = try await startNode(2)
    let caughtUp = await restarted.node.orderer.wait(forHeight: top, timeout: .seconds(20))
    XCTAssertTrue(caughtUp)
    let heads = await (nodes[0].node.orderer.head, restarted.node.orderer.head)
    XCTAssertEqual(heads.0, heads.1)
    let enrolled = await restarted.node.status().enrolledClusters
    XCTAssertEqual(enrolled, 3)
  }

  /// A certificate's binding: the vouching key is recovered from it; a certificate that
  /// copies another's binding onto its own key (an attacker reusing a node's binding) is
  /// refused, as is one with no binding.
  func testTransportCertificatesCarryTheirLedgerKey() throws {
    let key = SigningKey()
    let made = try TransportCertificate.make(
      name: "node-0", ledgerKey: key, network: genesis.hash)
    let certificate = try Certificate(pemEncoded: made.certificatePEM)
    XCTAssertEqual(
      try TransportCertificate.vouchingKey(of: certificate, network: genesis.hash), key.publicKey)

    func selfSigned(extensions: [Certificate.Extension]) throws -> Certificate {
      let attacker = P256.Signing.PrivateKey()
      let name = try DistinguishedName { CommonName("node-0") }
      return try Certificate(
        version: .v3, serialNumber: .init(), publicKey: .init(attacker.publicKey),
        notValidBefore: Date().addingTimeInterval(-60),
        notValidAfter: Date().addingTimeInterval(3600), issuer: name, subject: name,
        signatureAlgorithm: .ecdsaWithSHA256, extensions: try Certificate.Extensions(extensions),
        issuerPrivateKey: .init(attacker))
    }
    let binding = try XCTUnwrap(
      certificate.extensions.first { $0.oid == .X509ExtensionID.subjectAlternativeName })
    XCTAssertThrowsError(
      try TransportCertificate.vouchingKey(
        of: selfSigned(extensions: [binding]), network: genesis.hash)
    ) {
      guard case .forgedBinding(_, let claimed) = $0 as? TransportIdentityError else {
        return XCTFail("\($0)")
      }
      XCTAssertEqual(claimed, key.publicKey)
    }
    XCTAssertThrowsError(
      try TransportCertificate.vouchingKey(
        of: selfSigned(extensions: []), network: genesis.hash)
    ) {
      XCTAssertEqual($0 as? TransportIdentityError, .noBinding(subject: "CN=node-0"))
    }
    // Expired: judged at a time after its validity.
    XCTAssertThrowsError(
      try TransportCertificate.vouchingKey(
        of: certificate, network: genesis.hash, at: Date().addingTimeInterval(11 * 366 * 86400)))
    // Attack: the holder of the TLS key mints a longer-lived certificate with the same key and
    // binding; the binding signed the first one's expiry, so the new one is refused.
    let tlsKey = try P256.Signing.PrivateKey(pemRepresentation: made.privateKeyPEM)
    let longer = try Certificate(
      version: .v3, serialNumber: .init(), publicKey: certificate.publicKey,
      notValidBefore: certificate.notValidBefore,
      notValidAfter: certificate.notValidAfter.addingTimeInterval(365 * 86400),
      issuer: certificate.issuer, subject: certificate.subject,
      signatureAlgorithm: .ecdsaWithSHA256, extensions: certificate.extensions,
      issuerPrivateKey: .init(tlsKey))
    XCTAssertThrowsError(
      try TransportCertificate.vouchingKey(of: longer, network: genesis.hash))
    // Another network's: the binding names the network it was made for.
    XCTAssertThrowsError(
      try TransportCertificate.vouchingKey(of: certificate, network: Hash256.of([7])))
  }
}

/// A node that lies about its blocks: one verdict short of its transactions.
struct LyingNode: NodeBackend {
  func status() async -> NodeStatus {
    NodeStatus(
      node: "node-0", network: .zero, height: 0, head: .zero, round: 0, enrolledClusters: 0,
      ordering: "none")
  }
  func submit(transaction: [UInt8], blob: [UInt8]?, from peer: Peer) async throws -> Bool { true }
  func block(at height: UInt64) async throws -> WireBlock? {
    WireBlock(height: height, header: [1], transactions: [[1], [2]], signatures: [], valid: [true])
  }
  func blob(_ hash: Hash256) async throws -> [UInt8]? { nil }
  func receipt(round: UInt64) async throws -> [UInt8]? { nil }
  func height() async -> UInt64? { 0 }
  func waitForBlock(after height: UInt64?, timeout: Duration) async {
    try? await Task.sleep(for: .milliseconds(50))
  }
  var isStopping: Bool { false }
}

extension LedgerNodeTests {
  /// Attack (a lying node): a block with fewer verdicts than transactions is refused by the
  /// client, whether fetched or streamed, rather than indexed out of range by its caller.
  /// Enrols clusters 0, 1 and 2 through `node`'s orderer, with fresh keys; returns the keys.
  func enrolThree(through node: LedgerNode) async throws -> [SigningKey] {
    let clusterKeys = (0..<3).map { _ in SigningKey() }
    for (i, key) in clusterKeys.enumerated() {
      try await node.orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: "cluster-\(i)", key: key.publicKey,
            member: "member-\(i)", memberKey: members[i])))
    }
    return clusterKeys
  }

  /// The node that takes a round's last update orders the round's close right behind it,
  /// counting the updates the log holds but no block stores yet; a forged commitment read
  /// ahead in the log (attack: another node writes one with a bad signature) makes that close
  /// one the ledger refuses, and the round stays open for the coordinator's.
  func testTheCloseRidesWithTheLastUpdateOnTheLedgersTip() async throws {
    // Two nodes (a block needs two signatures); nothing is cut but by the test, so
    // commitments stay in the log, unstored, until it says.
    var nodes: [LedgerNode] = []
    for i in 0..<2 {
      let client = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
      let replica = try Self.replica(
        directory: "\(directory)/node-\(i)", genesis: genesis, node: i, key: nodeKeys[i])
      let node = LedgerNode(
        replica: replica, etcd: client, closeKey: nodeKeys[i], batchTimeout: nil)
      let tasks = [
        Task { _ = try? await client.run() }, Task { _ = try? await node.orderer.run() },
      ]
      stops.append {
        client.close()
        for t in tasks { t.cancel() }
      }
      nodes.append(node)
      for _ in 0..<2000 where await node.orderer.markers == 0 {
        try await Task.sleep(for: .milliseconds(10))
      }
    }
    let node = nodes[0]
    for _ in 0..<2000 where await node.orderer.height == nil {
      try await Task.sleep(for: .milliseconds(10))
    }
    let clusterKeys = try await enrolThree(through: node)
    func cut(to height: UInt64) async throws {
      try await node.orderer.cut()
      let stored = await node.orderer.wait(forHeight: height, timeout: .seconds(20))
      XCTAssertTrue(stored, "block \(height)")
    }
    try await cut(to: 1)
    func open(_ round: UInt64) async throws {
      try await node.orderer.submit(
        .roundOpen(
          RoundOpen(
            network: genesis.hash, round: round, baseModel: genesis.initialModel!,
            participants: ["cluster-0", "cluster-1", "cluster-2"], rules: genesis.rules,
            configuration: genesis.round, node: nodeKeys[0])))
    }
    try await open(1)
    try await cut(to: 2)
    let peer = Peer(key: clusterKeys[0].publicKey, role: .cluster, name: "test", address: "test")
    func commitment(_ i: Int, round: UInt64, key: SigningKey? = nil) -> ([UInt8], [UInt8]) {
      let payload = Array("update \(i) of round \(round)".utf8)
      let tx = Transaction.commitment(
        UpdateCommitment(
          network: genesis.hash, round: round, cluster: "cluster-\(i)",
          payload: Hash256.of(payload), payloadSize: UInt64(payload.count),
          clusterKey: key ?? clusterKeys[i]))
      return (tx.canonicalBytes, payload)
    }
    func waitForTip(_ count: Int) async throws {
      for _ in 0..<2000 where await node.orderer.tip().beyond.count < count {
        try await Task.sleep(for: .milliseconds(5))
      }
    }
    for i in 0..<2 {
      let (tx, payload) = commitment(i, round: 1)
      _ = try await node.submit(transaction: tx, blob: payload, from: peer)
    }
    try await waitForTip(2)
    let (last, payload) = commitment(2, round: 1)
    _ = try await node.submit(transaction: last, blob: payload, from: peer)
    try await cut(to: 3)
    let (block, outcomes) = try await node.orderer.withReplica {
      (try XCTUnwrap($0.store.block(at: 3)), try $0.store.transactions(at: 3).map(\.outcome))
    }
    XCTAssertEqual(block.transactions.count, 4)
    guard case .roundClose(let close) = try Transaction(canonical: block.transactions[3]) else {
      return XCTFail("the close rides right behind the last update")
    }
    XCTAssertEqual(close.updates.count, 3)
    XCTAssertTrue(outcomes.allSatisfy(\.isValid), "\(outcomes)")

    // Round 2 (round 1 aborted): cluster-1's commitment in the log is forged (signed by
    // another key).
    try await node.orderer.submit(
      .roundAbort(RoundAbort(network: genesis.hash, round: 1, reason: "test", node: nodeKeys[0])))
    try await open(2)
    try await cut(to: 4)
    let writer = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
    let writing = Task { _ = try? await writer.run() }
    defer {
      writer.close()
      writing.cancel()
    }
    let (forged, _) = commitment(1, round: 2, key: SigningKey())
    _ = try await writer.create(key: node.orderer.layout.transaction(forged), value: forged)
    let (first, firstPayload) = commitment(0, round: 2)
    _ = try await node.submit(transaction: first, blob: firstPayload, from: peer)
    try await waitForTip(2)
    let (third, thirdPayload) = commitment(2, round: 2)
    _ = try await node.submit(transaction: third, blob: thirdPayload, from: peer)
    try await cut(to: 5)
    let (closed, verdicts) = try await node.orderer.withReplica {
      (
        $0.state.rounds[2]?.close,
        try $0.store.transactions(at: 5).map(\.outcome.isValid)
      )
    }
    XCTAssertNil(closed, "the close that counted the forged commitment is refused")
    XCTAssertEqual(verdicts, [false, true, true, false])
  }

  /// A node orders a commitment only once a peer node keeps its payload too (a node that
  /// crashes or stalls right after taking an update cannot leave a round no one can
  /// aggregate); with no peer answering, it refuses the update instead. Attacks: a cluster
  /// asks a node to hold a payload (nodes only), a node asks it to hold bytes no commitment
  /// names (refused, nothing kept).
  func testAPayloadIsKeptByAPeerBeforeItsCommitmentIsOrdered() async throws {
    // Node 1 serves (it pulls nothing: it runs no rounds); node 0 sends it each payload.
    let served = try await startNode(1)
    let holder = try client(of: served.port, node: 1, as: nodeKeys[0])
    func start(_ i: Int, holders: [NodeClient]) throws -> LedgerNode {
      let client = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
      let replica = try Self.replica(
        directory: "\(directory)/node-\(i)", genesis: genesis, node: i, key: nodeKeys[i])
      let node = LedgerNode(replica: replica, etcd: client, holders: holders)
      let tasks = [
        Task { _ = try? await client.run() }, Task { _ = try? await node.orderer.run() },
      ]
      stops.append {
        client.close()
        for t in tasks { t.cancel() }
      }
      return node
    }
    let node = try start(0, holders: [holder])
    for _ in 0..<2000 where await node.orderer.height == nil {
      try await Task.sleep(for: .milliseconds(10))
    }
    let clusterKeys = try await enrolThree(through: node)
    try await node.orderer.submit(
      .roundOpen(
        RoundOpen(
          network: genesis.hash, round: 1, baseModel: genesis.initialModel!,
          participants: ["cluster-0", "cluster-1", "cluster-2"], rules: genesis.rules,
          configuration: genesis.round, node: nodeKeys[0])))
    for _ in 0..<2000 where await served.node.status().round != 1 {
      try await Task.sleep(for: .milliseconds(10))
    }
    func commitment(_ i: Int, payload text: String? = nil) -> ([UInt8], [UInt8]) {
      let payload = Array((text ?? "update \(i)").utf8)
      let tx = Transaction.commitment(
        UpdateCommitment(
          network: genesis.hash, round: 1, cluster: "cluster-\(i)",
          payload: Hash256.of(payload), payloadSize: UInt64(payload.count),
          clusterKey: clusterKeys[i]))
      return (tx.canonicalBytes, payload)
    }
    let cluster = Peer(key: clusterKeys[0].publicKey, role: .cluster, name: "c", address: "c")
    let (tx, payload) = commitment(0)
    let appended = try await node.submit(transaction: tx, blob: payload, from: cluster)
    XCTAssertTrue(appended)
    XCTAssertTrue(
      served.node.blobs.contains(Hash256.of(payload)),
      "the peer keeps the payload before the commitment is ordered")

    // A cluster cannot ask a node to hold anything.
    let asCluster = try client(of: served.port, node: 1, as: clusterKeys[1])
    let (other, otherPayload) = commitment(1)
    do {
      try await asCluster.hold(transaction: other, blob: otherPayload)
      XCTFail("a cluster's hold was taken")
    } catch let error as RPCError {
      XCTAssertEqual(error.code, .permissionDenied, "\(error)")
    }
    // A node cannot make a peer keep bytes no commitment names.
    do {
      try await holder.hold(transaction: other, blob: Array("junk".utf8))
      XCTFail("a blob no commitment names was kept")
    } catch let error as RPCError {
      XCTAssertEqual(error.code, .failedPrecondition, "\(error)")
    }
    XCTAssertFalse(served.node.blobs.contains(Hash256.of(Array("junk".utf8))))
    // Nor more than one payload per cluster and round: a node and a cluster that sign many
    // payloads no one orders fill no disk.
    try await holder.hold(transaction: other, blob: otherPayload)
    let (another, anotherPayload) = commitment(1, payload: "another update 1")
    do {
      try await holder.hold(transaction: another, blob: anotherPayload)
      XCTFail("a second payload of cluster-1 for round 1 was kept")
    } catch let error as RPCError {
      XCTAssertEqual(error.code, .failedPrecondition, "\(error)")
    }
    XCTAssertTrue(served.node.blobs.contains(Hash256.of(otherPayload)))
    XCTAssertFalse(served.node.blobs.contains(Hash256.of(anotherPayload)))

    // No peer answers (its only holder listens nowhere): the update is refused, not ordered.
    let nowhere = try client(of: try LoopbackPort.free(), node: 2, as: nodeKeys[2])
    let lonely = try start(2, holders: [nowhere])
    for _ in 0..<2000 where await lonely.status().round != 1 {
      try await Task.sleep(for: .milliseconds(10))
    }
    let (third, thirdPayload) = commitment(2)
    do {
      _ = try await lonely.submit(transaction: third, blob: thirdPayload, from: cluster)
      XCTFail("an update no peer kept was ordered")
    } catch {
      XCTAssertTrue("\(error)".contains("no peer node kept a copy"), "\(error)")
    }
    let reader = try EtcdClient(endpoints: try XCTUnwrap(etcd).endpoints)
    let reading = Task { _ = try? await reader.run() }
    defer {
      reader.close()
      reading.cancel()
    }
    let logged = try await reader.range(prefix: node.orderer.layout.transactions(like: third))
    XCTAssertTrue(logged.entries.isEmpty)
  }

  func testAClientRefusesABlockWithoutAVerdictPerTransaction() async throws {
    let peers = PeerDirectory(
      network: genesis.hash, nodes: [("node-0", nodeKeys[0].publicKey)],
      members: [("member-0", members[0].publicKey)])
    let identity = try TransportCertificate.make(
      name: "node-0", ledgerKey: nodeKeys[0], network: genesis.hash)
    let server = GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: "127.0.0.1", port: 0),
        transportSecurity: PeerTLS.server(identity, peers: peers, logger: Logger(label: "liar"))),
      services: [nodeService(backend: LyingNode(), peers: peers)])
    let serving = Task { try? await server.serveGracefully() }
    defer {
      server.beginGracefulShutdown()
      serving.cancel()
    }
    let address = try await server.listeningAddress
    let client = try client(of: try XCTUnwrap(address?.ipv4?.port), node: 0, as: members[0])
    do {
      _ = try await client.block(at: 0)
      XCTFail("a block one verdict short was taken")
    } catch {
      XCTAssert("\(error)".contains("2 transactions and 1 verdicts"), "\(error)")
    }
    do {
      try await client.blocks(after: nil) { _ in
        XCTFail("a streamed block one verdict short was handed on")
        return false
      }
      XCTFail("the stream of a lying node ended without an error")
    } catch {}
  }
}

/// Counts from a `@Sendable` closure.
final class Counter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func add() { lock.withLock { count += 1 } }
  var value: Int { lock.withLock { count } }
}
