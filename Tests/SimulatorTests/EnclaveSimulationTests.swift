import Canonical
import Federation
import Foundation
import Host
import Learning
import Ledger
import Records
import RecordsJSON
import Simulator
import XCTest

/// Privacy mode tee, end to end: enclaves aggregate, endorse, and nothing else reads an update.
final class EnclaveSimulationTests: XCTestCase {
  /// Collects what crosses the host-enclave boundary, from any thread.
  final class Frames: @unchecked Sendable {
    private let lock = NSLock()
    private var frames: [[UInt8]] = []
    func add(_ f: [UInt8]) { lock.withLock { frames.append(f) } }
    var all: [[UInt8]] { lock.withLock { frames } }
  }

  func configuration() -> SimulationConfiguration {
    var c = SimulationConfiguration()
    c.model = "mlp"
    c.clusters = 5
    c.rounds = 2
    c.threads = 2
    c.partition = .iid
    c.attack.kind = .signFlip(factor: 4)
    c.attack.fraction = 0.2
    c.strategy.rule = .krum(f: 1, select: nil)
    c.privacy.mode = .tee
    return c
  }

  func run(_ c: SimulationConfiguration, launch: EnclaveLaunch) async throws -> (
    dir: String, network: SimulatedNetwork, records: [RoundRecord], plain: [ClusterUpdate],
    frames: [[UInt8]], simulation: Simulation
  ) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-tee-\(UUID().uuidString)"
    ).path
    let simulation = try Simulation(
      configuration: c, train: SyntheticData.quadrants(count: 1000, seed: 1),
      test: SyntheticData.quadrants(count: 200, seed: 2))
    let recorder = try SimulatedNetwork(
      directory: dir, configuration: c, clusters: c.clusters, initialModel: simulation.model,
      rules: simulation.rules, evaluation: simulation.evaluationRules, enclaves: launch)
    let frames = Frames()
    recorder.tap = { frames.add($0) }
    var plain: [ClusterUpdate] = []
    recorder.onSeal = { plain.append($0) }
    simulation.backend = recorder
    let records = try await simulation.run()
    recorder.shutdown()
    return (dir, recorder, records, plain, frames.all, simulation)
  }

  func testNoPlaintextUpdateAppearsOutsideTheEnclaveAndReceiptsRestOnEnclaveEvidence()
    async throws
  {
    let program = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("fedledger-enclave").path
    XCTAssert(FileManager.default.isExecutableFile(atPath: program), "built beside the tests")
    let (dir, recorder, records, plain, frames, simulation) = try await run(
      configuration(), launch: .program(program))
    XCTAssertEqual(recorder.enclavePlacement, .process)
    XCTAssertEqual(plain.count, 10)
    XCTAssert(records.allSatisfy { $0.enclaveSeconds > 0 })
    // The robust rule ran inside the enclaves: the attacker's updates are rejected by Krum.
    let rejected = records.flatMap { $0.decisions.filter { $0.verdict == .rejected } }
    XCTAssertFalse(rejected.isEmpty)
    XCTAssert(rejected.allSatisfy { $0.reason?.contains("Krum") ?? false })

    // What must never appear: the payload format's magic, or any 64-byte run of any update's
    // values (float32, as the payload carries them).
    var needles: [[UInt8]] = [Array("FLUPDATE".utf8)]
    for u in plain {
      let bytes = u.delta.withUnsafeBytes { Array($0) }
      for start in stride(from: 0, to: bytes.count - 64, by: bytes.count / 8) {
        needles.append(Array(bytes[start..<(start + 64)]))
      }
    }
    // Nor any cluster's evaluation report on the last model: its loss and accuracy as the
    // report payload carries them, or its per-class counts.
    let cap = Int(simulation.evaluationRules!.sampleCap)
    for cluster in simulation.clusters {
      let report = try XCTUnwrap(try cluster.evaluate(simulation.model, round: 2, cap: cap))
      var figures = CanonicalWriter()
      figures.f64(report.loss)
      figures.f64(report.accuracy)
      needles.append(figures.bytes)
      var counts = CanonicalWriter()
      counts.list(report.classCounts) { $0.u64(UInt64($1)) }
      needles.append(counts.bytes)
    }
    // The metric the enclaves computed from them is the one the ledger committed.
    let recorded = try XCTUnwrap(recorder.orderer.replicas[2].state.rounds[2]?.recordedMetric)
    let federated = try XCTUnwrap(records.last?.federated)
    XCTAssertTrue(federated.recorded)
    XCTAssertEqual(recorded.accuracy, federated.accuracy)
    XCTAssertEqual(Int(recorded.clusters), 5)
    XCTAssertTrue(recorded.published.isEmpty)
    func assertClean(_ haystack: [UInt8], _ what: String) {
      for n in needles where haystack.count >= n.count {
        XCTAssertFalse(contains(haystack, n), "\(what) holds plaintext update bytes")
      }
    }
    // Every frame between host and enclave, both directions.
    XCTAssertGreaterThan(frames.count, 10)
    for (i, f) in frames.enumerated() { assertClean(f, "frame \(i)") }
    // Every file the run left: blobs, ledgers, models, receipts, genesis, enclave logs and
    // sealed state.
    var files = 0
    let enumerator = FileManager.default.enumerator(atPath: dir)!
    while let name = enumerator.nextObject() as? String {
      let path = dir + "/" + name
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
        !isDirectory.boolValue
      else { continue }
      files += 1
      assertClean(Array(try Data(contentsOf: URL(fileURLWithPath: path))), name)
    }
    XCTAssertGreaterThan(files, 20)
    let log = try String(contentsOfFile: dir + "/enclaves/node-0/enclave.log", encoding: .utf8)
    XCTAssert(log.contains("NO HARDWARE PROTECTION"), log)

    // Receipts verify from genesis, resting on simulated-enclave evidence.
    let genesis = try Genesis.read(path: dir + "/genesis.json")
    XCTAssertEqual(genesis.endorsers.map(\.kind), Array(repeating: .simulatedEnclave, count: 4))
    for record in records {
      let stem = String(format: "%@/models/round-%03d", dir, record.round)
      let receipt = try Receipt.parse(
        Array(try Data(contentsOf: URL(fileURLWithPath: stem + ".receipt.json"))))
      let lines = try receipt.verify(genesis: genesis, modelHash: Hash256(hex: record.modelHash))
      XCTAssert(lines.contains { $0.contains("simulated-enclave") }, "\(lines)")
      if record.round == 2 {
        XCTAssert(lines.last!.contains("federated metric: accuracy"), lines.last!)
      }
    }
    for i in 0..<4 {
      let report = try LedgerAudit.run(directory: "\(dir)/ledger/node-\(i)", genesis: genesis)
      XCTAssertEqual(report.invalidTransactions, 0)
    }
  }

  func testAByzantineNodesDivergentEndorsementIsRecordedAndCannotCommit() async throws {
    var c = configuration()
    c.ledger.byzantineNodes = 1
    // In process: the same messages, without spawning programs.
    let (dir, recorder, records, _, _, _) = try await run(c, launch: .inProcess)
    XCTAssertEqual(recorder.enclavePlacement, .inProcess)
    let genesis = try Genesis.read(path: dir + "/genesis.json")
    let view = try LedgerView(store: recorder.orderer.replicas[0].store, genesis: genesis)
    XCTAssertEqual(view.rounds.map(\.divergentEndorsers), [["node-3"], ["node-3"]])
    XCTAssertEqual(view.rounds.map(\.endorsements), [4, 4])
    XCTAssertEqual(view.rounds.compactMap(\.model), records.map(\.modelHash))
    XCTAssertEqual(view.invalidTransactions.count, 0)
    let receipt = try Receipt.parse(
      Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/models/round-002.receipt.json"))))
    let lines = try receipt.verify(genesis: genesis, modelHash: Hash256(hex: records[1].modelHash))
    XCTAssert(lines[3].contains("3 distinct endorsers (node-0, node-1, node-2)"), lines[3])

    // Two of four Byzantine hosts: no statement reaches k = 3, and no model commits.
    c.ledger.byzantineNodes = 2
    do {
      _ = try await run(c, launch: .inProcess)
      XCTFail("a round committed without k matching endorsements")
    } catch {
      XCTAssert("\(error)".contains("no aggregation statement has 3 endorsements"), "\(error)")
    }
  }

  /// A round aggregates at least its minimum cohort or aborts, with a node's signed abort on
  /// the ledger, both when too few updates arrive and when the enclaves find too few pass;
  /// the next round opens on the same model, and every node and receipt stays consistent.
  func testRoundsWithTooFewUpdatesAbortOnTheLedgerAndTheNextOneGoesOn() async throws {
    var c = configuration()
    c.attack.kind = nil
    c.strategy.rule = .mean
    c.rounds = 3
    c.strategy.minimumCohort = 5
    c.participation.dropout = 0.3
    let (dir, recorder, records, _, _, _) = try await run(c, launch: .inProcess)
    let genesis = try Genesis.read(path: dir + "/genesis.json")
    XCTAssertEqual(genesis.rules.minimumCohort, 5)
    let view = try LedgerView(store: recorder.orderer.replicas[1].store, genesis: genesis)
    XCTAssertEqual(view.invalidTransactions.count, 0)
    XCTAssertEqual(view.rounds.map { $0.aborted != nil }, records.map { $0.aborted != nil })
    XCTAssert(records.contains { $0.aborted != nil }, "seed 1 drops a cluster in some round")
    for (r, row) in zip(records, view.rounds) {
      if r.aborted != nil {
        XCTAssertEqual(r.modelHash, r.baseModelHash)
        XCTAssertNil(row.model)
      } else {
        XCTAssertEqual(row.model, r.modelHash)
      }
    }

    // Every update arrives, but a sample cap below some clusters' data rejects theirs inside
    // the enclaves: all enclaves say the round cannot commit, and a node aborts it.
    c.participation.dropout = 0
    c.strategy.sampleCap = 150
    let (dir2, recorder2, records2, _, _, _) = try await run(c, launch: .inProcess)
    XCTAssert(
      records2.allSatisfy { $0.aborted?.contains("passed validation and the rule") == true })
    XCTAssertEqual(Set(records2.map(\.modelHash)).count, 1)
    let genesis2 = try Genesis.read(path: dir2 + "/genesis.json")
    let view2 = try LedgerView(store: recorder2.orderer.replicas[0].store, genesis: genesis2)
    XCTAssertEqual(view2.rounds.count, 3)
    XCTAssert(view2.rounds.allSatisfy { $0.closed && $0.aborted != nil && $0.endorsements == 0 })
    for i in 0..<4 {
      let report = try LedgerAudit.run(directory: "\(dir2)/ledger/node-\(i)", genesis: genesis2)
      XCTAssertEqual(report.invalidTransactions, 0)
    }
  }

  func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard let first = needle.first, haystack.count >= needle.count else { return false }
    var i = 0
    let last = haystack.count - needle.count
    while i <= last {
      if haystack[i] == first && haystack[i..<(i + needle.count)].elementsEqual(needle) {
        return true
      }
      i += 1
    }
    return false
  }
}
