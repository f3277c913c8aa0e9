import Federation
import Learning
import XCTest

final class PartitionTests: XCTestCase {
  let labels: [Int32] = (0..<3000).map { Int32($0 % 10) }

  func assertExactCover(_ parts: [[Int]], file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(parts.flatMap { $0 }.sorted(), Array(0..<labels.count), file: file, line: line)
  }

  func testIIDSplitsEvenly() {
    let parts = Partitioner.iid.partition(labels: labels, classCount: 10, clusters: 7, seed: 1)
    assertExactCover(parts)
    XCTAssertLessThanOrEqual(parts.map(\.count).max()! - parts.map(\.count).min()!, 1)
  }

  func testDirichletIsReproducibleAndSkewedBySmallAlpha() {
    let a = Partitioner.dirichlet(alpha: 0.1).partition(
      labels: labels, classCount: 10, clusters: 10, seed: 4)
    let b = Partitioner.dirichlet(alpha: 0.1).partition(
      labels: labels, classCount: 10, clusters: 10, seed: 4)
    XCTAssertEqual(a, b)
    assertExactCover(a)
    XCTAssertTrue(a.allSatisfy { !$0.isEmpty })
    func meanClassesHeld(_ parts: [[Int]]) -> Double {
      let held = parts.map { part in
        labelHistogram(part, labels: labels, classCount: 10).filter { $0 * 20 > part.count }.count
      }
      return Double(held.reduce(0, +)) / Double(parts.count)
    }
    let wide = Partitioner.dirichlet(alpha: 100).partition(
      labels: labels, classCount: 10, clusters: 10, seed: 4)
    XCTAssertLessThan(meanClassesHeld(a), 5)
    XCTAssertEqual(meanClassesHeld(wide), 10, accuracy: 0.5)
  }

  func testShardsGiveKClassesPerCluster() {
    let parts = Partitioner.shards(classesPerCluster: 2).partition(
      labels: labels, classCount: 10, clusters: 10, seed: 2)
    assertExactCover(parts)
    for part in parts {
      let classes = labelHistogram(part, labels: labels, classCount: 10).filter { $0 > 0 }.count
      XCTAssertLessThanOrEqual(classes, 2)
    }
    let many = Partitioner.shards(classesPerCluster: 1).partition(
      labels: labels, classCount: 10, clusters: 40, seed: 2)
    assertExactCover(many)
    XCTAssertTrue(many.allSatisfy { !$0.isEmpty })
  }
}
