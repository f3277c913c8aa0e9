import CZlib
import Foundation
import Learning
import XCTest

/// Tests of the dataset readers on small fixture files written per test, gzipped and raw.
final class DatasetTests: XCTestCase {
  private var directory = URL(fileURLWithPath: "/nonexistent")

  override func setUpWithError() throws {
    directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("DatasetTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  }

  override func tearDownWithError() throws {
    try? FileManager.default.removeItem(at: directory)
  }

  // MARK: Fixtures

  /// Writes `bytes` to `name` in the test directory, gzipped if `gzip`, and returns the path.
  @discardableResult
  private func write(_ bytes: [UInt8], to name: String, gzip: Bool = false) throws -> String {
    let url = directory.appendingPathComponent(name)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    if gzip {
      try Data(gzipped(bytes)).write(to: url)
    } else {
      try Data(bytes).write(to: url)
    }
    return url.path
  }

  @discardableResult
  private func write(_ text: String, to name: String, gzip: Bool = false) throws -> String {
    try write(Array(text.utf8), to: name, gzip: gzip)
  }

  /// `bytes` compressed in gzip format by zlib.
  private func gzipped(_ bytes: [UInt8]) throws -> [UInt8] {
    let path = directory.appendingPathComponent("scratch-\(UUID().uuidString).gz").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    guard let file = gzopen(path, "wb") else { throw CocoaError(.fileWriteUnknown) }
    let written = bytes.withUnsafeBytes { gzwrite(file, $0.baseAddress, UInt32($0.count)) }
    guard gzclose(file) == Z_OK, written == Int32(bytes.count) else {
      throw CocoaError(.fileWriteUnknown)
    }
    return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
  }

  private func bigEndian(_ words: [UInt32]) -> [UInt8] {
    words.flatMap { word in [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: word >> $0) } }
  }

  private func idxImages(count: Int, rows: Int, cols: Int, pixels: [UInt8]) -> [UInt8] {
    bigEndian([0x803, UInt32(count), UInt32(rows), UInt32(cols)]) + pixels
  }

  private func idxLabels(_ labels: [UInt8]) -> [UInt8] {
    bigEndian([0x801, UInt32(labels.count)]) + labels
  }

  private let pixels: [UInt8] = (0..<18).map { UInt8($0 * 14) }
  private let labels: [UInt8] = [0, 9, 4]

  /// Writes a three-image (2 × 3 pixels) MNIST-format train split.
  private func writeIDXTrain(gzip: Bool = false, dotted: Bool = false) throws {
    let suffix = gzip ? ".gz" : ""
    let separator = dotted ? "." : "-"
    try write(
      idxImages(count: 3, rows: 2, cols: 3, pixels: pixels),
      to: "train-images\(separator)idx3-ubyte\(suffix)", gzip: gzip)
    try write(idxLabels(labels), to: "train-labels\(separator)idx1-ubyte\(suffix)", gzip: gzip)
  }

  /// Asserts that `body` throws a `DatasetError` accepted by `matches` whose description
  /// names `fileName`.
  private func assertDatasetError<T>(
    _ body: @autoclosure () throws -> T, mentions fileName: String,
    file: StaticString = #filePath, line: UInt = #line,
    _ matches: (DatasetError) -> Bool
  ) {
    XCTAssertThrowsError(try body(), file: file, line: line) { error in
      guard let error = error as? DatasetError else {
        return XCTFail("not a DatasetError: \(error)", file: file, line: line)
      }
      XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
      XCTAssertTrue(
        error.description.contains(fileName),
        "'\(error.description)' does not mention \(fileName)", file: file, line: line)
    }
  }

  private func bytes(of dataset: Dataset) -> [UInt8] {
    if case .bytes(let bytes) = dataset.storage { return bytes }
    XCTFail("expected byte storage")
    return []
  }

  private func floats(of dataset: Dataset) -> [Float] {
    if case .floats(let floats) = dataset.storage { return floats }
    XCTFail("expected float storage")
    return []
  }

  // MARK: IDX

  func testReadsRawIDX() throws {
    try writeIDXTrain()
    let images = try IDX.readImages(
      path: directory.appendingPathComponent("train-images-idx3-ubyte").path)
    XCTAssertEqual(images.count, 3)
    XCTAssertEqual(images.rows, 2)
    XCTAssertEqual(images.cols, 3)
    XCTAssertEqual(images.pixels, pixels)
    XCTAssertEqual(
      try IDX.readLabels(path: directory.appendingPathComponent("train-labels-idx1-ubyte").path),
      labels)

    let dataset = try IDX.loadMNISTFormat(directory: directory.path, split: .train, name: "tiny")
    XCTAssertEqual(dataset.name, "tiny/train")
    XCTAssertEqual(dataset.sampleShape, [2, 3, 1])
    XCTAssertEqual(dataset.count, 3)
    XCTAssertEqual(dataset.labels, [0, 9, 4])
    XCTAssertEqual(bytes(of: dataset), pixels)
    // Normalisation computed from the pixels: 0, 14, ..., 238 (mean 119/255).
    XCTAssertEqual(dataset.mean, 119 / 255, accuracy: 1e-6)
    XCTAssertGreaterThan(dataset.std, 0)
  }

  func testReadsGzippedAndDottedIDX() throws {
    try writeIDXTrain(gzip: true, dotted: true)
    let dataset = try IDX.loadMNISTFormat(
      directory: directory.path, split: .train, name: "tiny", classNames: ["a"], mean: 0.5,
      std: 0.25)
    XCTAssertEqual(dataset.labels, [0, 9, 4])
    XCTAssertEqual(bytes(of: dataset), pixels)
    XCTAssertEqual(dataset.classNames ?? [], ["a"])
    XCTAssertEqual(dataset.mean, 0.5)
    XCTAssertEqual(dataset.std, 0.25)
  }

  func testIDXMissingFile() throws {
    try write(idxImages(count: 3, rows: 2, cols: 3, pixels: pixels), to: "t10k-images-idx3-ubyte")
    assertDatasetError(
      try IDX.loadMNISTFormat(directory: directory.path, split: .test, name: "x"),
      mentions: "t10k-labels-idx1-ubyte.gz"
    ) {
      if case .fileNotFound = $0 { return true } else { return false }
    }
    let missing = directory.appendingPathComponent("nothing-here").path
    assertDatasetError(try IDX.readImages(path: missing), mentions: "nothing-here") {
      $0 == .fileNotFound(path: missing)
    }
    assertDatasetError(try IDX.readLabels(path: directory.path), mentions: directory.path) {
      if case .unreadable = $0 { return true } else { return false }
    }
    assertDatasetError(
      try IDX.loadMNISTFormat(directory: missing, split: .train, name: "x"),
      mentions: "nothing-here"
    ) { $0 == .fileNotFound(path: missing) }
  }

  func testIDXWrongMagic() throws {
    let path = try write(idxLabels(labels), to: "labels-as-images")
    assertDatasetError(try IDX.readImages(path: path), mentions: "labels-as-images") {
      $0 == .badMagic(path: path, found: 0x801, expected: 0x803)
    }
    let gzPath = try write(
      idxImages(count: 3, rows: 2, cols: 3, pixels: pixels), to: "images-as-labels.gz",
      gzip: true)
    assertDatasetError(try IDX.readLabels(path: gzPath), mentions: "images-as-labels.gz") {
      $0 == .badMagic(path: gzPath, found: 0x803, expected: 0x801)
    }
  }

  func testIDXTruncatedHeader() throws {
    let full = idxImages(count: 3, rows: 2, cols: 3, pixels: pixels)
    let path = try write(Array(full[0..<10]), to: "short-header")
    assertDatasetError(try IDX.readImages(path: path), mentions: "short-header") {
      $0 == .truncated(path: path, expectedBytes: 16, actualBytes: 10)
    }
    let labelsPath = try write(Array(idxLabels(labels)[0..<6]), to: "short-labels.gz", gzip: true)
    assertDatasetError(try IDX.readLabels(path: labelsPath), mentions: "short-labels.gz") {
      $0 == .truncated(path: labelsPath, expectedBytes: 8, actualBytes: 6)
    }
    let empty = try write([UInt8](), to: "empty")
    assertDatasetError(try IDX.readImages(path: empty), mentions: "empty") {
      $0 == .truncated(path: empty, expectedBytes: 16, actualBytes: 0)
    }
  }

  func testIDXTruncatedBody() throws {
    let full = idxImages(count: 3, rows: 2, cols: 3, pixels: pixels)
    let path = try write(Array(full[0..<26]), to: "short-body")
    assertDatasetError(try IDX.readImages(path: path), mentions: "short-body") {
      $0 == .truncated(path: path, expectedBytes: 34, actualBytes: 26)
    }
    let gzPath = try write(Array(full[0..<26]), to: "short-body.gz", gzip: true)
    assertDatasetError(try IDX.readImages(path: gzPath), mentions: "short-body.gz") {
      $0 == .truncated(path: gzPath, expectedBytes: 34, actualBytes: 26)
    }
    // A header promising far more than any file holds must fail cleanly, not allocate it all.
    let huge = try write(
      bigEndian([0x803, 0xFFFF_FFFF, 0xFFFF, 0xFFFF]) + pixels, to: "huge-header")
    assertDatasetError(try IDX.readImages(path: huge), mentions: "huge-header") {
      switch $0 {
      case .truncated, .malformed: return true
      default: return false
      }
    }
  }

  func testIDXCompressedStreamCutShort() throws {
    var state: UInt64 = 12345
    let random = (0..<5000).map { _ in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 56)
    }
    let compressed = try gzipped(idxImages(count: 5, rows: 20, cols: 50, pixels: random))
    let path = try write(Array(compressed[0..<(compressed.count / 2)]), to: "cut.gz")
    assertDatasetError(try IDX.readImages(path: path), mentions: "cut.gz") {
      if case .truncated(path, 5016, let actual) = $0 { return actual < 5016 } else { return false }
    }
  }

