import CFuzzer
import Foundation
import FuzzTargets

// libFuzzer's driver on the target FEDLEDGER_FUZZ_TARGET names (scripts/fuzz sets it). A
// finding is a crash, so that libFuzzer keeps the input.

let name = ProcessInfo.processInfo.environment["FEDLEDGER_FUZZ_TARGET"] ?? ""
guard let chosen = FuzzTargets.named(name) else {
  let names = FuzzTargets.all.map(\.name).joined(separator: ", ")
  FileHandle.standardError.write(
    Data("FEDLEDGER_FUZZ_TARGET is \"\(name)\", not one of: \(names)\n".utf8))
  exit(2)
}
let target = chosen

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(
  LLVMFuzzerRunDriver(&argc, &argv) { data, size in
    let input = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    do {
      try target.check(input)
    } catch {
      fatalError("finding: \(error)")
    }
    return 0
  })
