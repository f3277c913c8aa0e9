import Federation
import Foundation
import Host
import Learning
import Ledger
import Protection
import Records
import RecordsJSON
import Simulator
import XCTest

/// A whole simulation recorded on the ledger (privacy none: plaintext aggregation, node keys
/// endorse), checked the way a cluster and an auditor would.
final class SimulationLedgerTests: XCTestCase {
  func testEveryRoundIsCommittedWithAReceiptThatVerifiesFromTheGenesisFile() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-node-\(UUID().uuidString)"
    ).path
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 5
    c.rounds = 3
    c.threads = 2
    c.partition = .iid
    c.strategy.normBound = 0.05
    c.attack.kind = .signFlip(factor: 4)
    c.attack.fraction = 0.2
    c.strategy.rule = .krum(f: 1, select: nil)
    c.privacy.mode = .none
    let simulation = try Simulation(
      configuration: c, train: SyntheticData.quadrants(count: 1000, seed: 1),
      test: SyntheticData.quadrants(count: 200, seed: 2))
    let recorder = try SimulatedNetwork(
      directory: dir, configuration: c, clusters: c.clusters, initialModel: simulation.model,
      rules: simulation.rules)
    simulation.backend = recorder
    let records = try await simulation.run()

    // The genesis file on disk is the network the run founded.
    let genesis = try Genesis.read(path: dir + "/genesis.json")
    XCTAssertEqual(genesis.hash, recorder.network)
    XCTAssertEqual(genesis.endorsementThreshold, 3)
    XCTAssertEqual(Set(recorder.orderer.heads.map(\.head)).count, 1)

    for record in records {
      let stem = String(format: "%@/models/round-%03d", dir, record.round)
      let receipt = try Receipt.parse(
        Array(try Data(contentsOf: URL(fileURLWithPath: stem + ".receipt.json"))))
      let model = try ModelFile.read(from: stem + ".flm")
      XCTAssertEqual(model.hash, record.modelHash)
      let lines = try receipt.verify(genesis: genesis, modelHash: Hash256(hex: model.hash))
      XCTAssertEqual(lines.count, 6)
      XCTAssertGreaterThan(record.ledgerSeconds, 0)
    }
    // What the strategy rejected is on the ledger with its reason, for the same clusters.
    let view = try LedgerView(store: recorder.orderer.replicas[2].store, genesis: genesis)
    let rejected = records.flatMap { r in
      r.decisions.filter { $0.verdict == .rejected }.map { "\(r.round) cluster-\($0.cluster)" }
    }
    XCTAssertFalse(rejected.isEmpty)
    XCTAssertEqual(view.rejectedUpdates.map { "\($0.round) \($0.cluster)" }, rejected)
    XCTAssert(view.rejectedUpdates.allSatisfy { $0.reason.contains("Krum") })
    XCTAssertEqual(view.rounds.compactMap(\.model), records.map(\.modelHash))
    // Every node's ledger audits clean, and their blobs hold every update payload.
    for i in 0..<4 {
      let report = try LedgerAudit.run(directory: "\(dir)/ledger/node-\(i)", genesis: genesis)
      XCTAssertEqual(report.head, recorder.head)
      XCTAssertEqual(report.invalidTransactions, 0)
      XCTAssertEqual(report.blobs, records.count * (c.clusters + 1))
    }
    // Update payloads decode back to what the clusters sent.
    let blobs = recorder.orderer.replicas[1].blobs
    let commitments = try recorder.orderer.replicas[1].store.transactions(
      kind: .commitment, round: 1)
    guard case .commitment(let first) = try Transaction(canonical: commitments[0].bytes) else {
      return XCTFail("not a commitment")
    }
    let update = try ClusterUpdate(UpdatePayload(decoding: try blobs.get(first.payload)))
    XCTAssertEqual(update.round, 1)
    XCTAssertEqual(update.cluster, 0)
    XCTAssertEqual(update.baseModelHash, records[0].baseModelHash)
  }

  func testTheLedgerDoesNotChangeTheModel() async throws {
    func run(ledger: Bool) async throws -> String {
      var c = SimulationConfiguration()
      c.model = "mlp"
      c.clusters = 4
      c.rounds = 2
      c.threads = 2
      c.privacy.mode = .none
      let s = try Simulation(
        configuration: c, train: SyntheticData.quadrants(count: 800, seed: 1),
        test: SyntheticData.quadrants(count: 100, seed: 2))
      if ledger {
        s.backend = try SimulatedNetwork(
          directory: FileManager.default.temporaryDirectory.appendingPathComponent(
            "fedledger-node-\(UUID().uuidString)"
          ).path, configuration: c, clusters: c.clusters, initialModel: s.model, rules: s.rules)
      }
      return try await s.run().last!.modelHash
    }
    let plain = try await run(ledger: false)
    let recorded = try await run(ledger: true)
    XCTAssertEqual(plain, recorded)
  }
}

final class UpdatePayloadTests: XCTestCase {
  func testPayloadsRoundTripAndRejectBadInput() throws {
    let update = ClusterUpdate(
      cluster: 3, round: 2, baseModelHash: String(repeating: "ab", count: 32),
      delta: [1.5, -2, .pi], sampleCount: 60, trainLoss: 0.25, simulatedSeconds: 1.5)
    let bytes = UpdatePayload(update).encode()
    XCTAssertEqual(try ClusterUpdate(UpdatePayload(decoding: bytes)), update)
    XCTAssertThrowsError(try UpdatePayload(decoding: bytes + [0]))
    XCTAssertThrowsError(try UpdatePayload(decoding: Array(bytes.dropLast())))
    var huge = bytes
    for i in 13..<21 { huge[i] = 0xff }  // the round
    XCTAssertThrowsError(try ClusterUpdate(UpdatePayload(decoding: huge))) {
      XCTAssertEqual("\($0)", "update round is too large")
    }
  }
}
