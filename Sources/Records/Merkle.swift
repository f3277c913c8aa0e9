import Crypto

/// RFC 6962 (Certificate Transparency) Merkle trees over a block's transactions.
///
/// Leaves are hashed as SHA-256(0x00 || data) and inner nodes as SHA-256(0x01 || left || right),
/// so a leaf can never pass for an inner node. Trees of any size split at the largest power of
/// two below their size.
public enum Merkle {
  public static func leafHash(_ data: [UInt8]) -> Hash256 {
    var h = SHA256()
    h.update(data: [0])
    h.update(data: data)
    return Hash256(unchecked: Array(h.finalize()))
  }

  public static func nodeHash(_ left: Hash256, _ right: Hash256) -> Hash256 {
    var h = SHA256()
    h.update(data: [1])
    h.update(data: left.bytes)
    h.update(data: right.bytes)
    return Hash256(unchecked: Array(h.finalize()))
  }

  /// The root over leaf hashes; the empty tree's root is SHA-256 of nothing.
  public static func root(_ leaves: [Hash256]) -> Hash256 {
    if leaves.isEmpty { return Hash256.of([UInt8]()) }
    return leaves.withUnsafeBufferPointer { subtree($0[...]) }
  }

  private static func subtree(_ leaves: UnsafeBufferPointer<Hash256>.SubSequence) -> Hash256 {
    if leaves.count == 1 { return leaves.first! }
    let k = splitPoint(leaves.count)
    let mid = leaves.startIndex + k
    return nodeHash(subtree(leaves[..<mid]), subtree(leaves[mid...]))
  }

  /// The largest power of two smaller than `n` (n > 1).
  static func splitPoint(_ n: Int) -> Int {
    var k = 1
    while k << 1 < n { k <<= 1 }
    return k
  }

  /// The audit path for leaf `index`: sibling hashes from the leaf up to the root.
  public static func path(for index: Int, in leaves: [Hash256]) -> [Hash256] {
    precondition(
      leaves.indices.contains(index), "leaf \(index) is not in a tree of \(leaves.count)")
    var path: [Hash256] = []
    var lo = 0
    var hi = leaves.count
    var siblings: [Hash256] = []
    // Walk down, remembering the other side at each split; the path runs bottom-up.
    while hi - lo > 1 {
      let k = splitPoint(hi - lo)
      if index < lo + k {
        siblings.append(root(Array(leaves[(lo + k)..<hi])))
        hi = lo + k
      } else {
        siblings.append(root(Array(leaves[lo..<(lo + k)])))
        lo += k
      }
    }
    path = siblings.reversed()
    return path
  }

  /// Recomputes the root from a leaf and its audit path (RFC 9162, section 2.1.3.2); nil when
  /// the path's length does not fit the index and tree size.
  public static func root(
    leaf: Hash256, index: Int, treeSize: Int, path: [Hash256]
  ) -> Hash256? {
    guard index >= 0, index < treeSize else { return nil }
    var fn = index
    var sn = treeSize - 1
    var r = leaf
    for p in path {
      if sn == 0 { return nil }
      if fn & 1 == 1 || fn == sn {
        r = nodeHash(p, r)
        if fn & 1 == 0 {
          while fn & 1 == 0 && fn != 0 {
            fn >>= 1
            sn >>= 1
          }
        }
      } else {
        r = nodeHash(r, p)
      }
      fn >>= 1
      sn >>= 1
    }
    return sn == 0 ? r : nil
  }
}
