import ArgumentParser
import Foundation
import Host
import Ledger
import Ordering
import Records

struct BenchLedger: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ledger",
    abstract: "Ledger append rate and full-audit time on a generated federation workload.",
    discussion: """
      Builds a network (one member per node, node keys endorse, k a majority), enrols the \
      clusters, and signs rounds of transactions before the clock starts: per round a \
      round-open, one update commitment per cluster, a round-close, every node's endorsement \
      and a model commit. Then it times ordering them into blocks of --block-size on every \
      node (each node checks every transaction, signatures included, and stores each block in \
      one SQLite transaction, synced to disk), and, in the same run, the same append with one \
      transaction per block (one sync per transaction) as the baseline. Last, it times \
      `ledger audit` of the whole ledger.
      """)

  @Option(help: "Transactions to append (at least).") var transactions = 10_000
  @Option(help: "Transactions per block.") var blockSize = 100
  @Option(help: "Ledger nodes, each storing and checking every block.") var nodes = 1
  @Option(help: "Clusters committing an update each round.") var clusters = 100
  @Option(help: "Transactions for the one-per-block baseline (0 to skip).") var baseline = 1000
  @Option(help: "Directory for the ledgers (default: a new temporary directory).") var directory:
    String?

  func validate() throws {
    guard transactions > 0, blockSize > 0, nodes > 0, clusters > 0, baseline >= 0 else {
      throw ValidationError("--transactions, --block-size, --nodes and --clusters must be positive")
    }
  }

  func run() throws {
    let root =
      directory
      ?? FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-bench-\(UUID().uuidString)"
      ).path
    defer { if directory == nil { try? FileManager.default.removeItem(atPath: root) } }
    print(
      "bench ledger: \(nodes) node(s), \(clusters) clusters, rounds of \(clusters + nodes + 3) transactions"
    )
    let main = try measure(count: transactions, blockSize: blockSize, at: root + "/main")
    print(
      String(
        format:
          "append  %6d tx in %5d blocks of %d: %.2f s, %8.0f tx/s, %.1f blocks/s (every node checks and stores each)",
        main.transactions, main.blocks, blockSize, main.seconds,
        Double(main.transactions) / main.seconds, Double(main.blocks) / main.seconds))
    if baseline > 0 {
      let base = try measure(count: baseline, blockSize: 1, at: root + "/baseline")
      let rate = Double(base.transactions) / base.seconds
      print(
        String(
          format:
            "baseline %5d tx, one per block (a sync each): %.2f s, %8.0f tx/s; batching gains %.1fx",
          base.transactions, base.seconds, rate,
          Double(main.transactions) / main.seconds / rate))
    }
    let genesis = main.genesis
    let start = Date()
    let report = try Ledger.LedgerAudit.run(directory: root + "/main/node-0", genesis: genesis)
    let auditSeconds = Date().timeIntervalSince(start)
    print(
      String(
        format:
          "audit   %6d tx, %d blocks, %d node signatures, %d blobs: %.2f s (%.0f tx/s)",
        report.transactions, report.blocks, report.blockSignatures, report.blobs, auditSeconds,
        Double(report.transactions) / auditSeconds))
  }

  struct Result {
    var transactions: Int
    var blocks: Int
    var seconds: Double
    var genesis: Genesis
  }

  /// Builds the network and workload at `path`, then times ordering it into blocks.
  private func measure(count: Int, blockSize: Int, at path: String) throws -> Result {
    let members = (0..<nodes).map { _ in SigningKey() }
    let nodeKeys = (0..<nodes).map { _ in SigningKey() }
    let clusterKeys = (0..<clusters).map { _ in SigningKey() }
    let genesis = Genesis(
      network: "bench", createdAt: "2026-11-26T00:00:00Z",
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodeKeys.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: nodeKeys.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: nodes / 2 + 1, initialModel: Hash256.of([0]),
      rules: RoundRules(minimumCohort: min(RoundRules.defaultMinimumCohort, clusters)))
    let network = genesis.hash
    let replicas = try nodeKeys.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(path)/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    let orderer = try EmbeddedOrderer(replicas: replicas, maxBlockTransactions: blockSize)
    let blobs = LocalBlobExchange(stores: replicas.map(\.blobs), sync: false)

    try orderer.cut()  // genesis block

    // Sign everything before the clock starts: clients and enclaves sign, not the ledger.
    var pending: [Transaction] = clusterKeys.enumerated().map { i, key in
      .enrolment(
        ClusterEnrolment(
          network: network, cluster: "cluster-\(i)", key: key.publicKey,
          member: "member-\(i % nodes)", memberKey: members[i % nodes]))
    }
    var base = genesis.initialModel!
    var round: UInt64 = 0
    while pending.count < count {
      round += 1
      let open = Transaction.roundOpen(
        RoundOpen(
          network: network, round: round, baseModel: base, participants: [],
          rules: genesis.rules, node: nodeKeys[0]))
      pending.append(open)
      var updates: [Hash256] = []
      var entries: [RoundClose.Entry] = []
      for (i, key) in clusterKeys.enumerated() {
        let payload = Array("update \(round) \(i)".utf8) + [UInt8](repeating: 1, count: 64)
        let hash = try blobs.publish(payload)
        updates.append(hash)
        entries.append(.init(cluster: "cluster-\(i)", key: key.publicKey, payload: hash))
        pending.append(
          .commitment(
            UpdateCommitment(
              network: network, round: round, cluster: "cluster-\(i)", payload: hash,
              payloadSize: UInt64(payload.count), clusterKey: key)))
      }
      pending.append(
        .roundClose(
          RoundClose(
            network: network, round: round, open: Hash256.of(open.canonicalBytes),
            updates: entries, node: nodeKeys[0])))
      let model = Array("model \(round)".utf8)
      let blob = try blobs.publish(model)
      let statement = AggregationStatement(
        round: round, baseModel: base,
        accepted: updates.map { .init(update: $0) }, rejected: [], rule: genesis.rules.ruleName,
        parameters: genesis.rules.statementParameters, newModel: Hash256.of(model),
        newModelBlob: Hash256.of(model), newModelSize: UInt64(model.count))
      var endorsements: [Hash256] = []
      for key in nodeKeys {
        let e = Transaction.endorsement(
          Endorsement(network: network, statement: statement, key: key))
        endorsements.append(Hash256.of(e.canonicalBytes))
        pending.append(e)
      }
      pending.append(
        .modelCommit(
          ModelCommit(
            round: round, model: Hash256.of(model), modelBlob: blob,
            modelSize: UInt64(model.count), statement: statement.hash,
            endorsements: endorsements.sorted())))
      base = Hash256.of(model)
    }
    for tx in pending { orderer.submit(tx) }

    let start = Date()
    let ordered = try orderer.cut()
    let seconds = Date().timeIntervalSince(start)
    let invalid = ordered.flatMap(\.outcomes).filter { !$0.isValid }.count
    guard invalid == 0 else {
      throw ValidationError("\(invalid) generated transactions were invalid: a bench bug")
    }
    return Result(
      transactions: pending.count, blocks: ordered.count, seconds: seconds, genesis: genesis)
  }
}
