import SecAgg
import XCTest

final class HararyGraphTests: XCTestCase {
  let seed = [UInt8](repeating: 7, count: 32)

  /// Every client has exactly k neighbours, never itself; the relation is symmetric.
  func testEachClientHasKNeighboursBothWays() throws {
    for (n, k) in [(5, 2), (10, 4), (100, 12), (101, 26)] {
      let g = try HararyGraph.random(clients: n, degree: k, seed: seed)
      for c in 0..<n {
        let ns = g.neighbours(of: c)
        XCTAssertEqual(Set(ns).count, k, "N=\(n) k=\(k) client \(c)")
        XCTAssertFalse(ns.contains(c))
        for m in ns {
          XCTAssertTrue(g.areNeighbours(c, m))
          XCTAssertTrue(g.neighbours(of: m).contains(c))
        }
        XCTAssertEqual((0..<n).filter { g.areNeighbours(c, $0) }.count, k)
      }
    }
  }

  /// The same seed gives the same graph on every machine; another seed another order.
  func testTheOrderIsFixedByTheSeedAlone() throws {
    let a = try HararyGraph.random(clients: 50, degree: 6, seed: seed)
    XCTAssertEqual(a, try HararyGraph.random(clients: 50, degree: 6, seed: seed))
    var other = seed
    other[0] ^= 1
    XCTAssertNotEqual(a.order, try HararyGraph.random(clients: 50, degree: 6, seed: other).order)
    XCTAssertEqual(Set(a.order), Set(0..<50))
    XCTAssertNotEqual(a.order, Array(0..<50))
  }

  /// The keystream depends on the seed and the purpose, and its uniform draws stay in range
  /// and cover it.
  func testTheKeystreamIsSeparatedByPurposeAndUniformDrawsStayInRange() throws {
    var a = try Keystream(seed: seed, purpose: "mask")
    var b = try Keystream(seed: seed, purpose: "mask")
    var c = try Keystream(seed: seed, purpose: "other")
    let first = (0..<600).map { _ in a.next() }
    XCTAssertEqual(first, (0..<600).map { _ in b.next() })
    XCTAssertNotEqual(first, (0..<600).map { _ in c.next() })
    var seen = Set<UInt64>()
    for _ in 0..<2000 {
      let v = a.uniform(below: 7)
      XCTAssertLessThan(v, 7)
      seen.insert(v)
    }
    XCTAssertEqual(seen.count, 7)
  }
}

extension HararyGraphTests {
  /// Parameters from outside (a round's rules) are refused with a reason, never a trap.
  func testBadParametersAreRefusedNotTrapped() {
    let seed = [UInt8](repeating: 7, count: 32)
    XCTAssertThrowsError(try HararyGraph.random(clients: 10, degree: 3, seed: seed))
    XCTAssertThrowsError(try HararyGraph.random(clients: 10, degree: 10, seed: seed))
    XCTAssertThrowsError(try HararyGraph.random(clients: 10, degree: 0, seed: seed))
    XCTAssertThrowsError(try HararyGraph.random(clients: 10, degree: 2, seed: [1, 2, 3]))
    XCTAssertThrowsError(try HararyGraph(degree: 2, order: [0, 1, 1, 3]))
    XCTAssertThrowsError(try Keystream(seed: [], purpose: "mask"))
  }
}
