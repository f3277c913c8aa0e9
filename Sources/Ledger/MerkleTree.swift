import Records

// Building RFC 6962 trees: the roots the ledger puts in its blocks and the audit paths of its
// receipts. Checking a path against a root, all an enclave does, stays in `Records`.

extension Merkle {
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
}

extension InclusionProof {
  /// A proof for a block that holds `transaction` alone, signed by `keys`: for tests and
  /// benchmarks that hand an enclave a round without running a ledger.
  public static func lone(
    _ transaction: [UInt8], network: Hash256, height: UInt64 = 1, signedBy keys: [SigningKey]
  ) -> InclusionProof {
    let header = BlockHeader(
      network: network, height: height, previous: .zero,
      merkleRoot: Merkle.root([Merkle.leaf(transaction: transaction, valid: true)]),
      transactionCount: 1, timestamp: 0, proposer: "node-0")
    return InclusionProof(
      header: header,
      signatures: BlockSignatures(keys.map { BlockSignature(header: header, key: $0) }),
      transaction: transaction, index: 0, path: [])
  }
}
