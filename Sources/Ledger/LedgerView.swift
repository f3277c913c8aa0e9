import Canonical
import Foundation
import Records
import RecordsJSON

/// A readable account of a ledger: its blocks, rounds, models, rejected updates and invalid
/// transactions. What `fedledger ledger show` prints, as text or JSON.
public struct LedgerView: Codable, Sendable {
  public struct BlockRow: Codable, Sendable {
    public var height: UInt64
    public var hash: String
    public var time: String
    public var proposer: String
    public var transactions: Int
    public var signatures: Int
    public var kinds: [String: Int]
  }
  public struct RoundRow: Codable, Sendable {
    public var round: UInt64
    public var baseModel: String
    public var participants: Int
    public var commitments: Int
    public var closed: Bool
    public var accepted: Int?
    public var rejected: Int?
    public var endorsements: Int
    /// Endorsements whose statement differs from the committed one: evidence against their
    /// endorsers.
    public var divergentEndorsers: [String]
    public var model: String?
    public var committedAtBlock: UInt64?
    /// Why a node aborted the round, if one did.
    public var aborted: String?
    /// The committed model's federated metric, once the ledger committed one.
    public var metric: Metric?
  }
  /// What k endorsers signed the reports on a committed model combine to.
  public struct Metric: Codable, Sendable {
    public var accuracy: Double
    public var loss: Double
    public var clusters: Int
    public var samples: UInt64
    public var combination: String
    public var refused: Int
    public var committedAtBlock: UInt64
  }
  public struct RejectedUpdate: Codable, Sendable {
    public var round: UInt64
    public var cluster: String
    public var update: String
    public var reason: String
  }
  public struct InvalidTransaction: Codable, Sendable {
    public var block: UInt64
    public var position: Int
    public var kind: String
    public var reason: String
  }

  public var network: String
  public var genesis: String
  public var nodes: [String]
  public var endorsementThreshold: Int
  public var endorsers: Int
  /// The rule and parameters every round runs under (genesis).
  public var rules: String
  public var minimumCohort: Int
  public var clustersPerMember: Int?
  /// The group key clusters seal to, once recorded (networks with enclaves).
  public var groupKey: String?
  /// What the endorsers are: "genesis-key", or "simulated-enclave (NO HARDWARE PROTECTION)".
  public var endorserKinds: [String]
  public var clusters: Int
  public var height: UInt64?
  public var head: String
  public var transactions: Int
  public var blocks: [BlockRow]
  public var rounds: [RoundRow]
  public var rejectedUpdates: [RejectedUpdate]
  public var invalidTransactions: [InvalidTransaction]

  /// Reads a store and describes it; nothing is verified here (that is `LedgerAudit`).
  public init(store: LedgerStore, genesis: Genesis) throws {
    network = genesis.network
    self.genesis = genesis.hash.hex
    nodes = genesis.nodes.map(\.name)
    endorsementThreshold = genesis.endorsementThreshold
    endorsers = genesis.endorsers.count
    rules =
      genesis.rules.ruleName + " "
      + genesis.rules.statementParameters.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    minimumCohort = genesis.rules.minimumCohort
    clustersPerMember = genesis.clustersPerMember
    endorserKinds = Set(genesis.endorsers.map(\.kind)).map {
      $0 == .simulatedEnclave ? "simulated-enclave (NO HARDWARE PROTECTION)" : $0.rawValue
    }.sorted()
    var height: UInt64?
    var head = Hash256.zero.hex
    var transactions = 0
    var blocks: [BlockRow] = []
    var invalidTransactions: [InvalidTransaction] = []
    var rejectedUpdates: [RejectedUpdate] = []
    var rounds: [UInt64: RoundRow] = [:]
    var clusterOf: [UInt64: [Hash256: String]] = [:]
    var statements: [UInt64: [(endorser: String, statement: AggregationStatement)]] = [:]
    var metrics: [Hash256: MetricStatement] = [:]
    var enrolled = Set<String>()
    var groupKey: String?
    let format = ISO8601DateFormatter()
    format.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    try store.forEachBlock { block, outcomes, _ in
      var kinds: [String: Int] = [:]
      for (i, bytes) in block.transactions.enumerated() {
        let tx = try? Transaction(canonical: bytes)
        let kind = tx?.kind.name ?? "undecodable"
        kinds[kind, default: 0] += 1
        if let reason = outcomes[i].reason {
          invalidTransactions.append(
            .init(block: block.header.height, position: i, kind: kind, reason: reason))
          continue
        }
        switch tx {
        case .enrolment(let e): enrolled.insert(e.cluster)
        case .roundOpen(let o):
          rounds[o.round] = RoundRow(
            round: o.round, baseModel: o.baseModel.hex, participants: o.participants.count,
            commitments: 0, closed: false, endorsements: 0, divergentEndorsers: [])
        case .commitment(let c):
          rounds[c.round]?.commitments += 1
          clusterOf[c.round, default: [:]][c.payload] = c.cluster
        case .roundClose(let c): rounds[c.round]?.closed = true
        case .roundAbort(let a): rounds[a.round]?.aborted = a.reason
        case .groupKey(let g): groupKey = Hex.encode(g.groupKey)
        case .endorsement(let e):
          rounds[e.statement.round]?.endorsements += 1
          let time = Date(timeIntervalSince1970: Double(block.header.timestamp) / 1000)
          // A name to show, for an endorsement the ledger already judged: no DCAP again.
          let name =
            (try? genesis.endorser(of: e, at: time, checkEvidence: false).get())?.name
            ?? e.endorser.short
          statements[e.statement.round, default: []].append((name, e.statement))
        case .modelCommit(let m):
          rounds[m.round]?.model = m.model.hex
          rounds[m.round]?.committedAtBlock = block.header.height
          for (endorser, s) in statements[m.round] ?? [] {
            if s.hash == m.statement {
              rounds[m.round]?.accepted = s.accepted.count
              rounds[m.round]?.rejected = s.rejected.count
            } else {
              rounds[m.round]?.divergentEndorsers.append(endorser)
            }
          }
          if let s = statements[m.round]?.first(where: { $0.statement.hash == m.statement }) {
            for r in s.statement.rejected {
              rejectedUpdates.append(
                .init(
                  round: m.round, cluster: clusterOf[m.round]?[r.update] ?? "?",
                  update: r.update.hex, reason: r.reason))
            }
          }
        case .metricEndorsement(let e): metrics[e.statement.hash] = e.statement
        case .metricCommit(let m):
          if let s = metrics[m.statement] {
            rounds[m.round]?.metric = Metric(
              accuracy: s.accuracy, loss: s.loss, clusters: Int(s.clusters), samples: s.samples,
              combination: s.combination.rawValue, refused: s.refused.count,
              committedAtBlock: block.header.height)
          }
        default: break
        }
      }
      transactions += block.transactions.count
      height = block.header.height
      head = block.hash.hex
      blocks.append(
        BlockRow(
          height: block.header.height, hash: block.hash.hex,
          time: format.string(
            from: Date(timeIntervalSince1970: Double(block.header.timestamp) / 1000)),
          proposer: block.header.proposer, transactions: block.transactions.count,
          signatures: block.signatures.all.count, kinds: kinds))
    }
    self.rounds = rounds.values.sorted { $0.round < $1.round }
    self.clusters = enrolled.count
    self.groupKey = groupKey
    self.height = height
    self.head = head
    self.transactions = transactions
    self.blocks = blocks
    self.invalidTransactions = invalidTransactions
    self.rejectedUpdates = rejectedUpdates
  }
}
