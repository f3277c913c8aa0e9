import Foundation
import Records

/// What an audit re-verified.
public struct AuditReport: Sendable {
  public var blocks = 0
  public var transactions = 0
  public var invalidTransactions = 0
  public var blockSignatures = 0
  public var blobs = 0
  public var head: Hash256 = .zero
  public var height: UInt64?
}

/// Re-verifies a node's whole ledger from genesis: every header hash and chain link, Merkle
/// root, node signature, transaction signature and verdict, endorsement, and every blob.
public enum LedgerAudit {
  /// Throws the first bad block or blob, by height or by name.
  public static func run(
    directory: String, genesis: Genesis, progress: (UInt64) -> Void = { _ in }
  ) throws(LedgerError) -> AuditReport {
    let dbPath = directory + "/ledger.sqlite"
    guard FileManager.default.fileExists(atPath: dbPath) else {
      throw .storage(path: dbPath, reason: "no ledger here")
    }
    let store = try LedgerStore(path: dbPath, readOnly: true)
    let blobs = try BlobStore(directory: directory + "/blobs", create: false)
    var report = AuditReport()
    var referenced: [Hash256: UInt64] = [:]
    let state = try LedgerReplica.replay(store: store, genesis: genesis, verifySignatures: true) {
      block, outcomes in
      for (bytes, outcome) in zip(block.transactions, outcomes) {
        guard outcome.isValid else {
          report.invalidTransactions += 1
          continue
        }
        switch try? Transaction(canonical: bytes) {
        case .commitment(let c): referenced[c.payload] = c.payloadSize
        case .modelCommit(let m): referenced[m.modelBlob] = m.modelSize
        default: break
        }
      }
      report.blocks += 1
      report.transactions += block.transactions.count
      report.blockSignatures += block.signatures.all.count
      progress(block.header.height)
    }
    report.head = state.head
    report.height = state.nextHeight == 0 ? nil : state.nextHeight - 1
    for (hash, size) in referenced.sorted(by: { $0.key < $1.key }) {
      let bytes = try blobs.get(hash)
      if UInt64(bytes.count) != size {
        throw .corruptBlob(hash: hash, path: blobs.path(of: hash))
      }
    }
    // Blobs nothing references yet (a round still open) must still match their names.
    for hash in blobs.all() where referenced[hash] == nil {
      _ = try blobs.get(hash)
    }
    report.blobs = blobs.all().count
    return report
  }
}
