import Canonical

/// A block's header: what the nodes sign and what the next block chains to.
public struct BlockHeader: CanonicalCodable, Equatable {
  public static let version: UInt8 = 1
  /// The genesis hash of the network this block belongs to.
  public var network: Hash256
  public var height: UInt64
  /// The previous block's header hash; zero for the genesis block.
  public var previous: Hash256
  /// RFC 6962 Merkle root over the transactions with the verdicts the nodes reached: each leaf
  /// is a byte (1 valid, 0 invalid) then the transaction's canonical bytes. Signing the header
  /// thus attests each transaction's validity, which is what lets a receipt prove a commit
  /// took effect rather than merely that it was ordered.
  public var merkleRoot: Hash256
  public var transactionCount: UInt32
  /// Milliseconds since 1970 (UTC), from the orderer; never before the previous block's.
  public var timestamp: UInt64
  /// The node that proposed the block, by name in genesis.
  public var proposer: String

  public init(
    network: Hash256, height: UInt64, previous: Hash256, merkleRoot: Hash256,
    transactionCount: UInt32, timestamp: UInt64, proposer: String
  ) {
    self.network = network
    self.height = height
    self.previous = previous
    self.merkleRoot = merkleRoot
    self.transactionCount = transactionCount
    self.timestamp = timestamp
    self.proposer = proposer
  }

  public var hash: Hash256 { Hash256.of(canonicalBytes) }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.hash(network)
    w.u64(height)
    w.hash(previous)
    w.hash(merkleRoot)
    w.u32(transactionCount)
    w.u64(timestamp)
    w.string(proposer)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("block header version")
    guard v == Self.version else {
      throw .unknownVersion(field: "block header version", version: Int(v))
    }
    network = try r.hash("block network")
    height = try r.u64("block height")
    previous = try r.hash("block previous hash")
    merkleRoot = try r.hash("block Merkle root")
    transactionCount = try r.u32("block transaction count")
    timestamp = try r.u64("block timestamp")
    proposer = try r.string("block proposer")
  }
}

/// A node's signature over a block header hash.
public struct BlockSignature: CanonicalCodable, Equatable {
  public var signer: PublicKey
  public var signature: Signature

  public init(signer: PublicKey, signature: Signature) {
    self.signer = signer
    self.signature = signature
  }

  public func verifies(_ header: BlockHeader) -> Bool {
    signer.verifies(signature, over: header.hash.bytes, for: .block)
  }

  public func encode(to w: inout CanonicalWriter) {
    w.key(signer)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    signer = try r.key("block signer")
    signature = try r.signature("block signature")
  }
}

/// A node's signed refusal to sign a block header (it is dated too far from the node's clock,
/// or the node cannot run it). Where a log orders the ledger, enough refusals void the block,
/// and its transactions are cut again.
public struct BlockRefusal: CanonicalCodable, Equatable {
  public var signer: PublicKey
  /// The header hash refused.
  public var header: Hash256
  public var signature: Signature

  public init(signer: PublicKey, header: Hash256, signature: Signature) {
    self.signer = signer
    self.header = header
    self.signature = signature
  }

  public init(header: BlockHeader, key: SigningKey) {
    signer = key.publicKey
    self.header = header.hash
    signature = key.sign(header.hash.bytes, for: .blockRefusal)
  }

  public func verifies(_ header: BlockHeader) -> Bool {
    self.header == header.hash
      && signer.verifies(signature, over: header.hash.bytes, for: .blockRefusal)
  }

  public func encode(to w: inout CanonicalWriter) {
    w.key(signer)
    w.hash(header)
    w.signature(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    signer = try r.key("refusal signer")
    header = try r.hash("refused header")
    signature = try r.signature("refusal signature")
  }
}

/// The set of node signatures on a block, sorted by signer so it has one encoding.
public struct BlockSignatures: CanonicalCodable, Equatable {
  public var all: [BlockSignature]
  public init(_ all: [BlockSignature]) { self.all = all.sorted { $0.signer < $1.signer } }

  public func encode(to w: inout CanonicalWriter) { w.list(all) { $1.encode(to: &$0) } }
  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    all = try r.list("block signatures", limit: 4096) { r throws(CanonicalDecodingError) in
      try BlockSignature(from: &r)
    }
    for (a, b) in zip(all, all.dropFirst()) where !(a.signer < b.signer) {
      throw .invalid(field: "block signatures", problem: "are not sorted by signer or repeat one")
    }
  }
}
