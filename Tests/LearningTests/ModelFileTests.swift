import Crypto
import Foundation
import Learning
import XCTest

/// The model file format: round trip, hash, and a clear error for every kind of damage.
final class ModelFileTests: XCTestCase {
  var directory: URL!

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-model-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

  func assertError(
    _ bytes: [UInt8], expecting: Architecture? = nil, contains text: String,
    file: StaticString = #filePath, line: UInt = #line,
    _ match: (ModelFileError) -> Bool
  ) throws {
    let target = path("damaged.flm")
    try Data(bytes).write(to: URL(fileURLWithPath: target))
    XCTAssertThrowsError(
      try ModelFile.read(from: target, expecting: expecting), file: file, line: line
    ) {
      guard let error = $0 as? ModelFileError else {
        return XCTFail("\($0)", file: file, line: line)
      }
      XCTAssertTrue(match(error), "\(error)", file: file, line: line)
      XCTAssertTrue(
        error.description.contains(target), "names the file: \(error)", file: file, line: line)
      XCTAssertTrue(error.description.contains(text), "\(error)", file: file, line: line)
    }
  }

  func testRoundTripKeepsParametersAndHash() throws {
    let model = try Model(architecture: Zoo.lenet5(), seed: 7)
    let hash = try ModelFile.write(model, to: path("m.flm"))
    XCTAssertEqual(hash, model.hash)
    XCTAssertEqual(hash.count, 64)
    let loaded = try ModelFile.read(from: path("m.flm"), expecting: Zoo.lenet5())
    XCTAssertEqual(loaded, model)
    XCTAssertEqual(loaded.hash, hash)
    let bytes = try Data(contentsOf: URL(fileURLWithPath: path("m.flm")))
    XCTAssertEqual(Array(bytes.prefix(8)), Array("FLMODEL".utf8) + [0])
  }

  func testHashDependsOnEveryParameter() throws {
    var model = try Model(architecture: Zoo.mlp(), seed: 1)
    let before = model.hash
    model.parameters[model.parameters.count - 1] += 1e-6
    XCTAssertNotEqual(model.hash, before)
  }

  func testDamagedFilesFailClearly() throws {
    let model = try Model(architecture: Zoo.lenet5(), seed: 1)
    let good = ModelFile.encode(model)

    var flipped = good
    flipped[good.count - 100] ^= 0x01
    try assertError(flipped, contains: "hash mismatch") {
      if case .hashMismatch = $0 { true } else { false }
    }

    try assertError(Array(good.dropLast(10)), contains: "truncated") {
      if case .truncated = $0 { true } else { false }
    }
    try assertError(Array(good.prefix(12)), contains: "truncated") {
      if case .truncated = $0 { true } else { false }
    }

    var magic = good
    magic[0] = UInt8(ascii: "X")
    try assertError(magic, contains: "bad magic") {
      if case .badMagic = $0 { true } else { false }
    }

    var version = good
    version[8] = 9
    try assertError(version, contains: "version 9") {
      if case .unsupportedVersion = $0 { true } else { false }
    }

    try assertError(good, expecting: Zoo.mlp(), contains: "expected mlp") {
      if case .architectureMismatch = $0 { true } else { false }
    }
  }

  func testHeaderShapesMustMatchArchitecture() throws {
    // Rewrite the header so it declares a wrong shape, then fix up the checksum so only the
    // shape check can catch it.
    let bytes = try rewritingHeader(of: Model(architecture: Zoo.mlp(), seed: 1)) {
      $0.replacingOccurrences(of: "[200,784]", with: "[784,200]")
    }
    try assertError(bytes, contains: "layers.1.weight") {
      if case .shapeMismatch = $0 { true } else { false }
    }
  }

  func testNonCanonicalHeaderIsRejected() throws {
    // A header that parses but is not the canonical encoding would give the file a second
    // hash; the reader refuses it.
    let bytes = try rewritingHeader(of: Model(architecture: Zoo.mlp(), seed: 1)) {
      $0.replacingOccurrences(of: "\"dtype\":", with: "\"dtype\": ")
    }
    try assertError(bytes, contains: "canonical") {
      if case .badHeader = $0 { true } else { false }
    }
  }

  /// The model's file bytes with its header text changed by `edit` and the length and checksum
  /// fixed up, so that only the reader's own header checks can catch the change.
  func rewritingHeader(of model: Model, _ edit: (String) -> String) throws -> [UInt8] {
    var bytes = ModelFile.encode(model)
    let headerLength = Int(bytes[12]) | Int(bytes[13]) << 8 | Int(bytes[14]) << 16
    let header = String(decoding: bytes[16..<(16 + headerLength)], as: UTF8.self)
    let newHeader = Array(edit(header).utf8)
    XCTAssertNotEqual(newHeader, Array(header.utf8), "the edit changes the header")
    bytes.replaceSubrange(16..<(16 + headerLength), with: newHeader)
    withUnsafeBytes(of: UInt32(newHeader.count).littleEndian) {
      bytes.replaceSubrange(12..<16, with: $0)
    }
    let body = Array(bytes.dropLast(32))
    return body + sha256(body)
  }

  func testMissingFile() {
    XCTAssertThrowsError(try ModelFile.read(from: path("absent.flm"))) {
      XCTAssertEqual($0 as? ModelFileError, .notFound(path: path("absent.flm")))
    }
  }

  func testWrongParameterCountIsRejected() {
    XCTAssertThrowsError(try Model(architecture: Zoo.mlp(), parameters: [1, 2, 3])) {
      XCTAssertTrue("\($0)".contains("199210"), "\($0)")
    }
  }
}

func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }
