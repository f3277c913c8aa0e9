import Enclave
import EnclaveMessages
import Foundation

// The enclave program. It answers length-prefixed requests on stdin with responses on stdout
// (docs/enclave.md) and logs to stderr. It is kept small: its size is its attack surface.

let usage = """
  usage: fedledger-enclave [--backend simulated] --platform FILE
         fedledger-enclave --backend sgx [--attestation DIR]

  --backend simulated (the default) runs a SIMULATED enclave, with NO HARDWARE PROTECTION,
  whose measurement is the SHA-256 of this executable. FILE holds the simulated platform's
  64-byte secret (its signing key seed and sealing secret); it is created, readable by its
  owner only, if it does not exist.

  --backend sgx runs under Gramine (gramine-sgx, see docs/sgx.md): quotes and the sealing key
  come from Gramine's attestation files in DIR (default /dev/attestation), and the
  measurement is the MRENCLAVE the CPU reports.

  Requests are read from standard input and answered on standard output.
  """

func fail(_ message: String) -> Never {
  FileHandle.standardError.write(Data("fedledger-enclave: \(message)\n".utf8))
  exit(2)
}

func log(_ message: String) {
  FileHandle.standardError.write(Data("fedledger-enclave: \(message)\n".utf8))
}

var backend = EnclaveBackend.simulated
var platformPath: String?
var attestationDirectory: String?
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
  switch argument {
  case "--backend":
    guard let value = arguments.popFirst().flatMap(EnclaveBackend.init(rawValue:)) else {
      fail("--backend takes simulated or sgx\n\n\(usage)")
    }
    backend = value
  case "--platform":
    guard let path = arguments.popFirst() else { fail("--platform needs a file\n\n\(usage)") }
    platformPath = path
  case "--attestation":
    guard let path = arguments.popFirst() else {
      fail("--attestation needs a directory\n\n\(usage)")
    }
    attestationDirectory = path
  case "-h", "--help":
    print(usage)
    exit(0)
  default: fail("unknown argument \(argument)\n\n\(usage)")
  }
}

let service: EnclaveService
if backend == .sgx {
  if platformPath != nil { fail("--platform is for --backend simulated only\n\n\(usage)") }
  let platform: SGXPlatform
  do {
    platform = try SGXPlatform(
      source: DevAttestation(directory: attestationDirectory ?? "/dev/attestation"))
  } catch {
    fail("\(error)")
  }
  let mrEnclave = platform.measurement.map { String(format: "%02x", $0) }.joined()
  let ppid = platform.ppid.map { String(format: "%02x", $0) }.joined()
  log("SGX enclave (Gramine, DCAP attestation); MRENCLAVE \(mrEnclave); platform PPID \(ppid)")
  if platform.isDebug {
    log(
      "WARNING: this enclave runs in DEBUG mode: the host can read its memory, and peers refuse it")
  }
  service = EnclaveService(measurement: platform.measurement, platform: platform)
} else {
  if attestationDirectory != nil {
    fail("--attestation is for --backend sgx only\n\n\(usage)")
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
  log(
    "SIMULATED ENCLAVE, NO HARDWARE PROTECTION; measurement \(measurement.map { String(format: "%02x", $0) }.joined())"
  )
  service = EnclaveService(measurement: measurement, platform: platform)
}

do {
  while let request = try Frames.read(from: 0) {
    try Frames.write(service.handle(request), to: 1)
  }
} catch {
  fail("\(error)")
}
