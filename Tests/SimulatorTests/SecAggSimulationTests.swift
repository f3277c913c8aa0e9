import Federation
import Foundation
import Gateway
import Learning
import Ledger
import Protection
import Records
import Simulator
import XCTest

/// Privacy mode secagg end to end in one process: every step on the ledger, dropouts
/// recovered, and the model the enclaves would have made.
final class SecAggSimulationTests: XCTestCase {
  func configuration(_ mode: PrivacySettings.Mode) -> SimulationConfiguration {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 6
    c.rounds = 3
    c.threads = 2
    c.partition = .iid
    c.strategy.normBound = 0.5
    c.participation.dropout = 0.2
    c.privacy.mode = mode
    return c
  }

  func run(_ c: SimulationConfiguration) async throws -> (
    directory: String, network: SimulatedNetwork, records: [RoundRecord]
  ) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-secagg-\(UUID().uuidString)"
    ).path
    let simulation = try Simulation(
      configuration: c, train: SyntheticData.quadrants(count: 1200, seed: 1),
      test: SyntheticData.quadrants(count: 200, seed: 2))
    let network = try SimulatedNetwork(
      directory: dir, configuration: c, clusters: c.clusters, initialModel: simulation.model,
      rules: simulation.rules, evaluation: simulation.evaluationRules, enclaves: .inProcess)
    simulation.backend = network
    let records = try await simulation.run()
    network.shutdown()
    return (dir, network, records)
  }

  func testEveryStepIsOnTheLedgerDropoutsAreRecoveredAndTheModelIsTheEnclaves() async throws {
    let (dir, network, records) = try await run(configuration(.secagg))
    let tee = try await run(configuration(.tee)).records
    // The same model as the enclaves' fixed-point mean of the same updates, every round.
    XCTAssertEqual(records.map(\.modelHash), tee.map(\.modelHash))
    // Clusters dropped out (seeded) and their masks were removed.
    XCTAssertGreaterThan(records.map(\.missing.count).reduce(0, +), 0)

    let genesis = try Genesis.read(path: dir + "/genesis.json")
    XCTAssertNotNil(genesis.rules.secureAggregation)
    let state = network.orderer.replicas[1].state
    XCTAssertGreaterThan(records.filter { $0.aborted == nil }.count, 0)
    for record in records where record.aborted == nil {
      let round = try XCTUnwrap(state.rounds[UInt64(record.round)])
      // Three stage-closes a round: keys, shares, reveals; the survivors are the close's.
      XCTAssertEqual(Set(round.secagg.closes.keys), Set(SecAggStage.allCases))
      XCTAssertEqual(
        round.secagg.closedSenders(.reveals).map {
          $0.isSubset(of: Set(round.close!.updates.map(\.cluster)))
        },
        true)
      let stem = String(format: "%@/models/round-%03d", dir, record.round)
      let receipt = try Receipt.parse(
        Array(try Data(contentsOf: URL(fileURLWithPath: stem + ".receipt.json"))))
      _ = try receipt.verify(genesis: genesis, modelHash: Hash256(hex: record.modelHash))
    }
    // A cluster agent on this network never sends a clear update.
    let update = ClusterUpdate(
      cluster: 0, round: 9, baseModelHash: records[0].modelHash, delta: [0], sampleCount: 1,
      trainLoss: 0, simulatedSeconds: 0)
    XCTAssertThrowsError(try network.agents[0].submission(for: update)) {
      XCTAssertEqual($0 as? ClusterAgentError, .secureAggregation)
    }
    // No update payload on any node is a plain update: each is a masked vector.
    for round in state.rounds.values {
      for entry in round.close?.updates ?? [] {
        let payload = try network.orderer.replicas[0].blobs.get(entry.payload)
        XCTAssertNil(try? UpdatePayload(decoding: payload))
      }
    }
  }

  func testRulesThatNeedEachUpdateAreRefusedWithTheReason() throws {
    let json = #"{"privacy": {"mode": "secagg"}, "strategy": {"rule": "median"}}"#
    XCTAssertThrowsError(
      try JSONDecoder().decode(SimulationConfiguration.self, from: Data(json.utf8))
    ) { error in
      XCTAssert("\(error)".contains("needs each update"), "\(error)")
    }
    let noLedger = #"{"privacy": {"mode": "secagg"}, "ledger": {"enabled": false}}"#
    XCTAssertThrowsError(
      try JSONDecoder().decode(SimulationConfiguration.self, from: Data(noLedger.utf8)))
    // Without a norm bound the mode takes its default one.
    let plain = try JSONDecoder().decode(
      SimulationConfiguration.self, from: Data(#"{"privacy": {"mode": "secagg"}}"#.utf8))
    XCTAssertEqual(plain.strategy.normBound, SimulationConfiguration.secureAggregationNormBound)
    XCTAssertEqual(plain.privacy.graph, .harary)
    let full = try JSONDecoder().decode(
      SimulationConfiguration.self,
      from: Data(#"{"privacy": {"mode": "secagg", "graph": "full"}}"#.utf8))
    XCTAssertEqual(full.privacy.graph, .full)
    XCTAssertThrowsError(
      try JSONDecoder().decode(
        SimulationConfiguration.self,
        from: Data(#"{"privacy": {"mode": "secagg", "graph": "ring"}}"#.utf8)))
  }
}
