import Canonical

/// Proof that a network's ledger holds a transaction and judged it valid: the transaction, its
/// Merkle path to a block's root, and the block's header with its node signatures. It checks
/// against the network's node keys and block quorum alone, so an enclave can tell what the
/// ledger fixed (the set of updates a round closed with) without trusting its host.
public struct InclusionProof: CanonicalCodable, Equatable, Sendable {
  public var header: BlockHeader
  public var signatures: BlockSignatures
  /// The transaction's canonical bytes.
  public var transaction: [UInt8]
  /// Its position in the block.
  public var index: UInt32
  /// Sibling hashes from its leaf up to the root.
  public var path: [Hash256]

  public init(
    header: BlockHeader, signatures: BlockSignatures, transaction: [UInt8], index: UInt32,
    path: [Hash256]
  ) {
    self.header = header
    self.signatures = signatures
    self.transaction = transaction
    self.index = index
    self.path = path
  }

  /// Checks that the block is of `network`, signed by at least `quorum` distinct keys of
  /// `nodes`, and that its root covers the transaction as valid; the first failure is thrown.
  /// `strict` also refuses any signature that is not a valid one of `nodes` (as receipts do);
  /// otherwise such signatures are only not counted (as enclaves do).
  /// Returns the nodes whose signatures count.
  @discardableResult
  public func verify(network: Hash256, nodes: Set<PublicKey>, quorum: Int, strict: Bool = false)
    throws(ProofError) -> Set<PublicKey>
  {
    guard header.network == network else {
      throw .otherNetwork(block: header.network, expected: network)
    }
    let signers = try signatures.signers(
      of: header, among: nodes, quorum: quorum, strict: strict)
    let computed = Merkle.root(
      leaf: Merkle.leaf(transaction: transaction, valid: true), index: Int(index),
      treeSize: Int(header.transactionCount), path: path)
    guard computed == header.merkleRoot else {
      throw .notIncluded(height: header.height, computed: computed, root: header.merkleRoot)
    }
    return signers
  }

  public func encode(to w: inout CanonicalWriter) {
    header.encode(to: &w)
    signatures.encode(to: &w)
    w.bytes(transaction)
    w.u32(index)
    w.list(path) { $0.hash($1) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    header = try BlockHeader(from: &r)
    signatures = try BlockSignatures(from: &r)
    transaction = try r.bytes("proof transaction", limit: 64 << 20)
    index = try r.u32("proof index")
    path = try r.list("proof path", limit: 64) { r throws(CanonicalDecodingError) in
      try r.hash("proof path hash")
    }
  }
}

/// Why an inclusion proof, or a block's signatures, do not hold.
public enum ProofError: Error, Equatable, CustomStringConvertible {
  case otherNetwork(block: Hash256, expected: Hash256)
  /// A signature by a key that is not one of the nodes (strict checks only).
  case unknownSigner(PublicKey)
  /// A node's signature that does not verify (strict checks only).
  case forgedSignature(PublicKey)
  case quorum(height: UInt64, have: Int, need: Int)
  /// The Merkle path does not lead from the transaction, judged valid, to the block's root.
  case notIncluded(height: UInt64, computed: Hash256?, root: Hash256)

  public var description: String {
    switch self {
    case .otherNetwork(let block, let expected):
      "the block is of network \(block.short), not \(expected.short)"
    case .unknownSigner(let key): "block signer key \(key.short) is not a ledger node"
    case .forgedSignature(let key): "the block signature of node key \(key.short) does not verify"
    case .quorum(let height, let have, let need):
      "block \(height) has \(have) valid node signature(s); the quorum is \(need)"
    case .notIncluded(let height, _, _):
      "the transaction is not a valid transaction of block \(height): its Merkle path does not reach the root"
    }
  }
}

extension BlockSignatures {
  /// The distinct nodes whose signatures on `header` verify, if they are at least `quorum`.
  /// `strict` throws at the first signature by another key, or one that does not verify.
  public func signers(
    of header: BlockHeader, among nodes: Set<PublicKey>, quorum: Int, strict: Bool
  ) throws(ProofError) -> Set<PublicKey> {
    var signers = Set<PublicKey>()
    for s in all {
      guard nodes.contains(s.signer) else {
        if strict { throw .unknownSigner(s.signer) }
        continue
      }
      guard s.verifies(header) else {
        if strict { throw .forgedSignature(s.signer) }
        continue
      }
      signers.insert(s.signer)
    }
    guard quorum >= 1, signers.count >= quorum else {
      throw .quorum(height: header.height, have: signers.count, need: quorum)
    }
    return signers
  }
}

extension Merkle {
  /// The leaf of a transaction with the verdict the nodes reached (a byte, 1 valid or 0
  /// invalid, then the canonical bytes), as block roots commit to it.
  public static func leaf(transaction: [UInt8], valid: Bool) -> Hash256 {
    leafHash([valid ? 1 : 0] + transaction)
  }
}