  func testIDXCountMismatch() throws {
    try write(idxImages(count: 3, rows: 2, cols: 3, pixels: pixels), to: "train-images-idx3-ubyte")
    try write(idxLabels([1, 2]), to: "train-labels-idx1-ubyte.gz", gzip: true)
    assertDatasetError(
      try IDX.loadMNISTFormat(directory: directory.path, split: .train, name: "x"),
      mentions: "train-labels-idx1-ubyte.gz"
    ) {
      if case .countMismatch(let images, 3, let labels, 2) = $0 {
        return images.hasSuffix("train-images-idx3-ubyte")
          && labels.hasSuffix("train-labels-idx1-ubyte.gz")
      }
      return false
    }
  }

  func testIDXLabelOutOfRange() throws {
    try write(idxImages(count: 3, rows: 2, cols: 3, pixels: pixels), to: "train-images-idx3-ubyte")
    let path = try write(idxLabels([1, 10, 2]), to: "train-labels-idx1-ubyte")
    assertDatasetError(
      try IDX.loadMNISTFormat(directory: directory.path, split: .train, name: "x"),
      mentions: "train-labels-idx1-ubyte"
    ) { $0 == .labelOutOfRange(path: path, index: 1, label: 10, classCount: 10) }
    // Accepted once there are enough classes.
    let dataset = try IDX.loadMNISTFormat(
      directory: directory.path, split: .train, name: "x", classCount: 11)
    XCTAssertEqual(dataset.labels, [1, 10, 2])
  }

