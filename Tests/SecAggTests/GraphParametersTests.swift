import SecAgg
import XCTest

/// The parameters against the test vectors of Google's SecAgg+ graph parameter finder
/// (google-parfait/federated-compute, fcp/secagg/server/graph_parameter_finder_test.cc):
/// (γ, δ) rows, N = 10 to 10^6 columns, (k, t) cells; nil where no sparse graph exists.
final class GraphParametersTests: XCTestCase {
  let sizes = [10, 100, 1_000, 10_000, 100_000, 1_000_000]

  func check(
    _ adversary: SecAggAdversary, _ rows: [(Double, Double, [(Int, Int)?])],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    for (gamma, delta, cells) in rows {
      for (n, expected) in zip(sizes, cells) {
        let found = try? HararyParameters.find(
          clients: n, corrupt: gamma, dropout: delta, against: adversary)
        XCTAssertEqual(
          found.map { [$0.degree, $0.threshold] }, expected.map { [$0.0, $0.1] },
          "\(adversary) N=\(n) γ=\(gamma) δ=\(delta)", file: file, line: line)
      }
    }
  }

  func testASemiHonestServersParametersAreGooglesOnes() {
    check(
      .curiousServer,
      [
        (0.45, 0.45, [nil, (92, 46), (822, 417), (3494, 1771), (5508, 2788), (6240, 3156)]),
        (0.33, 0.33, [(8, 4), (68, 34), (286, 150), (422, 221), (480, 251), (518, 270)]),
        (0.05, 0.33, [(4, 2), (28, 6), (72, 24), (86, 29), (96, 32), (102, 34)]),
        (0.33, 0.05, [(4, 4), (34, 29), (78, 60), (92, 70), (102, 77), (110, 83)]),
        (0.05, 0.05, [(2, 2), (12, 6), (30, 17), (34, 20), (36, 21), (38, 22)]),
        (0.33, 0, [(4, 4), (26, 25), (38, 36), (42, 40), (46, 44), (50, 47)]),
        (0, 0.33, [(4, 2), (26, 2), (38, 2), (42, 2), (46, 2), (50, 2)]),
        (0, 0, [(2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (2, 2)]),
      ])
    // With no adversary at all, as with a curious server and no corrupt clients.
    check(.none, [(0, 0.33, [(4, 2), (26, 2), (38, 2), (42, 2), (46, 2), (50, 2)])])
  }

  func testASemiMaliciousServersParametersAreGooglesOnes() {
    check(
      .semiMaliciousServer,
      [
        (0.30, 0.30, [nil, (92, 62), (872, 584), (4822, 3230), (9388, 6286), (11136, 7454)]),
        (0.05, 0.33, [(8, 5), (72, 39), (398, 223), (746, 420), (882, 496), (970, 545)]),
        (0.33, 0.05, [(4, 4), (42, 37), (132, 109), (178, 146), (196, 160), (212, 173)]),
        (0.05, 0.05, [(2, 2), (16, 11), (52, 37), (62, 44), (68, 48), (74, 52)]),
        (0.33, 0, [(4, 4), (26, 26), (38, 37), (42, 41), (46, 45), (50, 49)]),
        (0, 0.33, [(8, 5), (68, 35), (228, 115), (326, 164), (372, 187), (410, 206)]),
        (0, 0, [(2, 2), (2, 2), (2, 2), (2, 2), (2, 2), (2, 2)]),
      ])
  }

  func testRatesOutsideTheBoundsAreRefusedWithTheReason() {
    func refused(_ n: Int, _ g: Double, _ d: Double, _ a: SecAggAdversary) -> String? {
      do {
        _ = try HararyParameters.find(clients: n, corrupt: g, dropout: d, against: a)
        return nil
      } catch .invalid(let why) {
        return why
      } catch {
        return nil
      }
    }
    XCTAssertNotNil(refused(0, 0, 0, .curiousServer))
    XCTAssertNotNil(refused(100, 0, 1, .curiousServer))
    XCTAssertNotNil(refused(100, 0, -1, .curiousServer))
    XCTAssertNotNil(refused(100, 0.5, 0.5, .curiousServer))
    XCTAssertNotNil(refused(100, 0.5, 0.5, .semiMaliciousServer))
    XCTAssertNotNil(refused(100, 0.33, 0.33, .semiMaliciousServer))
    XCTAssertEqual(
      refused(100, 0.1, 0, .none), "with no adversary the corrupt rate must be 0, not 0.1")
    // Too few clients for a sparse graph: the full graph is needed.
    XCTAssertThrowsError(
      try HararyParameters.find(clients: 3, corrupt: 0, dropout: 0, against: .curiousServer)
    ) { XCTAssertEqual($0 as? GraphParameterError, .noSparseGraph(clients: 3)) }
  }
}
