import ArgumentParser
import Federation
import LedgerNode
import NodeAPI
import Privacy
import Records

/// What a lying host does in `fedledger trial byzantine-host` (`fedledger node --byzantine`,
/// hidden): the protocol must hold anyway, because a host is not trusted.
enum HostFault: String, ExpressibleByArgument, CaseIterable {
  /// Aggregates with another rule than the round's (median for the mean, the mean for any
  /// other) and claims the round's: its endorsement names another model, which the ledger
  /// records as divergent.
  case otherRule = "other-rule"
  /// Answers no peer's and no cluster's request for a blob (payloads, models).
  case withholdBlobs = "withhold-blobs"

  /// A strategy that runs another rule than `configuration`'s and says it runs the round's.
  static func otherRule(_ configuration: SimulationConfiguration, sampleCap: UInt64)
    -> any Strategy
  {
    var c = configuration
    c.strategy.rule = c.strategy.rule == .mean ? .median : .mean
    return LyingStrategy(running: c.makeStrategy(sampleCap: sampleCap))
  }
}

/// Runs one strategy and claims to run whatever rules a round carries.
final class LyingStrategy: Strategy, RuleBound {
  let running: StandardStrategy
  init(running: StandardStrategy) { self.running = running }
  var description: String { running.description }
  func begin(round: Int, baseModelHash: String, global: [Float]) {
    running.begin(round: round, baseModelHash: baseModelHash, global: global)
  }
  func add(_ update: ClusterUpdate) { running.add(update) }
  func finish() -> AggregationOutcome { running.finish() }
  func differs(from rules: RoundRules) -> String? { nil }
}

/// A node's backend that serves everything but blobs.
struct WithholdingBackend: NodeBackend {
  let node: LedgerNode

  func status() async -> NodeStatus { await node.status() }
  func submit(transaction: [UInt8], blob: [UInt8]?, from peer: Peer) async throws -> Bool {
    try await node.submit(transaction: transaction, blob: blob, from: peer)
  }
  func block(at height: UInt64) async throws -> WireBlock? { try await node.block(at: height) }
  func blob(_ hash: Hash256) async throws -> [UInt8]? { nil }
  func hold(transaction: [UInt8], blob: [UInt8], from peer: Peer) async throws {
    try await node.hold(transaction: transaction, blob: blob, from: peer)
  }
  func receipt(round: UInt64) async throws -> [UInt8]? { try await node.receipt(round: round) }
  func enclaveEvidence(nonce: [UInt8]) async throws -> [UInt8]? {
    try await node.enclaveEvidence(nonce: nonce)
  }
  func enclaveChallenge() async throws -> [UInt8]? { try await node.enclaveChallenge() }
  func enclaveAdmit(evidence: [UInt8], challenge: [UInt8]) async throws -> [UInt8]? {
    try await node.enclaveAdmit(evidence: evidence, challenge: challenge)
  }
  func height() async -> UInt64? { await node.height() }
  func waitForBlock(after height: UInt64?, timeout: Duration) async {
    await node.waitForBlock(after: height, timeout: timeout)
  }
  var isStopping: Bool { node.isStopping }
}