  func testIDXCorruptGzip() throws {
    // A gzip header followed by bytes that are not a deflate stream.
    let garbage: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + Array(repeating: 0xFF, count: 64)
    let path = try write(garbage, to: "garbage.gz")
    assertDatasetError(try IDX.readImages(path: path), mentions: "garbage.gz") {
      if case .unreadable(_, let reason) = $0 { return !reason.isEmpty } else { return false }
    }
    // A stream whose data is intact but whose CRC trailer is wrong.
    var compressed = try gzipped(idxLabels(labels))
    compressed[compressed.count - 8] ^= 0xFF
    let crcPath = try write(compressed, to: "bad-crc.gz")
    assertDatasetError(try IDX.readLabels(path: crcPath), mentions: "bad-crc.gz") {
      if case .unreadable(_, let reason) = $0 { return reason.contains("check") }
      return false
    }
  }

  // MARK: CIFAR-10

  /// A CIFAR-10 record: planar channels with distinct values per channel and position.
  private func cifarRecord(label: UInt8, seed: Int) -> [UInt8] {
    [label]
      + (0..<3).flatMap { channel in
        (0..<1024).map { p in UInt8(truncatingIfNeeded: seed + channel * 85 + p * 7) }
      }
  }

  func testCIFARRoundTripTransposesChannels() throws {
    for batch in 1...5 {
      let records =
        cifarRecord(label: UInt8(batch), seed: batch)
        + cifarRecord(label: 0, seed: 100 + batch)
      try write(records, to: "cifar-10-batches-bin/data_batch_\(batch).bin.gz", gzip: true)
    }
    try write(
      cifarRecord(label: 9, seed: 7) + cifarRecord(label: 3, seed: 8),
      to: "cifar-10-batches-bin/test_batch.bin")

    let test = try CIFAR10.load(directory: directory.path, split: .test)
    XCTAssertEqual(test.sampleShape, [32, 32, 3])
    XCTAssertEqual(test.labels, [9, 3])
    XCTAssertEqual(test.classCount, 10)
    XCTAssertEqual(test.classNames?.first, "airplane")
    XCTAssertEqual(test.classNames?.count, 10)
    XCTAssertEqual(test.mean, 0.4734)
    XCTAssertEqual(test.std, 0.2516)
    let testPixels = bytes(of: test)
    XCTAssertEqual(testPixels.count, 2 * 3072)
    for (i, seed) in [(0, 7), (1, 8)] {
      let record = cifarRecord(label: 0, seed: seed)
      for p in [0, 1, 31, 32, 555, 1023] {
        for c in 0..<3 {
          XCTAssertEqual(testPixels[(i * 1024 + p) * 3 + c], record[1 + c * 1024 + p])
        }
      }
    }

    let train = try CIFAR10.load(
      directory: directory.appendingPathComponent("cifar-10-batches-bin").path, split: .train)
    XCTAssertEqual(train.count, 10)
    XCTAssertEqual(train.labels, [1, 0, 2, 0, 3, 0, 4, 0, 5, 0])
    let trainPixels = bytes(of: train)
    let last = cifarRecord(label: 0, seed: 105)
    XCTAssertEqual(trainPixels[9 * 3072 + 3 * 100 + 2], last[1 + 2048 + 100])
  }

