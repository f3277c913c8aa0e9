import Ledger
import Records

/// Carries a blob (an update's payload, a model file) to every node's blob store before a
/// transaction that names it is ordered.
///
/// Apart from ordering: a block names blobs only by hash, and each node checks that it holds
/// the bytes of the hashes it accepts.
public protocol BlobExchange: AnyObject {
  /// Stores `bytes` on every node and returns their hash.
  @discardableResult
  func publish(_ bytes: [UInt8]) throws -> Hash256
}

/// The blob stores of the nodes in one process: written once and linked into the others
/// (hard links where they share a file system).
public final class LocalBlobExchange: BlobExchange {
  public let stores: [BlobStore]
  /// Whether each blob is flushed to disk before `publish` returns (false for bulk loads that
  /// can be redone).
  public let sync: Bool

  public init(stores: [BlobStore], sync: Bool = true) {
    precondition(!stores.isEmpty)
    self.stores = stores
    self.sync = sync
  }

  @discardableResult
  public func publish(_ bytes: [UInt8]) throws(LedgerError) -> Hash256 {
    let first = stores[0]
    let hash = try first.put(bytes, sync: sync)
    for s in stores.dropFirst() { try s.replicate(hash, from: first) }
    return hash
  }
}
