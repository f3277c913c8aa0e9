import Foundation
import GRDB
import Ledger
import Ordering
import Records
import XCTest

/// One changed byte anywhere is found, and named.
final class TamperTests: XCTestCase {
  let net = TestNetwork()

  func ledger() throws -> (String, EmbeddedOrderer) {
    let dir = temporaryDirectory()
    let orderer = try net.open(dir)
    for i in net.clusters.indices { orderer.submit(net.enrol(i)) }
    try orderer.cut()
    try net.round(1, on: orderer, base: model(0), newModel: model(1))
    try net.round(2, on: orderer, base: model(1), newModel: model(2))
    return (dir, orderer)
  }

  func testAuditPassesOnAnIntactLedger() throws {
    let (dir, orderer) = try ledger()
    let report = try LedgerAudit.run(directory: dir + "/node-0", genesis: net.genesis)
    XCTAssertEqual(report.head, orderer.replicas[0].head)
    XCTAssertEqual(report.blocks, 4)
    XCTAssertEqual(report.transactions, 1 + 3 + 2 * (1 + 3 + 1 + 4 + 1))
    XCTAssertEqual(report.blockSignatures, 4 * 4)
    XCTAssertEqual(report.blobs, 8)
  }

  /// Flips one bit of a stored column in SQLite, as a disk error or an intruder would.
  func flip(
    _ db: String, table: String, column: String, height: Int, position: Int? = nil, byte: Int
  )
    throws
  {
    let queue = try DatabaseQueue(path: db)
    try queue.write { db in
      var sql = "SELECT \(column) FROM \(table) WHERE height = \(height)"
      if let position { sql += " AND position = \(position)" }
      var data = try Data.fetchOne(db, sql: sql)!
      data[byte % data.count] ^= 0x10
      var update = "UPDATE \(table) SET \(column) = ? WHERE height = \(height)"
      if let position { update += " AND position = \(position)" }
      try db.execute(sql: update, arguments: [data])
    }
  }

  func testAFlippedByteInAStoredBlockIsFoundAndNamed() throws {
    for (column, position, byte, expected) in [
      ("header", nil, 10, "block 2 is corrupt: its stored hash differs"),
      ("signatures", nil, 10, "block 2 is corrupt: it is signed by key"),
      ("signatures", nil, 50, "block 2 is corrupt: it has a bad signature from node node-"),
      (
        "body", 0 as Int?, 20,
        "block 2 is corrupt: transaction 0 does not match its stored position, hash"
      ),
      ("hash", nil, 0, "block 2 is corrupt: its stored hash differs"),
    ] as [(String, Int?, Int, String)] {
      let (dir, _) = try ledger()
      try flip(
        dir + "/node-1/ledger.sqlite", table: column == "body" ? "tx" : "block", column: column,
        height: 2, position: position, byte: byte)
      assertThrows(
        try LedgerAudit.run(directory: dir + "/node-1", genesis: net.genesis), containing: expected)
      // The node itself refuses to start on it, with the same words.
      assertThrows(try net.open(dir), containing: "block 2 is corrupt")
      // The other nodes are untouched.
      XCTAssertNoThrow(try LedgerAudit.run(directory: dir + "/node-0", genesis: net.genesis))
    }
  }

  func testAStoredVerdictThatWasChangedIsFound() throws {
    let (dir, _) = try ledger()
    let queue = try DatabaseQueue(path: dir + "/node-2/ledger.sqlite")
    try queue.write { db in
      try db.execute(sql: "UPDATE tx SET valid = 0, reason = 'x' WHERE height = 3 AND position = 2")
    }
    assertThrows(
      try LedgerAudit.run(directory: dir + "/node-2", genesis: net.genesis),
      containing:
        "block 3 is corrupt: it has a Merkle root that does not match its transactions and their verdicts"
    )
  }

  func testADamagedLookupColumnIsFound() throws {
    let (dir, _) = try ledger()
    let queue = try DatabaseQueue(path: dir + "/node-0/ledger.sqlite")
    try queue.write { db in
      try db.execute(sql: "UPDATE tx SET round = 7 WHERE height = 3 AND position = 0")
    }
    assertThrows(
      try LedgerAudit.run(directory: dir + "/node-0", genesis: net.genesis),
      containing:
        "block 3 is corrupt: transaction 0 does not match its stored position, hash, kind or round"
    )
  }

