import Foundation
import GRDB
import Records

/// Why the ledger store or blob store could not do what was asked.
public enum LedgerError: Error, CustomStringConvertible {
  /// The database or a file could not be opened, read or written.
  case storage(path: String, reason: String)
  /// A stored block fails a check; audit and recovery name it.
  case corruptBlock(height: UInt64, problem: String)
  /// A stored blob's bytes no longer match its name.
  case corruptBlob(hash: Hash256, path: String)
  case missingBlob(hash: Hash256, path: String)
  /// A block offered to a node cannot follow its chain.
  case rejectedBlock(node: String, height: UInt64, problem: String)
  /// The directory holds the ledger of another network.
  case wrongNetwork(path: String, stored: Hash256, expected: Hash256)

  public var description: String {
    switch self {
    case .storage(let path, let reason): "\(path): \(reason)"
    case .corruptBlock(let height, let problem): "block \(height) is corrupt: \(problem)"
    case .corruptBlob(let hash, let path):
      "blob \(hash.short) is corrupt: the bytes of \(path) no longer hash to its name"
    case .missingBlob(let hash, let path): "blob \(hash.short) is missing (expected at \(path))"
    case .rejectedBlock(let node, let height, let problem):
      "node \(node) rejected block \(height): it \(problem)"
    case .wrongNetwork(let path, let stored, let expected):
      "\(path) holds the ledger of network \(stored.short), not \(expected.short)"
    }
  }
}

/// A stored transaction with the verdict its node reached.
public struct StoredTransaction: Sendable {
  public var height: UInt64
  public var position: Int
  public var hash: Hash256
  public var bytes: [UInt8]
  public var outcome: TransactionOutcome
}

/// One node's blocks in SQLite (through GRDB): WAL journal, one database transaction per block,
/// synced before `append` returns. A crash leaves either the whole block or none of it.
public final class LedgerStore: Sendable {
  public let path: String
  let queue: DatabaseQueue

