import SecAgg
import XCTest

final class HararyGraphTests: XCTestCase {
  let seed = [UInt8](repeating: 7, count: 32)

  /// Every client has exactly k neighbours, never itself; the relation is symmetric.
  func testEachClientHasKNeighboursBothWays() {
    for (n, k) in [(5, 2), (10, 4), (100, 12), (101, 26)] {
      let g = HararyGraph.random(clients: n, degree: k, seed: seed)
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
  func testTheOrderIsFixedByTheSeedAlone() {
    let a = HararyGraph.random(clients: 50, degree: 6, seed: seed)
    XCTAssertEqual(a, HararyGraph.random(clients: 50, degree: 6, seed: seed))
    var other = seed
    other[0] ^= 1
    XCTAssertNotEqual(a.order, HararyGraph.random(clients: 50, degree: 6, seed: other).order)
    XCTAssertEqual(Set(a.order), Set(0..<50))
    XCTAssertNotEqual(a.order, Array(0..<50))
  }

  /// The keystream depends on the seed and the purpose, and its uniform draws stay in range
  /// and cover it.
  func testTheKeystreamIsSeparatedByPurposeAndUniformDrawsStayInRange() {
    var a = Keystream(seed: seed, purpose: "mask")
    var b = Keystream(seed: seed, purpose: "mask")
    var c = Keystream(seed: seed, purpose: "other")
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