  func testAFlippedByteInABlobIsFoundAndNamed() throws {
    let (dir, orderer) = try ledger()
    let blobs = orderer.replicas[3].blobs
    let payload = Hash256.of(net.payload(round: 2, cluster: 1))
    let path = blobs.path(of: payload)
    var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
    bytes[7] ^= 1
    try bytes.write(to: URL(fileURLWithPath: path))
    assertThrows(try blobs.get(payload), containing: "blob \(payload.short) is corrupt")
    assertThrows(
      try LedgerAudit.run(directory: dir + "/node-3", genesis: net.genesis),
      containing: "blob \(payload.short) is corrupt: the bytes of \(path)")
    try FileManager.default.removeItem(atPath: path)
    assertThrows(
      try LedgerAudit.run(directory: dir + "/node-3", genesis: net.genesis),
      containing: "blob \(payload.short) is missing")
  }

  func testEveryFlippedByteOfAReceiptIsRejected() throws {
    let (_, orderer) = try ledger()
    let json = try orderer.replicas[0].receipt(round: 2).json()
    var accepted: [Int] = []
    for i in json.indices {
      var bad = json
      bad[i] ^= 1
      if let r = try? Receipt.parse(bad),
        (try? r.verify(genesis: net.genesis, modelHash: model(2))) != nil
      {
        accepted.append(i)
      }
    }
    XCTAssertEqual(accepted, [], "flips at these offsets went unnoticed")
  }

  func testEveryFlippedByteOfAGenesisFileIsRejected() throws {
    let (_, orderer) = try ledger()
    let receipt = try orderer.replicas[0].receipt(round: 1)
    let json = net.genesis.json()
    XCTAssertEqual(try Genesis.parse(json, path: "g.json"), net.genesis)
    var accepted: [Int] = []
    for i in json.indices {
      var bad = json
      bad[i] ^= 1
      if let g = try? Genesis.parse(bad, path: "g.json"),
        (try? receipt.verify(genesis: g, modelHash: model(1))) != nil
      {
        accepted.append(i)
      }
    }
    XCTAssertEqual(accepted, [], "flips at these offsets went unnoticed")
  }

  func testGenesisFilesAreCheckedFieldByField() throws {
    var g = net.genesis
    g.endorsementThreshold = 2
    assertThrows(
      try Genesis.parse(g.json(), path: "g.json"),
      containing:
        "g.json: genesis field \"endorsementThreshold\" is 2; with 4 endorsers it must be more than half"
    )
    var text = String(decoding: net.genesis.json(), as: UTF8.self)
    text = text.replacingOccurrences(of: "\"network\"", with: "\"netwrok\"")
    assertThrows(
      try Genesis.parse(Array(text.utf8), path: "g.json"), containing: "unknown field \"netwrok\"")
    assertThrows(
      try Genesis.read(path: "/nonexistent/g.json"), containing: "/nonexistent/g.json: cannot read")
    g = net.genesis
    g.nodes[1].member = "nobody"
    assertThrows(try g.validate(), containing: "names member \"nobody\"")
    // Attack: node keys that hosts hold, listed beside enclaves, would make up k without an
    // enclave while clusters seal to the enclaves.
    g = net.genesis
    g.endorsers[3] = .init(name: "node-3", kind: .simulatedEnclave, key: SigningKey().publicKey)
    g.enclaveMeasurements = [Hash256.of([1])]
    assertThrows(try g.validate(), containing: "mixes genesis-key and enclave endorsers")
  }