  /// Opens (creating if needed) a node's store; `readOnly` opens an existing one for
  /// inspection and changes nothing in the file.
  public init(path: String, readOnly: Bool = false) throws(LedgerError) {
    self.path = path
    do {
      var config = Configuration()
      config.readonly = readOnly
      if !readOnly {
        config.prepareDatabase { db in
          try db.execute(sql: "PRAGMA synchronous = FULL")
        }
      }
      queue = try DatabaseQueue(path: path, configuration: config)
      if readOnly {
        let tables = try queue.read { db in
          try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        guard Set(tables).isSuperset(of: ["block", "tx"]) else {
          throw LedgerError.storage(
            path: path, reason: "not a FedLedger ledger (no block and tx tables)")
        }
        return
      }
      // WAL is a property of the file: set once, outside any transaction.
      _ = try queue.writeWithoutTransaction { db in
        try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
      }
      var migrator = DatabaseMigrator()
      migrator.registerMigration("v1") { db in
        try db.execute(
          sql: """
            CREATE TABLE block (
              height INTEGER PRIMARY KEY,
              hash BLOB NOT NULL,
              header BLOB NOT NULL,
              signatures BLOB NOT NULL);
            CREATE TABLE tx (
              height INTEGER NOT NULL REFERENCES block(height),
              position INTEGER NOT NULL,
              hash BLOB NOT NULL,
              kind INTEGER NOT NULL,
              round INTEGER,
              body BLOB NOT NULL,
              valid INTEGER NOT NULL,
              reason TEXT,
              PRIMARY KEY (height, position));
            CREATE INDEX tx_hash ON tx(hash);
            CREATE INDEX tx_round ON tx(round, kind);
            """)
      }
      // v2: the one header this node signed at each height, so it never signs two (a fork
      // needs more than a third of the nodes to break this, whatever the orderer does).
      migrator.registerMigration("v2") { db in
        try db.execute(
          sql: "CREATE TABLE signed (height INTEGER PRIMARY KEY, hash BLOB NOT NULL)")
      }
      try migrator.migrate(queue)
    } catch let error as LedgerError {
      throw error
    } catch {
      throw .storage(path: path, reason: "\(error)")
    }
  }

  /// Stores a block and its transactions' outcomes atomically.
  public func append(_ block: Block, outcomes: [TransactionOutcome]) throws(LedgerError) {
    precondition(outcomes.count == block.transactions.count)
    do {
      try queue.write { db in
        try db.execute(
          sql: "INSERT INTO block (height, hash, header, signatures) VALUES (?, ?, ?, ?)",
          arguments: [
            Int64(block.header.height), Data(block.hash.bytes), Data(block.header.canonicalBytes),
            Data(block.signatures.canonicalBytes),
          ])
        let insert = try db.makeStatement(
          sql:
            "INSERT INTO tx (height, position, hash, kind, round, body, valid, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        )
        for (i, bytes) in block.transactions.enumerated() {
          let kind = bytes.count > 1 ? Int(bytes[1]) : 0
          let round = (try? Transaction(canonical: bytes))?.round.map { Int64(bitPattern: $0) }
          try insert.execute(arguments: [
            Int64(block.header.height), i, Data(Hash256.of(bytes).bytes), kind, round,
            Data(bytes), outcomes[i].isValid, outcomes[i].reason,
          ])
        }
      }
    } catch {
      throw .storage(path: path, reason: "cannot append block \(block.header.height): \(error)")
    }
  }

  /// The header hash this node signed at `height`, if it signed one.
  func signedHeader(at height: UInt64) throws(LedgerError) -> Hash256? {
    try read { db in
      try Data.fetchOne(
        db, sql: "SELECT hash FROM signed WHERE height = ?", arguments: [Int64(height)]
      ).flatMap { Hash256(bytes: Array($0)) }
    }
  }

  /// Records, durably, that this node signs the header `hash` at `height`; throws if it
  /// signed another there.
  func recordSigned(_ hash: Hash256, at height: UInt64) throws(LedgerError) {
    do {
      try queue.write { db in
        if let earlier = try Data.fetchOne(
          db, sql: "SELECT hash FROM signed WHERE height = ?", arguments: [Int64(height)])
        {
          guard Array(earlier) == hash.bytes else {
            throw LedgerError.rejectedBlock(
              node: "this node", height: height,
              problem:
                "is another block than the one this node signed at this height (\(Hash256(bytes: Array(earlier))?.short ?? "?")): a node signs one block per height"
            )
          }
          return
        }
        try db.execute(
          sql: "INSERT INTO signed (height, hash) VALUES (?, ?)",
          arguments: [Int64(height), Data(hash.bytes)])
      }
    } catch let error as LedgerError {
      throw error
    } catch {
      throw .storage(path: path, reason: "cannot record a signature at \(height): \(error)")
    }
  }

  /// Forgets that this node signed header `hash` at `height`: only for a block that can never
  /// be stored (see `LedgerReplica.forgetSignature`).
  func forgetSigned(_ hash: Hash256, at height: UInt64) throws(LedgerError) {
    do {
      try queue.write { db in
        try db.execute(
          sql: "DELETE FROM signed WHERE height = ? AND hash = ?",
          arguments: [Int64(height), Data(hash.bytes)])
      }
    } catch {
      throw .storage(path: path, reason: "cannot forget a signature at \(height): \(error)")
    }
  }

  /// Height of the last stored block, nil when empty.
  func headHeight() throws(LedgerError) -> UInt64? {
    try read { db in try Int64.fetchOne(db, sql: "SELECT MAX(height) FROM block").map(UInt64.init) }
  }

  /// The block at `height` as stored (decoded, not verified).
  public func block(at height: UInt64) throws(LedgerError) -> Block? {
    try read { db in try Self.block(at: height, db: db) }
  }

  /// Calls `body` with each stored block from `from`, in order, with its stored outcomes and
  /// stored header hash; reads in batches.
  func forEachBlock(
    from start: UInt64 = 0,
    _ body: (Block, [TransactionOutcome], Hash256) throws -> Void
  ) throws {
    var next = start
    while true {
      let batch: [(Block, [TransactionOutcome], Hash256)] = try read { db in
        let rows = try Row.fetchAll(
          db,
          sql:
            "SELECT height, hash, header, signatures FROM block WHERE height >= ? ORDER BY height LIMIT 256",
          arguments: [Int64(next)])
        return try rows.map { row in
          let height = UInt64(row["height"] as Int64)
          let (txs, outcomes) = try Self.transactions(at: height, db: db)
          let block = try Self.decodeBlock(height: height, row: row, transactions: txs)
          let stored = Hash256(bytes: Array(row["hash"] as Data)) ?? .zero
          return (block, outcomes, stored)
        }
      }
      if batch.isEmpty { return }
      for (b, o, h) in batch { try body(b, o, h) }
      next = batch.last!.0.header.height + 1
    }
  }

  /// Where a transaction is, by its hash.
  public func transaction(_ hash: Hash256) throws(LedgerError) -> StoredTransaction? {
    try read { db in
      try Row.fetchOne(
        db, sql: "SELECT height, position, body, valid, reason FROM tx WHERE hash = ? LIMIT 1",
        arguments: [Data(hash.bytes)]
      ).map(Self.stored)
    }
  }

  /// The ledger's proof that it holds the transaction with `hash` as valid (an invalid copy of
  /// the same bytes does not count), nil if it does not.
  public func proof(ofValid hash: Hash256) throws(LedgerError) -> InclusionProof? {
    guard
      let stored = try read({ db in
        try Row.fetchOne(
          db,
          sql:
            "SELECT height, position, body, valid, reason FROM tx WHERE hash = ? AND valid = 1 LIMIT 1",
          arguments: [Data(hash.bytes)]
        ).map(Self.stored)
      }), let block = try block(at: stored.height)
    else { return nil }
    let valid = try transactions(at: stored.height).map(\.outcome.isValid)
    return block.inclusionProof(of: stored.position, valid: valid)
  }

  /// Every transaction of `kind`, in ledger order (optionally of one round).
  public func transactions(kind: Transaction.Kind, round: UInt64? = nil) throws(LedgerError)
    -> [StoredTransaction]
  {
    try read { db in
      var sql = "SELECT height, position, body, valid, reason FROM tx WHERE kind = ?"
      var args: [any DatabaseValueConvertible] = [Int(kind.rawValue)]
      if let round {
        sql += " AND round = ?"
        args.append(Int64(bitPattern: round))
      }
      sql += " ORDER BY height, position"
      return try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.stored)
    }
  }

  public func transactionCount() throws(LedgerError) -> Int {
    try read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tx") ?? 0 }
  }

  private static func stored(_ row: Row) -> StoredTransaction {
    let bytes = Array(row["body"] as Data)
    let valid: Bool = row["valid"]
    return StoredTransaction(
      height: UInt64(row["height"] as Int64), position: row["position"],
      hash: Hash256.of(bytes), bytes: bytes,
      outcome: valid ? .valid : .invalid(row["reason"] ?? "invalid"))
  }

  /// A block's transactions and stored verdicts. The hash, kind and round columns (indexes
  /// for lookups) are checked against the bytes, so a damaged index is reported as such.
  private static func transactions(at height: UInt64, db: Database) throws -> (
    [[UInt8]], [TransactionOutcome]
  ) {
    let rows = try Row.fetchAll(
      db,
      sql:
        "SELECT position, hash, kind, round, body, valid, reason FROM tx WHERE height = ? ORDER BY position",
      arguments: [Int64(height)])
    var bodies: [[UInt8]] = []
    var outcomes: [TransactionOutcome] = []
    for (i, row) in rows.enumerated() {
      let bytes = Array(row["body"] as Data)
      let tx = try? Transaction(canonical: bytes)
      let expectedKind = bytes.count > 1 ? Int(bytes[1]) : 0
      let round: Int64? = row["round"]
      guard (row["position"] as Int) == i, Array(row["hash"] as Data) == Hash256.of(bytes).bytes,
        (row["kind"] as Int) == expectedKind,
        round == tx?.round.map({ Int64(bitPattern: $0) })
      else {
        throw LedgerError.corruptBlock(
          height: height,
          problem:
            "transaction \(i) does not match its stored position, hash, kind or round: its bytes or that index were altered"
        )
      }
      bodies.append(bytes)
      outcomes.append((row["valid"] as Bool) ? .valid : .invalid(row["reason"] ?? "invalid"))
    }
    return (bodies, outcomes)
  }

  /// The transactions stored at `height`, with their verdicts.
  public func transactions(at height: UInt64) throws(LedgerError) -> [StoredTransaction] {
    let (bodies, outcomes) = try read { db in try Self.transactions(at: height, db: db) }
    return bodies.indices.map {
      StoredTransaction(
        height: height, position: $0, hash: Hash256.of(bodies[$0]), bytes: bodies[$0],
        outcome: outcomes[$0])
    }
  }

  private static func block(at height: UInt64, db: Database) throws -> Block? {
    guard
      let row = try Row.fetchOne(
        db, sql: "SELECT height, hash, header, signatures FROM block WHERE height = ?",
        arguments: [Int64(height)])
    else { return nil }
    return try decodeBlock(
      height: height, row: row, transactions: transactions(at: height, db: db).0)
  }

  private static func decodeBlock(height: UInt64, row: Row, transactions: [[UInt8]]) throws
    -> Block
  {
    do {
      let header = try BlockHeader(canonical: Array(row["header"] as Data))
      let signatures = try BlockSignatures(canonical: Array(row["signatures"] as Data))
      return Block(header: header, transactions: transactions, signatures: signatures)
    } catch {
      throw LedgerError.corruptBlock(
        height: height, problem: "its stored header or signatures do not decode: \(error)")
    }
  }

  private func read<T>(_ body: (Database) throws -> T) throws(LedgerError) -> T {
    do {
      return try queue.read(body)
    } catch let error as LedgerError {
      throw error
    } catch {
      throw .storage(path: path, reason: "\(error)")
    }
  }
}
