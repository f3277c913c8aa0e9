import Ledger
import Records
import XCTest

final class MerkleTests: XCTestCase {
  func leaves(_ n: Int) -> [Hash256] { (0..<n).map { Merkle.leafHash(Array("tx \($0)".utf8)) } }

  /// RFC 6962's definition, written as directly as possible, to check the real one against.
  func reference(_ l: ArraySlice<Hash256>) -> Hash256 {
    if l.count == 1 { return l.first! }
    var k = 1
    while k * 2 < l.count { k *= 2 }
    return Merkle.nodeHash(
      reference(l[l.startIndex..<l.startIndex + k]), reference(l[(l.startIndex + k)...]))
  }

  func testRootsMatchTheDefinition() {
    XCTAssertEqual(
      Merkle.root([]).hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    for n in 1...70 {
      XCTAssertEqual(Merkle.root(leaves(n)), reference(leaves(n)[...]), "size \(n)")
    }
    // Leaves and nodes are hashed with different prefixes.
    XCTAssertNotEqual(Merkle.leafHash([1, 2]), Hash256.of([1, 2]))
  }

  func testInclusionProofsVerifyForRandomSizesAndFailWhenAltered() {
    var rng = SystemRandomNumberGenerator()
    var sizes = Array(1...17) + [31, 32, 33, 64, 100, 255, 256, 257, 1000]
    sizes += (0..<10).map { _ in Int.random(in: 2...3000, using: &rng) }
    for n in sizes {
      let l = leaves(n)
      let root = Merkle.root(l)
      let indices = n <= 40 ? Array(0..<n) : (0..<12).map { _ in Int.random(in: 0..<n) }
      for i in indices {
        let path = Merkle.path(for: i, in: l)
        XCTAssertEqual(Merkle.root(leaf: l[i], index: i, treeSize: n, path: path), root)
        // Any altered sibling, another index, another size or another leaf fails.
        for j in path.indices {
          var bad = path
          var b = bad[j].bytes
          b[Int.random(in: 0..<32)] ^= 1 << UInt8.random(in: 0..<8)
          bad[j] = Hash256(bytes: b)!
          XCTAssertNotEqual(Merkle.root(leaf: l[i], index: i, treeSize: n, path: bad), root)
        }
        if n > 1 {
          XCTAssertNotEqual(
            Merkle.root(leaf: l[i], index: (i + 1) % n, treeSize: n, path: path), root)
          XCTAssertNotEqual(
            Merkle.root(leaf: l[(i + 1) % n], index: i, treeSize: n, path: path), root)
          XCTAssertNotEqual(
            Merkle.root(leaf: l[i], index: i, treeSize: n, path: Array(path.dropLast())), root)
        }
        // The path alone does not fix the tree size (size 3 and 4 share paths for leaf 0),
        // which is why the size is part of the signed block header.
      }
    }
  }
}
