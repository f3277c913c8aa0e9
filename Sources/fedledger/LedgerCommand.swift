import ArgumentParser
import Foundation
import Ledger
import Records
import RecordsJSON

struct LedgerCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "ledger", abstract: "Inspect, audit and export from a node's ledger.",
    subcommands: [LedgerShow.self, AuditCommand.self, LedgerExport.self])
}

/// Where a node's ledger is and which genesis to read it with.
struct LedgerLocation: ParsableArguments {
  @Option(help: "A node's ledger directory (holding ledger.sqlite and blobs/).")
  var ledger = "runs/simulate/ledger/node-0"
  @Option(
    help:
      "Genesis file to check the ledger against (default: the genesis stored in the ledger's first block)."
  )
  var genesis: String?

  func open() throws -> (LedgerStore, Genesis, trusted: Bool) {
    let db = ledger + "/ledger.sqlite"
    guard FileManager.default.fileExists(atPath: db) else {
      throw ValidationError("\(ledger): no ledger here (expected \(db))")
    }
    let store = try LedgerStore(path: db, readOnly: true)
    if let genesis { return (store, try Genesis.read(path: genesis), true) }
    guard let stored = try store.storedGenesis() else {
      throw ValidationError("\(ledger): the ledger is empty (no genesis block)")
    }
    return (store, stored, false)
  }
}

struct LedgerShow: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show",
    abstract: "Blocks, rounds, committed models, rejected updates and invalid transactions.")

  @OptionGroup var location: LedgerLocation
  @Flag(help: "Print JSON instead of tables.") var json = false
  @Option(help: "Show at most this many blocks (the newest; default 20, 0 for all).")
  var blocks = 20

  func run() throws {
    do {
      let (store, genesis, _) = try location.open()
      let view = try LedgerView(store: store, genesis: genesis)
      if json {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        print(String(decoding: try encoder.encode(view), as: UTF8.self))
      } else {
        print(text(view))
      }
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  private func text(_ v: LedgerView) -> String {
    var lines = [
      "network \"\(v.network)\"  genesis \(v.genesis)",
      "  \(v.nodes.count) nodes (\(v.nodes.joined(separator: ", "))); a model needs \(v.endorsementThreshold) of \(v.endorsers) endorsements (\(v.endorserKinds.joined(separator: ", "))); \(v.clusters) clusters enrolled",
      "  rules: \(v.rules); clusters per member: \(v.clustersPerMember.map(String.init) ?? "no limit")"
        + (v.groupKey.map { "; group key \($0.prefix(16))..." } ?? ""),
      "  height \(v.height.map(String.init) ?? "-")  head \(v.head)  \(v.transactions) transactions, \(v.invalidTransactions.count) invalid",
      "",
      "blocks"
        + (blocks > 0 && v.blocks.count > blocks ? " (newest \(blocks) of \(v.blocks.count))" : ""),
      "  height  time                      txs  sigs  proposer  hash          contents",
    ]
    let shown = blocks > 0 ? Array(v.blocks.suffix(blocks)) : v.blocks
    for b in shown {
      // In the order a round runs: enrolment, open, commitments, close, endorsements, commit.
      let order = Transaction.Kind.allCases.map(\.name) + ["undecodable"]
      let contents = order.compactMap { k in b.kinds[k].map { "\($0) \(k)" } }
        .joined(separator: ", ")
      lines.append(
        "  " + pad("\(b.height)", 6) + "  "
          + b.time.padding(toLength: 24, withPad: " ", startingAt: 0)
          + pad("\(b.transactions)", 5) + pad("\(b.signatures)", 6) + "  "
          + b.proposer.padding(toLength: 8, withPad: " ", startingAt: 0) + "  "
          + String(b.hash.prefix(12)) + "  " + contents)
    }
    lines += [
      "", "rounds",
      "  round  updates  accepted  rejected  endorsements  model         block  base",
    ]
    for r in v.rounds {
      lines.append(
        "  " + pad("\(r.round)", 5) + pad("\(r.commitments)", 9)
          + pad(r.accepted.map(String.init) ?? "-", 10)
          + pad(r.rejected.map(String.init) ?? "-", 10)
          + pad("\(r.endorsements)", 14) + "  "
          + (r.model.map { String($0.prefix(12)) }
            ?? (r.aborted != nil ? "aborted     " : r.closed ? "uncommitted " : "open        "))
          + pad(r.committedAtBlock.map(String.init) ?? "-", 7) + "  "
          + String(r.baseModel.prefix(12))
          + (r.divergentEndorsers.isEmpty
            ? "" : "  divergent endorsement by \(r.divergentEndorsers.joined(separator: ", "))")
          + (r.aborted.map { "  aborted: \($0)" } ?? ""))
    }
    let measured = v.rounds.filter { $0.metric != nil }
    if !measured.isEmpty {
      lines += [
        "", "federated metrics (clusters' held-out data, combined by k endorsers)",
        "  round  accuracy    loss  clusters  samples  refused  combination  block",
      ]
      for r in measured {
        let m = r.metric!
        lines.append(
          "  " + pad("\(r.round)", 5) + pad(String(format: "%.2f%%", m.accuracy * 100), 10)
            + pad(String(format: "%.4f", m.loss), 8) + pad("\(m.clusters)", 10)
            + pad("\(m.samples)", 9) + pad("\(m.refused)", 9) + "  "
            + m.combination.padding(toLength: 11, withPad: " ", startingAt: 0)
            + pad("\(m.committedAtBlock)", 7))
      }
    }
    if !v.rejectedUpdates.isEmpty {
      lines += ["", "rejected updates"]
      for r in v.rejectedUpdates {
        lines.append("  round \(r.round)  \(r.cluster)  update \(r.update.prefix(12))  \(r.reason)")
      }
    }
    if !v.invalidTransactions.isEmpty {
      lines += ["", "invalid transactions"]
      for t in v.invalidTransactions {
        lines.append("  block \(t.block) #\(t.position)  \(t.kind)  \(t.reason)")
      }
    }
    return lines.joined(separator: "\n")
  }
}

struct AuditCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "audit",
    abstract: "Re-verify a node's whole ledger and blobs; name the first bad block or blob.",
    discussion: """
      Checks every block from genesis: the stored hash against the header, the chain link, the \
      Merkle root, the node signatures (against genesis), every transaction again (signatures, \
      rules, endorsements) against the verdict stored with it, then every blob the ledger \
      references or holds against its SHA-256 name. Exits 0 when all pass, 1 at the first \
      failure.
      """)

  @OptionGroup var location: LedgerLocation

  func run() throws {
    do {
      let (_, genesis, trusted) = try location.open()
      if !trusted {
        print(
          "note: checking against the genesis stored in block 0 (\(genesis.hash.short)); pass --genesis to check against your own copy"
        )
      }
      let start = Date()
      let report = try Ledger.LedgerAudit.run(directory: location.ledger, genesis: genesis) { h in
        if h % 50 == 0 { Terminal.status("audit: block \(h)") }
      }
      Terminal.clearStatus()
      let seconds = Date().timeIntervalSince(start)
      print(
        "ok: \(report.blocks) blocks, \(report.transactions) transactions (\(report.invalidTransactions) stored as invalid, re-checked), "
          + "\(report.blockSignatures) node signatures, \(report.blobs) blobs verified in "
          + String(format: "%.2f s", seconds))
      print("head \(report.head.hex) at height \(report.height.map(String.init) ?? "-")")
    } catch {
      Terminal.clearStatus()
      print("FAILED: \(error)")
      throw ExitCode.failure
    }
  }
}

