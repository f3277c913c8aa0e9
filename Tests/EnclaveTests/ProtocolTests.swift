import Aggregation
import Attestation
import Crypto
import Enclave
import EnclaveMessages
import Foundation
import Ledger
import Protection
import XCTest

/// The request and response messages and their frames.
final class ProtocolTests: XCTestCase {
  func testTheServiceAnswersEveryRequestAndRefusesWhatItShould() throws {
    let measurement = Array(SHA256.hash(data: [1]))
    let platform = SimulatedPlatform()
    let service = EnclaveService(measurement: measurement, platform: platform)
    func ask(_ r: EnclaveRequest) throws -> EnclaveResponse {
      let bytes = r.canonicalBytes
      XCTAssertEqual(try EnclaveRequest(canonical: bytes), r)
      return try EnclaveResponse(canonical: service.handle(bytes))
    }
    XCTAssertEqual(try ask(.challenge), .failure("request refused: challenge before start"))
    let policy = EnclavePolicy(trustedPlatforms: [platform.publicKey], measurements: [measurement])
    guard case .info(let info) = try ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.backend, .simulated)
    XCTAssertNil(info.groupKey)
    guard case .info(let withKey) = try ask(.createGroupKey) else { return XCTFail() }
    XCTAssertNotNil(withKey.groupKey)
    guard case .evidence(let e) = try ask(.evidence(nonce: Array(repeating: 3, count: 32))) else {
      return XCTFail()
    }
    XCTAssertNoThrow(try e.verify(nonce: Array(repeating: 3, count: 32), policy: policy))
    XCTAssertEqual(e.groupKey, withKey.groupKey)
    guard case .sealed(let sealed) = try ask(.seal) else { return XCTFail() }
    // A second start is refused; a new service unseals with the same keys, but not under a
    // looser policy than the sealed one.
    guard case .failure = try ask(.start(sealed: nil, policy: policy)) else { return XCTFail() }
    let again = EnclaveService(measurement: measurement, platform: platform)
    var loose = policy
    loose.trustedPlatforms.insert(SimulatedPlatform().publicKey)
    let refused = try EnclaveResponse(
      canonical: again.handle(EnclaveRequest.start(sealed: sealed, policy: loose).canonicalBytes))
    guard case .failure(let why) = refused else { return XCTFail("\(refused)") }
    XCTAssert(why.contains("sealed under another policy"), why)
    guard
      case .info(let back) = try EnclaveResponse(
        canonical: again.handle(
          EnclaveRequest.start(sealed: sealed, policy: policy).canonicalBytes))
    else { return XCTFail() }
    XCTAssertEqual(back.signingKey, info.signingKey)
    XCTAssertEqual(back.groupKey, withKey.groupKey)
    // Garbage, an unknown kind, an unknown version: failures, not crashes.
    let v = EnclaveProtocol.version
    for bad: [UInt8] in [[], [v], [v, 99], [v + 1, 3], [v - 1, 3], [v, 4, 0]] {
      guard case .failure(let why) = try EnclaveResponse(canonical: service.handle(bad)) else {
        return XCTFail("\(bad)")
      }
      XCTAssert(why.hasPrefix("malformed request"), why)
    }
  }

  func testFramesCrossAPipeAndOversizedOnesAreRefused() throws {
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(pipe(&fds), 0)
    defer {
      close(fds[0])
      close(fds[1])
    }
    try Frames.write([1, 2, 3], to: fds[1])
    try Frames.write([], to: fds[1])
    XCTAssertEqual(try Frames.read(from: fds[0]), [1, 2, 3])
    XCTAssertEqual(try Frames.read(from: fds[0]), [])
    // A length above the limit is refused before anything is allocated.
    var header: [UInt8] = [0x7f, 0xff, 0xff, 0xff]
    _ = write(fds[1], &header, 4)
    XCTAssertThrowsError(try Frames.read(from: fds[0]))
  }

  func testTheEnclaveProgramAnswersOverItsStandardStreams() throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-enclave-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let key = dir.appendingPathComponent("platform.key").path
    let program = try EnclaveProgram(["--platform", key])
    // Any request before start is refused; once it answers, its platform file exists.
    XCTAssertEqual(
      try program.ask(.challenge), .failure("request refused: challenge before start"))
    let measurement = try Enclave.measure(executable: try EnclaveProgram.path())
    let platform = try SimulatedPlatform(
      secret: Array(try Data(contentsOf: URL(fileURLWithPath: key))))
    let policy = EnclavePolicy(trustedPlatforms: [platform.publicKey], measurements: [measurement])
    guard case .info(let info) = try program.ask(.start(sealed: nil, policy: policy)) else {
      return XCTFail()
    }
    XCTAssertEqual(info.measurement, measurement)
    let nonce = Array(repeating: UInt8(9), count: 32)
    guard case .evidence(let e) = try program.ask(.evidence(nonce: nonce)) else {
      return XCTFail()
    }
    XCTAssertNoThrow(try e.verify(nonce: nonce, policy: policy))
    let (status, said) = try program.finish()
    XCTAssertEqual(status, 0)
    XCTAssert(said.contains("SIMULATED ENCLAVE, NO HARDWARE PROTECTION"), said)
    let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
    XCTAssertEqual(mode, 0o600)
    // --attestation belongs to the sgx backend: said, not ignored.
    let (code, complaint) = try EnclaveProgram(["--platform", key, "--attestation", dir.path])
      .finish()
    XCTAssertEqual(code, 2)
    XCTAssert(complaint.contains("--attestation is for --backend sgx only"), complaint)
  }
}
