import Federation
import Foundation
import Learning
import Ledger
import Ordering

/// Records a simulation's rounds on a ledger kept by simulated nodes in this process.
///
/// It founds a network (genesis with one member per node, node keys as endorsers), enrols
/// every cluster, and for each round orders the round-open, each update's commitment (signed
/// by the cluster's key, payload kept in every node's blob store), the round-close, every
/// node's endorsement of the aggregation statement and the model commit. Each global model is
/// written with its receipt. Every node checks every block itself; the orderer stops the run if
/// any node reaches a different verdict or head.
public final class LedgerRecorder: RoundRecorder {
  public let directory: String
  public let genesis: Genesis
  public let orderer: EmbeddedOrderer
  private let nodeKeys: [SigningKey]
  private var clusterKeys: [ClusterID: SigningKey] = [:]
  private let roundSettings: [Setting]
  private let ruleSettings: [Setting]
  private let rule: String
  private var payloads: [ClusterID: Hash256] = [:]
  /// Payload hashes in the order their commitments were submitted.
  private var arrivals: [Hash256] = []
  private var base: Hash256 = .zero
  /// Paths of the receipt written for each round's model.
  public private(set) var receipts: [Int: String] = [:]
  public private(set) var blocks = 0
  public private(set) var transactions = 0