  func testCIFARBadSize() throws {
    let path = try write(cifarRecord(label: 1, seed: 0) + [1, 2, 3, 4, 5], to: "test_batch.bin")
    assertDatasetError(
      try CIFAR10.load(directory: directory.path, split: .test), mentions: "test_batch.bin"
    ) { $0 == .truncated(path: path, expectedBytes: 6146, actualBytes: 3078) }
  }

  func testCIFARBadLabelAndMissingBatch() throws {
    let path = try write(
      cifarRecord(label: 1, seed: 0) + cifarRecord(label: 10, seed: 1), to: "test_batch.bin.gz",
      gzip: true)
    assertDatasetError(
      try CIFAR10.load(directory: directory.path, split: .test), mentions: "test_batch.bin.gz"
    ) { $0 == .labelOutOfRange(path: path, index: 1, label: 10, classCount: 10) }
    for batch in [1, 2, 4, 5] {
      try write(cifarRecord(label: 1, seed: 0), to: "data_batch_\(batch).bin")
    }
    assertDatasetError(
      try CIFAR10.load(directory: directory.path, split: .train), mentions: "data_batch_3.bin"
    ) {
      if case .fileNotFound = $0 { return true } else { return false }
    }
  }

  // MARK: CSV

  func testCSVWithHeaderAndIntegerLabels() throws {
    let path = try write("label,a,b\n0,1.5,2\n2, 3 ,-4e0\n", to: "sensors.csv")
    let dataset = try CSVDataset.load(path: path)
    XCTAssertEqual(dataset.name, "sensors")
    XCTAssertEqual(dataset.sampleShape, [2])
    XCTAssertEqual(dataset.labels, [0, 2])
    XCTAssertEqual(dataset.classCount, 3)
    XCTAssertNil(dataset.classNames)
    XCTAssertEqual(floats(of: dataset), [1.5, 2, 3, -4])
    // Each column is standardised on its own: a = (1.5, 3), b = (2, -4).
    let scaling = try XCTUnwrap(dataset.featureScaling)
    XCTAssertEqual(scaling.mean, [2.25, -1])
    XCTAssertEqual(scaling.std[0], 0.75, accuracy: 1e-6)
    XCTAssertEqual(scaling.std[1], 3, accuracy: 1e-6)
    var batch = [Float](repeating: 0, count: 4)
    batch.withUnsafeMutableBufferPointer { dataset.fillBatch(0..<2, into: $0.baseAddress!) }
    for (value, expected) in zip(batch, [Float(-1), 1, 1, -1]) {
      XCTAssertEqual(value, expected, accuracy: 1e-5)
    }
  }

