import ArgumentParser
import Foundation
import Learning
import Ledger
import Records
import RecordsJSON

struct Verify: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check offline that a model is the one the consortium committed.",
    discussion: """
      Needs only the network's genesis file, the model's receipt and the model file. Checks \
      that the receipt belongs to this genesis, that enough genesis nodes signed its block, \
      that the model-commit transaction is in that block (Merkle path), that at least k \
      distinct genesis endorsers signed the same aggregation statement, and that the model \
      file hashes to the committed model. Prints each check; exits 0 when all pass, 1 with the \
      reason when one fails, 2 when a file cannot be read. Formats: docs/ledger.md.
      """)

  @Option(help: "The network's genesis file (JSON).") var genesis: String
  @Option(help: "The model's receipt (JSON), as simulate or `ledger export` wrote it.")
  var receipt: String
  @Option(help: "The model file (.flm). Without it only the receipt is checked.") var model: String?

  func run() throws {
    let g: Genesis
    let r: Receipt
    do {
      g = try Genesis.read(path: genesis)
      guard let data = FileManager.default.contents(atPath: receipt) else {
        throw ValidationError("\(receipt): cannot read the receipt file")
      }
      do {
        r = try Receipt.parse(Array(data))
      } catch {
        throw ValidationError("\(receipt): \(error)")
      }
    } catch {
      Terminal.error("\(error)")
      throw ExitCode(2)
    }
    var modelHash: Hash256?
    if let model {
      guard FileManager.default.fileExists(atPath: model) else {
        Terminal.error("\(model): no such model file")
        throw ExitCode(2)
      }
      do {
        modelHash = Hash256(hex: try ModelFile.read(from: model).hash)
        if modelHash == nil { throw ValidationError("\(model): its hash is not SHA-256 hex") }
      } catch {
        print("FAILED: model bytes changed: \(error)")
        throw ExitCode(1)
      }
    }
    do {
      for line in try r.verify(genesis: g, modelHash: modelHash) { print("ok  \(line)") }
    } catch {
      print("FAILED: \(error)")
      throw ExitCode(1)
    }
    if model == nil { print("note: no --model given; the model file itself was not checked") }
    print(
      "VERIFIED: round \(r.round) model \(r.model.hex) was committed by network \"\(g.network)\"")
  }
}
