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
