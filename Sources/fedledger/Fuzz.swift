import ArgumentParser
import Foundation
import FuzzTargets

/// `fedledger fuzz`: the fuzz targets without libFuzzer (replaying inputs, listing targets,
/// writing seeds). The fuzzing itself is scripts/fuzz (docs/fuzzing.md).
struct Fuzz: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "List, replay and seed the fuzz targets (scripts/fuzz runs libFuzzer on them).",
    subcommands: [FuzzList.self, FuzzReplay.self, FuzzSeedsCommand.self])
}

struct FuzzList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "Every fuzz target and what it feeds.")

  func run() {
    for t in FuzzTargets.all {
      print("\(t.name.padding(toLength: 14, withPad: " ", startingAt: 0)) \(t.summary)")
    }
  }
}

struct FuzzReplay: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "replay",
    abstract: "Run one target on files or directories of inputs, as the libFuzzer driver would.",
    discussion: """
      Prints one line per input (decoded, or refused by the decoder) and exits non-zero on the \
      first finding: an invariant the decoder broke. A crash is a crash here too. Use it to \
      reproduce what libFuzzer found in an ordinary build.
      """)

  @Argument(help: "The target (fedledger fuzz list).") var target: String
  @Argument(help: "Input files, or directories of them.") var inputs: [String]

  func run() throws {
    guard let t = FuzzTargets.named(target) else {
      throw ValidationError(
        "no fuzz target \"\(target)\"; targets: \(FuzzTargets.all.map(\.name).joined(separator: ", "))"
      )
    }
    let fm = FileManager.default
    var files: [String] = []
    for path in inputs {
      var isDirectory: ObjCBool = false
      guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw ValidationError("\(path): no such file or directory")
      }
      if isDirectory.boolValue {
        files += (try fm.contentsOfDirectory(atPath: path)).sorted().map { "\(path)/\($0)" }
      } else {
        files.append(path)
      }
    }
    for f in files {
      guard let data = fm.contents(atPath: f) else { throw ValidationError("\(f): cannot be read") }
      do {
        let decoded = try t.check(Array(data))
        print("\(f): \(data.count) bytes, \(decoded ? "decoded" : "refused by the decoder")")
      } catch {
        print("\(f): FINDING: \(error)")
        throw ExitCode(1)
      }
    }
  }
}

struct FuzzSeedsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "seeds",
    abstract: "Write the seed corpora and fixtures from a simulate output.",
    discussion: """
      Run `fedledger simulate --rounds 2 --clusters 3 --test-limit 300 --output DIR` first; \
      the seeds are its blocks, transactions, envelopes, model, receipts, genesis and enclave \
      state, with the attestation tests' real DCAP quotes and collateral.
      """)

  @Option(help: "A `fedledger simulate --output` directory (not needed with --only secagg).")
  var from: String?
  @Option(help: "The repository's Fuzz directory.") var to = "Fuzz"
  @Option(help: "Only this target's seeds: secagg (whole in-process SecAgg+ sessions).")
  var only: String?

  func validate() throws {
    if let only, only != "secagg" {
      throw ValidationError("--only takes secagg (the other seeds come from a simulation)")
    }
    if only == nil && from == nil {
      throw ValidationError("--from is needed: a `fedledger simulate --output` directory")
    }
  }

  func run() throws {
    let counts =
      only != nil
      ? try FuzzSeeds.writeSecAgg(root: to) : try FuzzSeeds.write(simulation: from!, root: to)
    for (target, n) in counts.sorted(by: { $0.key < $1.key }) { print("\(target): \(n) seed(s)") }
  }
}