  /// Founds the network under `directory` (genesis.json, ledger/node-N, models/).
  public init(
    directory: String, configuration c: SimulationConfiguration, clusters: Int,
    initialModel: Model, network: String = "fedledger-simulation"
  ) throws {
    self.directory = directory
    let n = c.ledgerNodes
    let members = (0..<n).map { _ in SigningKey() }
    let nodeKeys = (0..<n).map { _ in SigningKey() }
    self.nodeKeys = nodeKeys
    let settings = flatten(c.settings).filter { !$0.key.hasPrefix("output.") }
    roundSettings = settings
    ruleSettings = settings.filter { $0.key.hasPrefix("strategy.") }
    rule = settings.first { $0.key == "strategy.rule" }?.value ?? "fedavg"
    let created = ISO8601DateFormatter().string(from: Date())
    let genesis = Genesis(
      network: network, createdAt: created,
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodeKeys.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: nodeKeys.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) },
      endorsementThreshold: c.effectiveEndorsementThreshold,
      initialModel: Hash256(hex: initialModel.hash), round: settings)
    try genesis.validate()
    self.genesis = genesis
    let fm = FileManager.default
    if fm.fileExists(atPath: directory + "/ledger") {
      // A new network each run: an old ledger in the same place would be another network.
      try fm.removeItem(atPath: directory + "/ledger")
    }
    try? fm.removeItem(atPath: directory + "/models")
    try fm.createDirectory(atPath: directory + "/models", withIntermediateDirectories: true)
    try Data(genesis.json()).write(
      to: URL(fileURLWithPath: directory + "/genesis.json"), options: .atomic)
    let replicas = try nodeKeys.enumerated().map { i, key in
      try LedgerReplica(
        directory: "\(directory)/ledger/node-\(i)", genesis: genesis, name: "node-\(i)", key: key)
    }
    orderer = try EmbeddedOrderer(replicas: replicas)
    for id in 0..<clusters {
      let key = SigningKey()
      clusterKeys[id] = key
      let m = id % n
      orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: genesis.hash, cluster: Self.name(id), key: key.publicKey,
            member: "member-\(m)", memberKey: members[m])))
    }
    try cut("enrolment")
  }

  static func name(_ id: ClusterID) -> String { "cluster-\(id)" }

  public var network: Hash256 { genesis.hash }
  public var head: Hash256 { orderer.replicas[0].head }
  public var height: UInt64 { orderer.replicas[0].height ?? 0 }

  public func open(_ plan: RoundPlan, base model: Model) throws {
    payloads = [:]
    arrivals = []
    base = Hash256(hex: plan.baseModelHash) ?? .zero
    orderer.submit(
      .roundOpen(
        RoundOpen(
          round: UInt64(plan.round), baseModel: base,
          participants: plan.participants.map(Self.name), configuration: roundSettings)))
  }

  public func arrived(_ update: ClusterUpdate) throws -> String? {
    guard let key = clusterKeys[update.cluster] else {
      return "cluster \(update.cluster) is not enrolled on the ledger"
    }
    let payload = UpdatePayload.encode(update)
    let hash = try orderer.storeBlob(payload)
    payloads[update.cluster] = hash
    arrivals.append(hash)
    orderer.submit(
      .commitment(
        UpdateCommitment(
          network: network, round: UInt64(update.round), cluster: Self.name(update.cluster),
          payload: hash, payloadSize: UInt64(payload.count), clusterKey: key)))
    return nil
  }

  public func close(round: Int) throws {
    orderer.submit(.roundClose(RoundClose(round: UInt64(round), updates: arrivals)))
    try cut("round \(round) open and commitments")
  }

  public func aggregated(round: Int, decisions: [UpdateDecision], model: Model) throws {
    var accepted: [AggregationStatement.Accepted] = []
    var rejected: [AggregationStatement.Rejected] = []
    for d in decisions {
      guard let update = payloads[d.cluster] else { continue }
      if d.verdict == .rejected {
        rejected.append(.init(update: update, reason: d.reason ?? "rejected"))
      } else {
        accepted.append(.init(update: update, weight: d.weight, note: d.reason ?? ""))
      }
    }
    guard let newModel = Hash256(hex: model.hash) else {
      throw LedgerError.storage(path: directory, reason: "model hash \(model.hash) is not SHA-256")
    }
    let statement = AggregationStatement(
      round: UInt64(round), baseModel: base, accepted: accepted, rejected: rejected, rule: rule,
      parameters: ruleSettings, newModel: newModel)
    // Until enclaves endorse (the next issue), each node's genesis-listed key does.
    var endorsements: [Hash256] = []
    for key in nodeKeys {
      let tx = Transaction.endorsement(
        Endorsement(network: network, statement: statement, key: key))
      endorsements.append(Hash256.of(tx.canonicalBytes))
      orderer.submit(tx)
    }
    let file = ModelFile.encode(model)
    let blob = try orderer.storeBlob(file)
    orderer.submit(
      .modelCommit(
        ModelCommit(
          round: UInt64(round), model: newModel, modelBlob: blob, modelSize: UInt64(file.count),
          statement: statement.hash, endorsements: endorsements.sorted())))
    try cut("round \(round) endorsements and commit")

    let stem = String(format: "%@/models/round-%03d", directory, round)
    try Data(file).write(to: URL(fileURLWithPath: stem + ".flm"), options: .atomic)
    let receipt = try orderer.replicas[0].receipt(round: UInt64(round))
    try Data(receipt.json()).write(
      to: URL(fileURLWithPath: stem + ".receipt.json"), options: .atomic)
    receipts[round] = stem + ".receipt.json"
  }

  /// Orders what is pending; every transaction the simulation submits must be valid.
  private func cut(_ what: String) throws {
    for o in try orderer.cut() {
      blocks += 1
      transactions += o.outcomes.count
      for (i, outcome) in o.outcomes.enumerated() {
        if let reason = outcome.reason {
          throw LedgerError.rejectedBlock(
            node: orderer.proposer, height: o.block.header.height,
            problem: "holds an invalid transaction \(i) (\(what)): \(reason)")
        }
      }
    }
    let heads = Set(orderer.heads.map(\.head))
    if heads.count != 1 {
      throw LedgerError.rejectedBlock(
        node: "all", height: height, problem: "left the nodes with different heads")
    }
  }
}

/// Nested settings as dotted keys with their values as text, sorted.
func flatten(_ settings: [String: Any], prefix: String = "") -> [Setting] {
  var out: [Setting] = []
  for (key, value) in settings {
    let path = prefix.isEmpty ? key : "\(prefix).\(key)"
    if let nested = value as? [String: Any] {
      out += flatten(nested, prefix: path)
    } else {
      out.append(Setting(path, "\(value)"))
    }
  }
  return out.sorted { $0.key < $1.key }
}
