import Enclave
import Foundation

// The enclave program. It answers length-prefixed requests on stdin with responses on stdout
// (docs/enclave.md) and logs to stderr. It is kept small: its size is its attack surface.

let usage = """
  usage: fedledger-enclave --platform FILE

  Runs a simulated enclave (NO HARDWARE PROTECTION) whose measurement is the SHA-256 of this
  executable. FILE holds the simulated platform's 64-byte secret (its signing key seed and
  sealing secret); it is created, readable by its owner only, if it does not exist.
  Requests are read from standard input and answered on standard output.
  """

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("fedledger-enclave: \(message)\n".utf8))
  exit(2)
}

var platformPath: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
  switch argument {
  case "--platform":
    guard let path = arguments.popFirst() else { fail("--platform needs a file\n\n\(usage)") }
    platformPath = path
  case "-h", "--help":
    print(usage)
    exit(0)
  default: fail("unknown argument \(argument)\n\n\(usage)")
  }
}
guard let platformPath else { fail("--platform is required\n\n\(usage)") }

let platform: SimulatedPlatform
do {
  platform = try SimulatedPlatform.loadOrCreate(path: platformPath)
} catch {
  fail("\(platformPath): \(error)")
}
let measurement: [UInt8]
do {
  measurement = try Enclave.measure(executable: "/proc/self/exe")
} catch {
  fail("cannot measure this executable: \(error)")
}
FileHandle.standardError.write(
  Data(
    "fedledger-enclave: SIMULATED ENCLAVE, NO HARDWARE PROTECTION; measurement \(measurement.map { String(format: "%02x", $0) }.joined())\n"
      .utf8))

let service = EnclaveService(measurement: measurement, platform: platform)
do {
  while let request = try Frames.read(from: 0) {
    try Frames.write(service.handle(request), to: 1)
  }
} catch {
  fail("\(error)")
}