  func testCSVWithoutHeaderLabelLast() throws {
    let path = try write("1,2,1\r\n\r\n3,4,0\r\n5,6,1", to: "plain.csv.gz", gzip: true)
    let dataset = try CSVDataset.load(path: path, labelColumn: .last)
    XCTAssertEqual(dataset.name, "plain")
    XCTAssertEqual(dataset.labels, [1, 0, 1])
    XCTAssertEqual(floats(of: dataset), [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(dataset.classCount, 2)
    // Forcing a header drops the first row.
    let headed = try CSVDataset.load(path: path, labelColumn: .index(2), hasHeader: true)
    XCTAssertEqual(headed.labels, [0, 1])
  }

  func testCSVStringLabelsNamedColumnAndQuotes() throws {
    let text = [
      #"x;"y;z";activity"#, #"1;2;"walking; fast""#, "3;4;sitting", #"5;6;"say ""hi""""#,
      "7;8;sitting",
    ].joined(separator: "\n")
    let path = try write(text, to: "activity.csv")
    let dataset = try CSVDataset.load(path: path, labelColumn: .named("activity"), delimiter: ";")
    XCTAssertEqual(dataset.classNames ?? [], ["say \"hi\"", "sitting", "walking; fast"])
    XCTAssertEqual(dataset.classCount, 3)
    XCTAssertEqual(dataset.labels, [2, 1, 0, 1])
    XCTAssertEqual(floats(of: dataset), [1, 2, 3, 4, 5, 6, 7, 8])

    // String labels in the first row do not make it a header when the features are numbers.
    let unlabelled = try write("walking,1,2\nsitting,3,4\n", to: "noheader.csv")
    let plain = try CSVDataset.load(path: unlabelled)
    XCTAssertEqual(plain.count, 2)
    XCTAssertEqual(plain.classNames ?? [], ["sitting", "walking"])
    XCTAssertEqual(plain.labels, [1, 0])
  }

  func testCSVRaggedRowNamesLine() throws {
    let path = try write("a,b,label\n1,2,0\n\n3,4\n", to: "ragged.csv")
    assertDatasetError(
      try CSVDataset.load(path: path, labelColumn: .last), mentions: "ragged.csv:4"
    ) {
      if case .malformed(path, 4, let reason) = $0 { return reason.contains("3") }
      return false
    }
  }

  func testCSVNonNumericNamesLineAndColumn() throws {
    let path = try write("a,b,label\n1,2,0\n1,oops,1\n", to: "text.csv")
    assertDatasetError(
      try CSVDataset.load(path: path, labelColumn: .last), mentions: "text.csv:3"
    ) {
      if case .malformed(path, 3, let reason) = $0 {
        return reason.contains("column 2") && reason.contains("'b'") && reason.contains("oops")
      }
      return false
    }
    // A multi-line quoted field still yields the right line for later rows.
    let quoted = try write("label,a\n\"x\ny\",1\nz,nan\n", to: "quoted.csv")
    assertDatasetError(try CSVDataset.load(path: quoted), mentions: "quoted.csv:4") {
      if case .malformed(quoted, 4, _) = $0 { return true } else { return false }
    }
  }

  func testCSVEmptyAndHeaderOnly() throws {
    let path = try write("", to: "empty.csv")
    assertDatasetError(try CSVDataset.load(path: path), mentions: "empty.csv") {
      if case .malformed(path, nil, let reason) = $0 { return reason.contains("empty") }
      return false
    }
    let blank = try write("\n\n  \n", to: "blank.csv")
    assertDatasetError(try CSVDataset.load(path: blank), mentions: "blank.csv") {
      if case .malformed = $0 { return true } else { return false }
    }
    let headerOnly = try write("label,a\n", to: "header.csv")
    assertDatasetError(try CSVDataset.load(path: headerOnly), mentions: "header.csv") {
      if case .malformed(headerOnly, _, let reason) = $0 { return reason.contains("no data") }
      return false
    }
  }

  func testCSVMissingLabelColumnAndOtherErrors() throws {
    let path = try write("a,b,label\n1,2,0\n", to: "named.csv")
    assertDatasetError(
      try CSVDataset.load(path: path, labelColumn: .named("class")), mentions: "named.csv:1"
    ) {
      if case .malformed(path, 1, let reason) = $0 { return reason.contains("class") }
      return false
    }
    assertDatasetError(
      try CSVDataset.load(path: path, labelColumn: .index(3)), mentions: "named.csv:1"
    ) {
      if case .malformed(path, 1, _) = $0 { return true } else { return false }
    }
    let unterminated = try write("label,a\n0,1\n1,\"2\n", to: "quote.csv")
    assertDatasetError(try CSVDataset.load(path: unterminated), mentions: "quote.csv:3") {
      if case .malformed(unterminated, 3, _) = $0 { return true } else { return false }
    }
    let negative = try write("0,1\n-1,2\n", to: "negative.csv")
    assertDatasetError(try CSVDataset.load(path: negative), mentions: "negative.csv:2") {
      if case .malformed(negative, 2, _) = $0 { return true } else { return false }
    }
    let missing = directory.appendingPathComponent("absent.csv").path
    assertDatasetError(try CSVDataset.load(path: missing), mentions: "absent.csv") {
      $0 == .fileNotFound(path: missing)
    }
  }

  // MARK: DatasetLoader

  func testLoaderSpecifications() throws {
    try writeIDXTrain(gzip: true)
    XCTAssertEqual(
      try DatasetLoader.load("idx:\(directory.path)", split: .train).labels, [0, 9, 4])
    XCTAssertEqual(try DatasetLoader.load(directory.path, split: .train).count, 3)

    try write(cifarRecord(label: 4, seed: 0), to: "cifar/test_batch.bin")
    let cifarDirectory = directory.appendingPathComponent("cifar").path
    XCTAssertEqual(try DatasetLoader.load("cifar10:\(cifarDirectory)", split: .test).labels, [4])
    XCTAssertEqual(try DatasetLoader.load(cifarDirectory, split: .test).sampleShape, [32, 32, 3])

    let train = try write("label,a\nrun,1\nwalk,3\n", to: "train.csv")
    let test = try write("label,a\nwalk,5\n", to: "test.csv")
    let trainSet = try DatasetLoader.load("csv:\(train),\(test)", split: .train)
    XCTAssertEqual(trainSet.labels, [0, 1])
    let testSet = try DatasetLoader.load("csv:\(train),\(test)", split: .test)
    XCTAssertEqual(testSet.labels, [1])
    XCTAssertEqual(testSet.classNames ?? [], ["run", "walk"])
    XCTAssertEqual(testSet.featureScaling, trainSet.featureScaling)
    assertDatasetError(try DatasetLoader.load("csv:\(train)", split: .test), mentions: "train.csv")
    {
      if case .malformed = $0 { return true } else { return false }
    }

    // The label column can be chosen in the specification.
    let last = try write("a,b,state\n1,2,ok\n3,4,fault\n5,6,ok\n", to: "last.csv")
    let byName = try DatasetLoader.load("csv:\(last)?label=state", split: .train)
    XCTAssertEqual(byName.classNames ?? [], ["fault", "ok"])
    XCTAssertEqual(byName.labels, [1, 0, 1])
    XCTAssertEqual(byName.sampleShape, [2])
    XCTAssertEqual(
      try DatasetLoader.load("csv:\(last)?label=last", split: .train).labels, [1, 0, 1])
    XCTAssertEqual(try DatasetLoader.load("csv:\(last)?label=2", split: .train).labels, [1, 0, 1])

    // Sparse integer codes become one class each, in numeric order.
    let codes = try write("code,a\n300,1\n100,2\n200,3\n300,4\n", to: "codes.csv")
    let coded = try DatasetLoader.load("csv:\(codes)", split: .train)
    XCTAssertEqual(coded.classCount, 3)
    XCTAssertEqual(coded.labels, [2, 0, 1, 2])
    XCTAssertEqual(coded.classNames ?? [], ["100", "200", "300"])

    assertDatasetError(try DatasetLoader.load("imagenet", split: .train), mentions: "imagenet") {
      if case .unknownDataset(let name, let known) = $0 {
        return name == "imagenet" && known.contains("fashion-mnist[:DIR]")
      }
      return false
    }
    let absent = directory.appendingPathComponent("absent").path
    assertDatasetError(try DatasetLoader.load("idx:\(absent)", split: .test), mentions: "absent") {
      $0 == .fileNotFound(path: absent)
    }
  }

  // MARK: Real data

  /// Loads the real Fashion-MNIST that Debian's dataset-fashion-mnist package installs.
  func testRealFashionMNIST() throws {
    guard FileManager.default.fileExists(atPath: DatasetLoader.fashionMNISTDirectory) else {
      return XCTFail(
        "\(DatasetLoader.fashionMNISTDirectory) is missing: install it with "
          + "`apt-get install dataset-fashion-mnist`")
    }
    let start = Date()
    let train = try DatasetLoader.load("fashion-mnist", split: .train)
    let trainTime = Date().timeIntervalSince(start)
    let test = try DatasetLoader.load("fashion-mnist", split: .test)
    print("Fashion-MNIST train loaded in \(String(format: "%.3f", trainTime)) s")
    XCTAssertEqual(train.count, 60000)
    XCTAssertEqual(test.count, 10000)
    for dataset in [train, test] {
      XCTAssertEqual(dataset.sampleShape, [28, 28, 1])
      XCTAssertEqual(dataset.classCount, 10)
      XCTAssertEqual(dataset.classNames?.count, 10)
      XCTAssertTrue(dataset.labels.allSatisfy { (0..<10).contains($0) })
      XCTAssertEqual(bytes(of: dataset).count, dataset.count * 784)
      XCTAssertEqual(dataset.mean, 0.2860)
      XCTAssertEqual(dataset.std, 0.3530)
    }
    XCTAssertEqual(Set(train.labels).count, 10)
  }
}
