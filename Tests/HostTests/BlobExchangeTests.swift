import Foundation
import Host
import Ledger
import Records
import XCTest

final class BlobExchangeTests: XCTestCase {
  /// A published blob is on every node's store, under its hash, with its bytes.
  func testPublishedBlobsReachEveryStore() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-blobs-\(UUID().uuidString)"
    ).path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let stores = try (0..<3).map { try BlobStore(directory: "\(root)/node-\($0)") }
    let exchange = LocalBlobExchange(stores: stores)
    let bytes = Array("a sealed update".utf8)
    let hash = try exchange.publish(bytes)
    XCTAssertEqual(hash, Hash256.of(bytes))
    for s in stores { XCTAssertEqual(try s.get(hash), bytes) }
    XCTAssertEqual(try exchange.publish(bytes), hash, "publishing again changes nothing")
  }
}