  /// Genesis fixes the rules every round runs under; the JSON form names each field, and a
  /// rule that would keep fewer updates than the minimum cohort is refused.
  func testGenesisRulesRoundTripAndAreCheckedFieldByField() throws {
    var g = net.genesis
    g.rules = RoundRules(
      rule: .krum(f: 2, select: 4), weighting: .equal, normBound: 2.5, fractionalBits: 18,
      minimumCohort: 4, sampleCap: 5000)
    g.clustersPerMember = 5
    try g.validate()
    let json = g.json()
    XCTAssertEqual(try Genesis.parse(json, path: "g.json"), g)
    XCTAssertEqual(try Genesis(canonical: g.canonicalBytes), g)
    XCTAssertNotEqual(g.hash, net.genesis.hash)
    func edited(_ from: String, _ to: String) -> [UInt8] {
      Array(String(decoding: json, as: UTF8.self).replacingOccurrences(of: from, with: to).utf8)
    }
    assertThrows(
      try Genesis.parse(edited("\"multi-krum\"", "\"mode\""), path: "g.json"),
      containing: "g.json: genesis field \"rules.rule\" is \"mode\"; known: mean, median")
    assertThrows(
      try Genesis.parse(edited("\"sampleCap\"", "\"sampleCab\""), path: "g.json"),
      containing: "unknown field \"rules.sampleCab\"")
    assertThrows(
      try Genesis.parse(edited("\"select\" : 4", "\"select\" : 2"), path: "g.json"),
      containing: "genesis field \"rules\" select is 2: Krum would keep fewer updates")
    assertThrows(
      try Genesis.parse(
        edited("\"clustersPerMember\" : 5", "\"clustersPerMember\" : 0"), path: "g.json"),
      containing: "genesis field \"clustersPerMember\" is 0")
    // Absent, the rules take their defaults: mean, a minimum cohort of 3.
    var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
    object["rules"] = nil
    let bare = try Genesis.parse(
      Array(try JSONSerialization.data(withJSONObject: object)), path: "g.json")
    XCTAssertEqual(bare.rules, RoundRules())
  }

  /// SGX endorsers are machines named by PPID, with no key; other kinds have a key, no PPID.
  func testSGXEndorsersAreNamedByPPIDAndNothingElse() throws {
    let ppid = try XCTUnwrap(PPID(hex: "d04ec06d4e6d92dc90d0ad3cf5ee2ddf"))
    var g = net.genesis
    g.endorsers[0] = .init(name: "node-0", sgxPlatform: ppid)
    for i in 1..<4 {
      g.endorsers[i] = .init(
        name: "node-\(i)",
        sgxPlatform: try XCTUnwrap(PPID(hex: String(repeating: "\(i)", count: 32))))
    }
    g.enclaveMeasurements = [model(7)]
    // Enclave networks need a cohort of at least clustersPerMember + 2.
    assertThrows(try g.validate(), containing: "at most rules.minimumCohort - 2 (0)")
    g.rules.minimumCohort = 3
    try g.validate()
    g.blockQuorum = 2
    assertThrows(try g.validate(), containing: "more than two thirds of the 4 nodes (at least 3)")
    g.blockQuorum = 3
    let json = g.json()
    XCTAssert(String(decoding: json, as: UTF8.self).contains("\"ppid\" : \"\(ppid)\""))
    XCTAssertEqual(try Genesis.parse(json, path: "g.json"), g)
    XCTAssertEqual(try Genesis(canonical: g.canonicalBytes), g)
    var keyed = g
    keyed.endorsers[0].key = net.nodes[0].publicKey
    assertThrows(try keyed.validate(), containing: "is an sgx-enclave: it needs a ppid")
    var twice = g
    twice.endorsers[1] = .init(name: "node-1", sgxPlatform: ppid)
    var keys = g
    keys.endorsers[1] = .init(name: "node-1", key: net.nodes[1].publicKey)
    assertThrows(try keys.validate(), containing: "mixes genesis-key and enclave endorsers")
    assertThrows(try twice.validate(), containing: "the same SGX platform (ppid) twice")
    var mixed = g
    mixed.endorsers[1] = .init(
      name: "node-1", kind: .simulatedEnclave, key: net.nodes[1].publicKey)
    assertThrows(try mixed.validate(), containing: "both simulated-enclave and sgx-enclave")
    var unkeyed = keys
    unkeyed.endorsers[1].key = nil
    assertThrows(try unkeyed.validate(), containing: "is a genesis-key: it needs a key")
    let short = String(decoding: json, as: UTF8.self).replacingOccurrences(
      of: ppid.description, with: "d04ec06d")
    assertThrows(
      try Genesis.parse(Array(short.utf8), path: "g.json"),
      containing: "\"d04ec06d\" is not a PPID (32 lowercase hex digits)")
  }
}
