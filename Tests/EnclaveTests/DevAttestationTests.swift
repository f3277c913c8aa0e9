import Attestation
import Enclave
import EnclaveMessages
import Foundation
import XCTest

/// DevAttestation against a fake `/dev/attestation` (this machine has no SGX): the files
/// gramine-sgx provides, with a real DCAP quote from the AttestationTests fixtures as `quote`.
final class DevAttestationTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("fedledger-dev-attestation-\(UUID().uuidString)")
    try FileManager.default.createDirectory(
      at: directory.appendingPathComponent("keys"), withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  /// Phala's sample quote: its REPORTDATA is "Hello, world!" then zeros (Fixtures/README.md).
  func fixtureQuote() throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .appendingPathComponent("AttestationTests/Fixtures/phala-dcap-qvl/sgx_quote")
    return Array(try Data(contentsOf: url))
  }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func put(_ bytes: [UInt8], _ name: String) throws {
    try Data(bytes).write(to: directory.appendingPathComponent(name))
  }

  func contents(_ name: String) throws -> [UInt8] {
    Array(try Data(contentsOf: directory.appendingPathComponent(name)))
  }

  /// The directory as gramine-sgx fills it for a manifest with `sgx.remote_attestation = "dcap"`
  /// (Gramine makes the quote when `quote` is opened; here it is already there).
  func fake(type: String = "dcap", quote: [UInt8]? = nil) throws -> DevAttestation {
    try put(Array(type.utf8), "attestation_type")
    try put([], "user_report_data")
    try put([UInt8](repeating: 0, count: 512), "my_target_info")
    try put(try quote ?? fixtureQuote(), "quote")
    try put([UInt8](repeating: 0x5a, count: 16), "keys/_sgx_mrenclave")
    return DevAttestation(directory: directory.path)
  }

  func assertRefused<T>(
    _ call: @autoclosure () throws -> T, _ expected: DevAttestationError,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsError(try call(), file: file, line: line) {
      XCTAssertEqual($0 as? DevAttestationError, expected, file: file, line: line)
    }
  }

  func testTheAttestationTypeIsReadAsGramineReportsIt() throws {
    let dev = try fake()
    XCTAssertEqual(try dev.attestationType(), "dcap")
    try put(Array("epid\n".utf8), "attestation_type")
    XCTAssertEqual(try dev.attestationType(), "epid")
    XCTAssertEqual(DevAttestation().directory, "/dev/attestation")
  }

  func testTheQuoteIsForExactlyTheReportDataWritten() throws {
    let dev = try fake()
    let real = try fixtureQuote()
    let reportData = try SGXQuote(real).report.reportData
    XCTAssertEqual(Array(reportData.prefix(13)), Array("Hello, world!".utf8))
    XCTAssertEqual(try dev.quote(reportData: reportData), real)
    XCTAssertEqual(try contents("user_report_data"), reportData)
  }

  func testReportDataOfAnyOtherSizeIsRefusedBeforeAnythingIsWritten() throws {
    let dev = try fake()
    for count in [0, 32, 63, 65] {
      assertRefused(
        try dev.quote(reportData: [UInt8](repeating: 1, count: count)),
        .reportDataSize(path: path("user_report_data"), count: count))
    }
    XCTAssertEqual(try contents("user_report_data"), [])
    let error = DevAttestationError.reportDataSize(path: path("user_report_data"), count: 63)
    XCTAssert("\(error)".contains("user_report_data takes exactly 64 bytes"), "\(error)")
  }

  func testAQuoteForOtherReportDataIsRefusedAsStale() throws {
    let dev = try fake()
    let mine = [UInt8](repeating: 7, count: 64)
    assertRefused(try dev.quote(reportData: mine), .staleQuote(path: path("quote")))
    // It was written first, as Gramine needs; the quote that came back does not carry it.
    XCTAssertEqual(try contents("user_report_data"), mine)
    XCTAssert("\(DevAttestationError.staleQuote(path: path("quote")))".contains("stale or foreign"))
  }

  func testAnythingButDCAPIsRefusedSayingWhy() throws {
    for type in ["none", "epid"] {
      let dev = try fake(type: type)
      assertRefused(
        try dev.quote(reportData: [UInt8](repeating: 0, count: 64)),
        .notDCAP(path: path("attestation_type"), type: type))
      XCTAssertEqual(try contents("user_report_data"), [], "nothing is written for \(type)")
    }
    let why = "\(DevAttestationError.notDCAP(path: path("attestation_type"), type: "none"))"
    XCTAssert(why.contains("attestation_type says \"none\""), why)
    XCTAssert(why.contains("sgx.remote_attestation = \"dcap\""), why)
  }

  func testAQuoteThatDoesNotParseIsRefused() throws {
    var truncated = try fixtureQuote()
    truncated.removeLast(10)
    let dev = try fake(quote: truncated)
    XCTAssertThrowsError(try dev.quote(reportData: [UInt8](repeating: 0, count: 64))) {
      guard case .malformedQuote(let at, _) = $0 as? DevAttestationError else {
        return XCTFail("\($0)")
      }
      XCTAssertEqual(at, self.path("quote"))
    }
  }

  func testAMissingDirectoryOrFileIsNamed() throws {
    let gone = directory.appendingPathComponent("absent").path
    let dev = DevAttestation(directory: gone)
    assertRefused(try dev.attestationType(), .missingDirectory(gone))
    assertRefused(
      try dev.quote(reportData: [UInt8](repeating: 0, count: 64)), .missingDirectory(gone))
    assertRefused(try dev.sealingKey(), .missingDirectory(gone))
    XCTAssert("\(DevAttestationError.missingDirectory(gone))".contains(gone))

    // gramine-sgx with sgx.remote_attestation = "none" has no quote file.
    let here = try fake()
    try FileManager.default.removeItem(atPath: path("quote"))
    assertRefused(
      try here.quote(reportData: [UInt8](repeating: 0, count: 64)), .missing(path: path("quote")))
  }

  func testTheSealingKeyIsSixteenBytesOrRefused() throws {
    let dev = try fake()
    XCTAssertEqual(try dev.sealingKey(), [UInt8](repeating: 0x5a, count: 16))
    let keyPath = path("keys/_sgx_mrenclave")
    for count in [0, 15, 32] {
      try put([UInt8](repeating: 1, count: count), "keys/_sgx_mrenclave")
      assertRefused(
        try dev.sealingKey(), .wrongSize(path: keyPath, expected: 16, actual: count))
    }
    XCTAssert(
      "\(DevAttestationError.wrongSize(path: keyPath, expected: 16, actual: 32))"
        .contains("_sgx_mrenclave holds 32 bytes, not 16"))
    try FileManager.default.removeItem(atPath: keyPath)
    assertRefused(try dev.sealingKey(), .missing(path: keyPath))
  }
}
