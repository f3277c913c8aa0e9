import Enclave
import Foundation
import XCTest

/// The `fedledger-enclave` program built beside the tests, run as a host runs it: requests on
/// its standard input, responses on its standard output, its log on standard error.
struct EnclaveProgram {
  /// The executable's path.
  static func path() throws -> String {
    let program = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("fedledger-enclave").path
    let products = Bundle.main.bundleURL.appendingPathComponent("fedledger-enclave").path
    return try XCTUnwrap(
      [program, products].first { FileManager.default.isExecutableFile(atPath: $0) },
      "fedledger-enclave is built beside the tests")
  }

  let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private let log = Pipe()

  /// Starts the program with `arguments`.
  init(_ arguments: [String]) throws {
    process.executableURL = URL(fileURLWithPath: try Self.path())
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = output
    process.standardError = log
    try process.run()
  }

  /// One request, one response, as frames.
  func ask(_ request: EnclaveRequest) throws -> EnclaveResponse {
    try Frames.write(request.canonicalBytes, to: input.fileHandleForWriting.fileDescriptor)
    return try EnclaveResponse(
      canonical: try XCTUnwrap(try Frames.read(from: output.fileHandleForReading.fileDescriptor)))
  }

  /// Closes its input and waits: its exit status and everything it logged.
  func finish() throws -> (status: Int32, log: String) {
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    return (
      process.terminationStatus,
      String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    )
  }
}