struct LedgerExport: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "export", abstract: "Write the receipt for a committed model.")

  @OptionGroup var location: LedgerLocation
  @Option(help: "The round whose model to export (default: the newest committed).") var round:
    UInt64?
  @Option(name: .customLong("model"), help: "Or the model's hash (hex).") var modelHash: String?
  @Option(name: .shortAndLong, help: "Receipt file to write (default: standard output).")
  var output: String?

  func run() throws {
    do {
      let (store, genesis, _) = try location.open()
      let receipt: Receipt
      if let modelHash {
        guard let h = Hash256(hex: modelHash) else {
          throw ValidationError("--model \(modelHash) is not a SHA-256 hash in lowercase hex")
        }
        receipt = try store.receipt(model: h, network: genesis.hash)
      } else if let round {
        receipt = try store.receipt(round: round, network: genesis.hash)
      } else {
        guard let last = try store.transactions(kind: .modelCommit).last(where: \.outcome.isValid),
          case .modelCommit(let m) = try Transaction(canonical: last.bytes)
        else { throw ValidationError("\(location.ledger): no model has been committed") }
        receipt = try store.receipt(round: m.round, network: genesis.hash)
      }
      if let output {
        try Data(receipt.json()).write(to: URL(fileURLWithPath: output), options: .atomic)
        FileHandle.standardError.write(
          Data(
            "wrote the receipt for round \(receipt.round), model \(receipt.model.short), to \(output)\n"
              .utf8))
      } else {
        FileHandle.standardOutput.write(Data(receipt.json()))
      }
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }
}
