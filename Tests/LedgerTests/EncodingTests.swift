import Canonical
import Ledger
import Records
import XCTest

final class EncodingTests: XCTestCase {
  let net = TestNetwork()

  func samples() -> [Transaction] {
    let s = net.statement(
      round: 2, base: model(1), updates: [model(7), model(8), model(9)], newModel: model(2))
    return [
      .genesis(net.genesis),
      net.enrol(1),
      .roundOpen(
        RoundOpen(
          network: net.network, round: 2, baseModel: model(1), participants: ["cluster-1"],
          rules: RoundRules(rule: .krum(f: 1, select: 4), normBound: 2.5),
          configuration: [Setting("b", "2"), Setting("a", "1")], node: net.nodes[1])),
      net.commitment(round: 2, cluster: 1, payload: [1, 2, 3]),
      net.roundClose(
        net.roundOpen(2, base: model(1)),
        entries: [
          net.entry(cluster: 0, payload: model(7)), net.entry(cluster: 1, payload: model(8)),
        ]
      ),
      net.roundAbort(2, reason: "the deadline passed with 1 update"),
      .endorsement(Endorsement(network: net.network, statement: s, key: net.nodes[0])),
      .modelCommit(
        ModelCommit(
          round: 2, model: model(2), modelBlob: model(3), modelSize: 10, statement: s.hash,
          endorsements: [model(4), model(5)])),
    ]
  }

  func testEveryTransactionRoundTripsToTheSameBytes() throws {
    for tx in samples() {
      let bytes = tx.canonicalBytes
      let back = try Transaction(canonical: bytes)
      XCTAssertEqual(back, tx)
      XCTAssertEqual(back.canonicalBytes, bytes, "\(tx.kind.name)")
      XCTAssertEqual(bytes[0], 1, "format version")
      XCTAssertEqual(bytes[1], tx.kind.rawValue)
    }
    // Settings are canonical whatever order they are given in.
    let a = RoundOpen(
      network: net.network, round: 1, baseModel: model(0), participants: [], rules: RoundRules(),
      configuration: [Setting("x", "1"), Setting("a", "2")], node: net.nodes[0])
    let b = RoundOpen(
      network: net.network, round: 1, baseModel: model(0), participants: [], rules: RoundRules(),
      configuration: [Setting("a", "2"), Setting("x", "1")], node: net.nodes[0])
    XCTAssertEqual(a.canonicalBytes, b.canonicalBytes)
  }

  func testDecodingRejectsTrailingBytesVersionsKindsAndTruncation() {
    for tx in samples() {
      let bytes = tx.canonicalBytes
      assertThrows(
        try Transaction(canonical: bytes + [0]), containing: "1 unexpected byte(s)")
      var v = bytes
      v[0] = 2
      assertThrows(
        try Transaction(canonical: v), containing: "transaction version has unknown version 2")
      var k = bytes
      k[1] = 99
      assertThrows(
        try Transaction(canonical: k), containing: "transaction kind has unknown kind 99")
      for cut in [1, 2, bytes.count / 2, bytes.count - 1] {
        assertThrows(
          try Transaction(canonical: Array(bytes.prefix(cut))), containing: "the bytes end inside")
      }
    }
  }

  func testOversizedFieldsAreRejectedBeforeAllocating() {
    // A commitment whose cluster name claims 4 GiB.
    let bytes: [UInt8] =
      [1, Transaction.Kind.commitment.rawValue] + [0, 0, 0, 0, 0, 0, 0, 1]
      + [0xff, 0xff, 0xff, 0xff] + [UInt8](repeating: 0, count: 200)
    assertThrows(
      try Transaction(canonical: bytes),
      containing: "commitment cluster is 4294967295 long, more than the limit of 4096")
    // A round close claiming a billion updates in a few bytes.
    let close: [UInt8] =
      [1, Transaction.Kind.roundClose.rawValue] + [0, 0, 0, 0, 0, 0, 0, 1]
      + [UInt8](repeating: 0, count: 32) + [0x3b, 0x9a, 0xca, 0x00]
    assertThrows(
      try Transaction(canonical: close), containing: "round-close updates is 1000000000 long")
    // Unsorted settings have no canonical form.
    var w = CanonicalWriter()
    w.u8(1)
    w.u8(Transaction.Kind.roundOpen.rawValue)
    w.u64(1)
    w.hash(model(0))
    w.u32(0)
    RoundRules().encode(to: &w)
    w.u32(2)
    for k in ["b", "a"] {
      w.string(k)
      w.string("1")
    }
    assertThrows(
      try Transaction(canonical: w.bytes), containing: "are not sorted by key or repeat")
  }

  func testHeaderAndStatementVersionsAreChecked() throws {
    let header = BlockHeader(
      network: model(0), height: 3, previous: model(1), merkleRoot: model(2),
      transactionCount: 4, timestamp: 5, proposer: "node-0")
    XCTAssertEqual(try BlockHeader(canonical: header.canonicalBytes), header)
    var b = header.canonicalBytes
    b[0] = 9
    assertThrows(
      try BlockHeader(canonical: b), containing: "block header version has unknown version 9")
  }
}
