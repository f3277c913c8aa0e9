import Foundation
import Ledger
import Records

/// What every fault trial asserts over a stopped devnet's whole history (docs/reliability.md):
/// every node's ledger re-verifies from genesis and all end on one head; every committed
/// model's receipt verifies from genesis alone; no round commits two models; every accepted
/// update is on the ledger once and is one its cluster made; no endorser signs two statements
/// for one round.
struct TrialHistory {
  var heads: [Hash256] = []
  var height: UInt64?
  var committedRounds: [UInt64] = []
  var acceptedUpdates = 0
  var problems: [String] = []
  /// A lying node's endorsements from the round it began lying: how many the ledger records
  /// (each divergent or refused; none may count towards a commit).
  var lies: (node: String, recorded: Int)?

  /// Reads the devnet in `directory` (stopped: its nodes' ledgers and its clusters' state);
  /// `byzantine` names the node whose host lied from round `from` on.
  /// `ledgers` names a node's ledger directory where it is not DIRECTORY/node-I/ledger.
  init(
    directory: String, nodes: Int, genesis: Genesis, byzantine: (node: Int, from: UInt64)? = nil,
    ledgers: [Int: String] = [:]
  ) {
    for i in 0..<nodes {
      do {
        let report = try LedgerAudit.run(
          directory: ledgers[i] ?? "\(directory)/node-\(i)/ledger", genesis: genesis)
        heads.append(report.head)
        height = max(height ?? 0, report.height ?? 0)
      } catch {
        problems.append("node-\(i)'s ledger does not re-verify from genesis: \(error)")
      }
    }
    if Set(heads).count > 1 {
      problems.append(
        "the nodes end on \(Set(heads).count) heads: " + heads.map(\.short).joined(separator: ", "))
    }
    do {
      let store = try LedgerStore(
        path: "\(directory)/node-0/ledger/ledger.sqlite", readOnly: true)
      try check(store, genesis: genesis, clusters: directory)
      if let byzantine { try checkLies(store, genesis: genesis, byzantine) }
    } catch {
      problems.append("node-0's ledger cannot be read: \(error)")
    }
  }

  private mutating func check(_ store: LedgerStore, genesis: Genesis, clusters: String) throws {
    var commits: [UInt64: [ModelCommit]] = [:]
    for t in try store.transactions(kind: .modelCommit) where t.outcome.isValid {
      if case .modelCommit(let m) = try Transaction(canonical: t.bytes) {
        commits[m.round, default: []].append(m)
      }
    }
    for (round, models) in commits.sorted(by: { $0.key < $1.key }) {
      if models.count > 1 { problems.append("round \(round) committed \(models.count) models") }
      do {
        let receipt = try store.receipt(round: round, network: genesis.hash)
        _ = try receipt.verify(genesis: genesis, modelHash: models[0].model)
      } catch {
        problems.append("round \(round)'s receipt does not verify from genesis: \(error)")
      }
    }
    committedRounds = commits.keys.sorted()

    var updates: [String: Int] = [:]
    for t in try store.transactions(kind: .commitment) where t.outcome.isValid {
      guard case .commitment(let c) = try Transaction(canonical: t.bytes) else { continue }
      let name = String(format: "%@/%@/round-%06llu.tx", clusters, c.cluster, c.round)
      updates[name, default: 0] += 1
      let made = FileManager.default.contents(atPath: name).map(Array.init)
      if made != t.bytes {
        problems.append(
          "the ledger holds an update of \(c.cluster) for round \(c.round) that is not the one it made (\(name))"
        )
      }
    }
    for (name, count) in updates where count > 1 {
      problems.append("the update in \(name) was accepted \(count) times")
    }
    acceptedUpdates = updates.count

    // Every endorsement, valid or refused: an enclave signs one statement per round.
    var statements: [String: Set<Hash256>] = [:]
    for t in try store.transactions(kind: .endorsement) {
      guard case .endorsement(let e) = try Transaction(canonical: t.bytes) else { continue }
      statements["\(e.endorser.short) in round \(e.statement.round)", default: []].insert(
        e.statement.hash)
    }
    for (who, signed) in statements.sorted(by: { $0.key < $1.key }) where signed.count > 1 {
      problems.append("endorser \(who) signed \(signed.count) statements")
    }
  }

  /// The lying node's endorsements: recorded, and none of the statement a commit names.
  private mutating func checkLies(
    _ store: LedgerStore, genesis: Genesis, _ byzantine: (node: Int, from: UInt64)
  ) throws {
    let liar = genesis.nodes[byzantine.node]
    var committed: [UInt64: Hash256] = [:]
    for t in try store.transactions(kind: .modelCommit) where t.outcome.isValid {
      if case .modelCommit(let m) = try Transaction(canonical: t.bytes) {
        committed[m.round] = m.statement
      }
    }
    var recorded = 0
    for t in try store.transactions(kind: .endorsement) {
      guard case .endorsement(let e) = try Transaction(canonical: t.bytes),
        e.endorser == liar.key, e.statement.round >= byzantine.from
      else { continue }
      recorded += 1
      if t.outcome.isValid, committed[e.statement.round] == e.statement.hash {
        problems.append(
          "\(liar.name)'s endorsement of round \(e.statement.round), made with another rule, names the committed model"
        )
      }
    }
    if recorded == 0 {
      problems.append(
        "the ledger records no endorsement of \(liar.name) from round \(byzantine.from) on")
    }
    lies = (liar.name, recorded)
  }

  var summary: String {
    let head = heads.first.map(\.short) ?? "none"
    return
      "\(heads.count) nodes re-verified from genesis, all at head \(head) (height \(height.map(String.init) ?? "none")); \(committedRounds.count) rounds committed, each once, each receipt verified; \(acceptedUpdates) updates accepted, each once and each its cluster's own"
      + (lies.map { "; \($0.node)'s \($0.recorded) endorsements as a liar recorded, none counted" }
        ?? "")
  }
}
