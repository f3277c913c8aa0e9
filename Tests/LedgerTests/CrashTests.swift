import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// kill -9 in the middle of appending, then reopen.
final class CrashTests: XCTestCase {
  static let net = TestNetwork(nodes: 1, threshold: 1, clusters: 0)
  static let childDirectory = "FEDLEDGER_APPENDER_DIRECTORY"

  /// Appends blocks of enrolments, each with a 64 KB blob, and prints each height once it is
  /// stored. In the parent's child process it runs until killed; on its own, three blocks.
  func testAppenderStoresBlocksAndBlobs() throws {
    let env = ProcessInfo.processInfo.environment
    let dir = env[Self.childDirectory] ?? temporaryDirectory()
    let endless = env[Self.childDirectory] != nil
    let net = Self.net
    let orderer = try net.open(dir)
    try orderer.cut()
    var block = (orderer.replicas[0].height ?? 0) + 1
    var rng = SystemRandomNumberGenerator()
    while endless || block <= 3 {
      for i in 0..<200 {
        let key = SigningKey()
        orderer.submit(
          .enrolment(
            ClusterEnrolment(
              network: net.network, cluster: "b\(block)-\(i)", key: key.publicKey,
              member: "member-0", memberKey: net.members[0])))
      }
      try orderer.replicas[0].blobs.put(
        (0..<65_536).map { _ in UInt8.random(in: 0...255, using: &rng) })
      try orderer.cut()
      FileHandle.standardOutput.write(Data("stored \(orderer.replicas[0].height!)\n".utf8))
      block += 1
    }
    XCTAssertEqual(orderer.replicas[0].height, 3)
  }

  func testKillDuringAppendLosesNothingCommitted() throws {
    let dir = temporaryDirectory()
    for attempt in 0..<3 {
      let child = Process()
      child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
      child.arguments = Self.testArguments("CrashTests/testAppenderStoresBlocksAndBlobs")
      child.environment = ProcessInfo.processInfo.environment.merging([Self.childDirectory: dir]) {
        $1
      }
      let pipe = Pipe()
      child.standardOutput = pipe
      child.standardError = FileHandle.nullDevice
      try child.run()
      // Read stored heights until a random number more have been reported, then kill -9.
      let target = 3 + attempt * 2 + Int.random(in: 0...3)
      var reported: UInt64 = 0
      var buffer = ""
      let reader = pipe.fileHandleForReading
      var seen = 0
      while seen < target {
        let data = reader.availableData
        if data.isEmpty { break }
        buffer += String(decoding: data, as: UTF8.self)
        while let nl = buffer.firstIndex(of: "\n") {
          let line = buffer[..<nl]
          buffer = String(buffer[buffer.index(after: nl)...])
          if line.hasPrefix("stored "), let h = UInt64(line.dropFirst(7)) {
            reported = h
            seen += 1
          }
        }
      }
      // Land the kill at a random point inside the next block's work.
      usleep(UInt32.random(in: 0...30_000))
      kill(child.processIdentifier, SIGKILL)
      child.waitUntilExit()
      XCTAssertEqual(child.terminationReason, .uncaughtSignal, "attempt \(attempt)")
      XCTAssertGreaterThan(reported, 0, "the child reported no block (attempt \(attempt))")

      // Reopen: every reported block is there, the chain checks, and appending goes on.
      let orderer = try Self.net.open(dir)
      let height = try XCTUnwrap(orderer.replicas[0].height)
      XCTAssertGreaterThanOrEqual(height, reported, "attempt \(attempt)")
      XCTAssertLessThanOrEqual(height, reported + 1, "attempt \(attempt)")
      let report = try LedgerAudit.run(directory: dir + "/node-0", genesis: Self.net.genesis)
      XCTAssertEqual(report.height, height)
      XCTAssertEqual(report.transactions, 1 + Int(height) * 200)
      let tmp = try FileManager.default.contentsOfDirectory(atPath: dir + "/node-0/blobs/tmp")
      XCTAssertEqual(tmp, [], "temporary blob files are swept on reopen")
    }
  }

  /// Arguments that make this test binary run one XCTest test.
  static func testArguments(_ test: String) -> [String] {
    ["LedgerTests.\(test)"]
  }
}
