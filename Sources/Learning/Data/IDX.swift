/// Reader for the IDX format of MNIST and Fashion-MNIST, gzipped or raw.
///
/// An IDX file is a big-endian header (magic number, then one 32-bit size per dimension)
/// followed by the values. Images use magic 0x00000803 (count, rows, cols, then one byte per
/// pixel, row-major); labels use 0x00000801 (count, then one byte per label).
public enum IDX {
  /// The magic number of an unsigned-byte, three-dimensional IDX file (images).
  public static let imagesMagic: UInt32 = 0x0000_0803
  /// The magic number of an unsigned-byte, one-dimensional IDX file (labels).
  public static let labelsMagic: UInt32 = 0x0000_0801

  /// Reads an images file: `count` images of `rows` × `cols` pixels, one byte each.
  public static func readImages(
    path: String
  ) throws -> (count: Int, rows: Int, cols: Int, pixels: [UInt8]) {
    let reader = try GzipReader(path: path)
    let header = try readHeader(reader, magic: imagesMagic, dimensions: 3)
    let (count, rows, cols) = (header[0], header[1], header[2])
    let (imageSize, overflow1) = rows.multipliedReportingOverflow(by: cols)
    let (size, overflow2) = count.multipliedReportingOverflow(by: imageSize)
    guard !overflow1, !overflow2, size <= Int.max - 16 else {
      throw DatasetError.malformed(
        path: path, line: nil, reason: "header promises \(count)×\(rows)×\(cols) pixels")
    }
    guard rows > 0, cols > 0 else {
      throw DatasetError.malformed(
        path: path, line: nil, reason: "header gives an empty image size \(rows)×\(cols)")
    }
    let pixels = try readBody(reader, size: size, headerSize: 16)
    return (count, rows, cols, pixels)
  }

  /// Reads a labels file: one byte per label.
  public static func readLabels(path: String) throws -> [UInt8] {
    let reader = try GzipReader(path: path)
    let header = try readHeader(reader, magic: labelsMagic, dimensions: 1)
    return try readBody(reader, size: header[0], headerSize: 8)
  }

  /// Loads a directory laid out like MNIST: `train-images-idx3-ubyte`,
  /// `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and `t10k-labels-idx1-ubyte`, each
  /// optionally gzipped (`.gz`) and also accepted with a dot before `idx`
  /// (`train-images.idx3-ubyte`).
  ///
  /// The dataset is named "`name`/`split`" and has sample shape [rows, cols, 1]. `mean` and
  /// `std` are the normalisation constants (on the 0...1 pixel scale); when nil they are
  /// computed from this split's pixels.
  public static func loadMNISTFormat(
    directory: String, split: Split, name: String, classCount: Int = 10,
    classNames: [String]? = nil, mean: Float? = nil, std: Float? = nil
  ) throws -> Dataset {
    try requireDirectory(directory)
    let prefix = split == .train ? "train" : "t10k"
    let imagesPath = try findFile(in: directory, candidates: candidates(prefix, "images-idx3"))
    let labelsPath = try findFile(in: directory, candidates: candidates(prefix, "labels-idx1"))
    let labels = try readLabels(path: labelsPath)
    let images = try readImages(path: imagesPath)
    guard images.count == labels.count else {
      throw DatasetError.countMismatch(
        images: imagesPath, imageCount: images.count, labels: labelsPath,
        labelCount: labels.count)
    }
    if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
      throw DatasetError.labelOutOfRange(
        path: labelsPath, index: bad, label: Int(labels[bad]), classCount: classCount)
    }
    var dataset = Dataset(
      name: "\(name)/\(split.rawValue)", sampleShape: [images.rows, images.cols, 1],
      classCount: classCount, classNames: classNames, labels: labels.map { Int32($0) },
      storage: .bytes(images.pixels))
    if let mean, let std {
      dataset.mean = mean
      dataset.std = std
    } else {
      let stats = pixelStatistics(images.pixels)
      dataset.mean = mean ?? stats.mean
      dataset.std = std ?? stats.std
    }
    return dataset
  }

  /// The file names tried for one file of a split, e.g. ("train", "images-idx3").
  private static func candidates(_ prefix: String, _ kind: String) -> [String] {
    let dotted = kind.replacingOccurrences(of: "-idx", with: ".idx")
    return [
      "\(prefix)-\(kind)-ubyte", "\(prefix)-\(kind)-ubyte.gz",
      "\(prefix)-\(dotted)-ubyte", "\(prefix)-\(dotted)-ubyte.gz",
    ]
  }

  /// Reads and checks the magic number, then returns the `dimensions` sizes that follow.
  private static func readHeader(
    _ reader: GzipReader, magic: UInt32, dimensions: Int
  ) throws -> [Int] {
    let headerSize = 4 * (dimensions + 1)
    let bytes = try reader.readBytes(upTo: headerSize)
    let words = stride(from: 0, to: bytes.count - 3, by: 4).map { i in
      bytes[i..<(i + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }
    if let found = words.first, found != magic {
      throw DatasetError.badMagic(path: reader.path, found: found, expected: magic)
    }
    guard bytes.count == headerSize else {
      throw DatasetError.truncated(
        path: reader.path, expectedBytes: headerSize, actualBytes: bytes.count)
    }
    return words.dropFirst().map { Int($0) }
  }

  /// Reads exactly `size` bytes of values, then checks the rest of the stream is intact.
  private static func readBody(
    _ reader: GzipReader, size: Int, headerSize: Int
  ) throws -> [UInt8] {
    let body = try reader.readBytes(upTo: size)
    guard body.count == size else {
      throw DatasetError.truncated(
        path: reader.path, expectedBytes: headerSize + size,
        actualBytes: headerSize + body.count)
    }
    try reader.verifyToEnd()
    return body
  }

  /// Mean and standard deviation of `pixels` on the 0...1 scale, via a histogram.
  static func pixelStatistics(_ pixels: [UInt8]) -> (mean: Float, std: Float) {
    var histogram = [Int](repeating: 0, count: 256)
    histogram.withUnsafeMutableBufferPointer { counts in
      pixels.withUnsafeBufferPointer { buffer in
        for value in buffer { counts[Int(value)] += 1 }
      }
    }
    guard !pixels.isEmpty else { return (0, 1) }
    let n = Double(pixels.count)
    var mean = 0.0
    for (value, k) in histogram.enumerated() { mean += Double(value) / 255 * Double(k) }
    mean /= n
    var variance = 0.0
    for (value, k) in histogram.enumerated() {
      let d = Double(value) / 255 - mean
      variance += d * d * Double(k)
    }
    let std = (variance / n).squareRoot()
    return (Float(mean), std > 1e-12 ? Float(std) : 1)
  }
}
