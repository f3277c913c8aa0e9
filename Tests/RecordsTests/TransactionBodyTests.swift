import Canonical
import Ledger
import Records
import XCTest

/// The records an enclave reads straight from ledger transactions: one tag each, and node
/// signatures that hold for one network and one purpose only.
final class TransactionBodyTests: XCTestCase {
  let node = SigningKey()
  let network = Hash256.of([1])

  func records() -> (RoundOpen, RoundClose, ModelCommit) {
    let open = RoundOpen(
      network: network, round: 4, baseModel: .zero, participants: ["a", "b", "c"],
      rules: RoundRules(), groupKey: [UInt8](repeating: 2, count: 32), node: node)
    let close = RoundClose(
      network: network, round: 4, open: Hash256.of(open.transactionBytes),
      updates: [.init(cluster: "a", key: SigningKey().publicKey, payload: Hash256.of([3]))],
      node: node)
    let commit = ModelCommit(
      round: 4, model: Hash256.of([4]), modelBlob: Hash256.of([5]), modelSize: 9,
      statement: Hash256.of([6]), endorsements: [Hash256.of([8]), Hash256.of([7])])
    return (open, close, commit)
  }

  func testEachRecordRoundTripsAsItsOwnKindOfTransactionOnly() throws {
    let (open, close, commit) = records()
    XCTAssertEqual(open.transactionBytes.prefix(2), [1, TransactionKind.roundOpen.rawValue])
    XCTAssertEqual(close.transactionBytes.prefix(2), [1, TransactionKind.roundClose.rawValue])
    XCTAssertEqual(commit.transactionBytes.prefix(2), [1, TransactionKind.modelCommit.rawValue])
    XCTAssertEqual(try RoundOpen(transaction: open.transactionBytes), open)
    XCTAssertEqual(try RoundClose(transaction: close.transactionBytes), close)
    XCTAssertEqual(try ModelCommit(transaction: commit.transactionBytes), commit)
    XCTAssertThrowsError(try RoundOpen(transaction: close.transactionBytes)) {
      XCTAssertEqual(
        "\($0)", "transaction is not a round-open (version 1, kind 3)")
    }
    XCTAssertThrowsError(try ModelCommit(transaction: open.transactionBytes))
    XCTAssertThrowsError(try RoundClose(transaction: close.transactionBytes + [0]))
    // The tags are distinct and named.
    XCTAssertEqual(Set(TransactionKind.allCases.map(\.rawValue)).count, 15)
    XCTAssertEqual(Set(TransactionKind.allCases.map(\.name)).count, 15)
  }

  func testNodeSignaturesHoldForOneNetworkAndOnePurpose() throws {
    let (open, close, _) = records()
    XCTAssert(open.verifies(network: network))
    XCTAssert(close.verifies(network: network))
    XCTAssertFalse(open.verifies(network: Hash256.of([2])))
    // An open's signature on a close's fields, and the other way round, never verifies.
    var swapped = close
    swapped.signature = open.signature
    XCTAssertFalse(swapped.verifies(network: network))
    XCTAssertFalse(
      node.publicKey.verifies(
        open.signature, over: open.message(network: network), for: .roundClose))
    // Any field changed after signing breaks it.
    var moved = open
    moved.participants.removeLast()
    XCTAssertFalse(moved.verifies(network: network))
    var rekeyed = open
    rekeyed.groupKey = nil
    XCTAssertFalse(rekeyed.verifies(network: network))
  }
}
