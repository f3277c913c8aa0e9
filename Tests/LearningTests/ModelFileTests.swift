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

  // MARK: Crafted files: every size in a file is the attacker's, and the trailing hash is
  // recomputed (as `rewritingHeader` does), so only the reader's bounds can stop them.

  /// `assertError`, and the refusal must come quickly (no huge allocation or long loop first).
  func assertRefusedQuickly(
    _ bytes: [UInt8], contains text: String, file: StaticString = #filePath, line: UInt = #line,
    _ match: (ModelFileError) -> Bool
  ) throws {
    let start = Date()
    try assertError(bytes, contains: text, file: file, line: line, match)
    XCTAssertLessThan(
      Date().timeIntervalSince(start), 5, "refused, but slowly", file: file, line: line)
  }

  func testAHugeDenseLayerIsRefusedNotTrapped() throws {
    // 2^40 units: its output alone is past every bound, and its weights would overflow the
    // parameter count's arithmetic in a reader that multiplied blindly.
    let bytes = try rewritingHeader(of: Model(architecture: Zoo.mlp(), seed: 1)) {
      $0.replacingOccurrences(of: "{\"units\":200}", with: "{\"units\":1099511627776}")
    }
    try assertRefusedQuickly(bytes, contains: "dense(1099511627776)") {
      if case .invalidArchitecture = $0 { true } else { false }
    }
  }

  func testAHugeInputIsRefusedNotTrapped() throws {
    // A dense layer fed 2^40 inputs (through flatten) needs an input of 2^40 values; and one
    // whose size wraps to 0 in 64 bits (2^20 * 2^20 * 2^20 * 16 = 2^64) must not slip through.
    for shape in ["[1048576,1048576,1]", "[1048576,1048576,1048576,16]"] {
      let bytes = try rewritingHeader(of: Model(architecture: Zoo.mlp(), seed: 1)) {
        $0.replacingOccurrences(of: "\"inputShape\":[28,28,1]", with: "\"inputShape\":\(shape)")
      }
      try assertRefusedQuickly(bytes, contains: "is not a valid sample shape") {
        if case .invalidArchitecture = $0 { true } else { false }
      }
    }
  }

  func testAHugeConvolutionIsRefusedNotTrapped() throws {
    // 65536 filters of 1024 x 1024 with padding 1024: 2^36 weights and an output of
    // 1053 x 1053 x 65536 values.
    let bytes = try rewritingHeader(of: Model(architecture: Zoo.lenet5(), seed: 1)) {
      $0.replacingOccurrences(
        of: "\"filters\":6,\"kernel\":5,\"padding\":2",
        with: "\"filters\":65536,\"kernel\":1024,\"padding\":1024")
    }
    try assertRefusedQuickly(bytes, contains: "conv2d(65536, 1024x1024") {
      if case .invalidArchitecture = $0 { true } else { false }
    }
  }

  func testActivationsPastTheBoundAreRefusedBeforeANetworkIsBuilt() throws {
    // A cheap layer (a 1 x 1 convolution with 65536 filters: 131072 parameters) whose outputs,
    // with the ReLU after it, would make every network for it allocate gigabytes per sample.
    let bytes = try rewritingHeader(of: Model(architecture: Zoo.lenet5(), seed: 1)) {
      $0.replacingOccurrences(
        of: "\"filters\":6,\"kernel\":5,\"padding\":2",
        with: "\"filters\":65536,\"kernel\":1,\"padding\":0")
    }
    try assertRefusedQuickly(bytes, contains: "activations of one sample") {
      if case .invalidArchitecture = $0 { true } else { false }
    }
  }

  func testAnArchitectureNeedingOtherParametersThanTheFileHoldsIsRefused() throws {
    // Wider layers than the parameters in the file: refused before any network is built.
    let bytes = try rewritingHeader(of: Model(architecture: Zoo.mlp(), seed: 1)) {
      $0.replacingOccurrences(of: "{\"units\":200}", with: "{\"units\":201}")
    }
    try assertRefusedQuickly(bytes, contains: "but 199210 were given") {
      if case .parameterCountMismatch = $0 { true } else { false }
    }
  }

  func testAParameterCountNearIntMaxIsRefusedNotTrapped() throws {
    // 2^61 parameters are 2^63 bytes: the multiplication by 4 overflows; Int.max too; and a
    // negative count.
    for count in [Int.max / 4 + 1, Int.max, -1] {
      let bytes = try rewritingHeader(of: Model(architecture: Zoo.mlp(), seed: 1)) {
        $0.replacingOccurrences(
          of: "\"parameterCount\":199210", with: "\"parameterCount\":\(count)")
      }
      // A JSON decoder may refuse Int.max itself (a bad header); either way, no trap.
      try assertRefusedQuickly(bytes, contains: "model file") {
        switch $0 {
        case .truncated(_, let reason): reason.contains("declares \(count) parameters")
        case .badHeader: count == Int.max
        default: false
        }
      }
    }
  }

  func testAHeaderLengthNearUInt32MaxIsRefusedNotTrapped() throws {
    let good = ModelFile.encode(try Model(architecture: Zoo.mlp(), seed: 1))
    func declaring(_ length: UInt32) -> [UInt8] {
      var bytes = good
      withUnsafeBytes(of: length.littleEndian) { bytes.replaceSubrange(12..<16, with: $0) }
      let body = Array(bytes.dropLast(32))
      return body + sha256(body)
    }
    for length in [UInt32.max, UInt32.max - 47, ModelFile.maximumHeaderLength + 1] {
      try assertRefusedQuickly(declaring(length), contains: "more than the limit") {
        if case .badHeader = $0 { true } else { false }
      }
    }
    // Under the limit but longer than the file.
    try assertRefusedQuickly(declaring(ModelFile.maximumHeaderLength), contains: "do not fit") {
      if case .truncated = $0 { true } else { false }
    }
  }

  func testArchitecturesTooLargeToBuildThrowInsteadOfTrapping() {
    // The same bounds hold for architectures that do not come from a file.
    let wrapping = Architecture(
      name: "wrap", inputShape: [1 << 20, 1 << 20, 1 << 20, 16], layers: [.flatten])
    XCTAssertThrowsError(try Model(architecture: wrapping, seed: 1)) {
      XCTAssertTrue("\($0)".contains("not a valid sample shape"), "\($0)")
    }
    let wide = Architecture(
      name: "wide", inputShape: [784], layers: [.dense(units: 1 << 40), .dense(units: 10)])
    XCTAssertThrowsError(try wide.parameterCount()) {
      XCTAssertTrue("\($0)".contains("dense(1099511627776)"), "\($0)")
    }
    let deep = Architecture(
      name: "deep", inputShape: [784], layers: [.dense(units: 1 << 15), .dense(units: 1 << 15)])
    XCTAssertThrowsError(try Model(architecture: deep, seed: 1)) {
      XCTAssertTrue("\($0)".contains("parameters"), "\($0)")
    }
    XCTAssertEqual(try Zoo.lenet5().parameterCount(), 61706)
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
