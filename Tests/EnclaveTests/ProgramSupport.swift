import Aggregation
import Enclave
import Foundation
import Ledger
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

extension AggregateRequest {
  /// A request for `round` whose close the ledger proves, in a block `node` signed: closed with
  /// exactly `updates`, unless `closedWith` names other payload hashes.
  static func proven(
    network: [UInt8], round: UInt64, baseModel: [UInt8],
    aggregation: FixedPointAggregation = FixedPointAggregation(), updates: [SealedUpdate],
    node: SigningKey, closedWith: [Hash256]? = nil
  ) -> AggregateRequest {
    let close = RoundClose(
      round: round, updates: closedWith ?? updates.map { Hash256.of($0.envelope) })
    return AggregateRequest(
      network: network, round: round, baseModel: baseModel, aggregation: aggregation,
      updates: updates,
      closed: .lone(close.transactionBytes, network: Hash256(bytes: network)!, signedBy: [node]))
  }
}
