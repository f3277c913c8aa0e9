/// A labelled dataset held in memory in its compact on-disk form.
///
/// Images stay as bytes (a quarter of the memory of Float32) and are converted and normalised
/// per batch; numeric features (CSV) are held as Float32.
public struct Dataset: Sendable {
  /// How the samples are stored.
  public enum Storage: Sendable {
    /// One byte per value (pixels), mapped to `value / 255` before normalisation.
    case bytes([UInt8])
    /// Float32 values, used as they are before normalisation.
    case floats([Float])
  }

  /// A human-readable name, such as "fashion-mnist/train".
  public var name: String
  /// The shape of one sample: [height, width, channels] for images, [features] for vectors.
  public var sampleShape: [Int]
  /// The number of classes; every label is in 0..<classCount.
  public var classCount: Int
  /// Optional class names, for reports.
  public var classNames: [String]?
  /// One label per sample.
  public var labels: [Int32]
  public var storage: Storage
  /// Per-value normalisation applied when a batch is built: (x - mean) / std.
  public var mean: Float
  public var std: Float
  /// Per-feature normalisation for float samples (sensor columns on different scales); when
  /// set it replaces `mean` and `std`.
  public var featureScaling: FeatureScaling?

  /// One mean and standard deviation per value of a sample.
  public struct FeatureScaling: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
      self.mean = mean
      self.std = std
    }
  }

  public init(
    name: String, sampleShape: [Int], classCount: Int, classNames: [String]? = nil,
    labels: [Int32], storage: Storage, mean: Float = 0, std: Float = 1,
    featureScaling: FeatureScaling? = nil
  ) {
    self.name = name
    self.sampleShape = sampleShape
    self.classCount = classCount
    self.classNames = classNames
    self.labels = labels
    self.storage = storage
    self.mean = mean
    self.std = std
    self.featureScaling = featureScaling
  }

  /// The number of samples.
  public var count: Int { labels.count }
  /// The number of values in one sample.
  public var sampleSize: Int { sampleShape.reduce(1, *) }

  /// Writes the normalised samples at `indices` one after another into `destination`.
  public func fillBatch(
    _ indices: some Collection<Int>, into destination: UnsafeMutablePointer<Float>
  ) {
    let size = sampleSize
    let inverseStd = 1 / std
    var out = destination
    switch storage {
    case .bytes(let bytes):
      let scale = inverseStd / 255
      let shift = -mean * inverseStd
      bytes.withUnsafeBufferPointer { source in
        for index in indices {
          let row = source.baseAddress! + index * size
          for j in 0..<size { out[j] = Float(row[j]) * scale + shift }
          out += size
        }
      }
    case .floats(let values):
      let scaling = featureScaling.map { s in (s.mean, s.std.map { 1 / $0 }) }
      values.withUnsafeBufferPointer { source in
        for index in indices {
          let row = source.baseAddress! + index * size
          if let (means, inverses) = scaling {
            for j in 0..<size { out[j] = (row[j] - means[j]) * inverses[j] }
          } else {
            for j in 0..<size { out[j] = (row[j] - mean) * inverseStd }
          }
          out += size
        }
      }
    }
  }

  /// The samples at `indices` as a new dataset (same normalisation), for subsets and partitions.
  public func subset(_ indices: [Int]) -> Dataset {
    let size = sampleSize
    let newStorage: Storage
    switch storage {
    case .bytes(let bytes):
      var out = [UInt8]()
      out.reserveCapacity(indices.count * size)
      for i in indices { out.append(contentsOf: bytes[(i * size)..<((i + 1) * size)]) }
      newStorage = .bytes(out)
    case .floats(let values):
      var out = [Float]()
      out.reserveCapacity(indices.count * size)
      for i in indices { out.append(contentsOf: values[(i * size)..<((i + 1) * size)]) }
      newStorage = .floats(out)
    }
    return Dataset(
      name: name, sampleShape: sampleShape, classCount: classCount, classNames: classNames,
      labels: indices.map { labels[$0] }, storage: newStorage, mean: mean, std: std,
      featureScaling: featureScaling)
  }
}

/// Why a dataset file could not be read. Every case names the file.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
  case fileNotFound(path: String)
  case unreadable(path: String, reason: String)
  case badMagic(path: String, found: UInt32, expected: UInt32)
  case truncated(path: String, expectedBytes: Int, actualBytes: Int)
  case countMismatch(images: String, imageCount: Int, labels: String, labelCount: Int)
  case labelOutOfRange(path: String, index: Int, label: Int, classCount: Int)
  case malformed(path: String, line: Int?, reason: String)
  case unknownDataset(name: String, known: [String])

  public var description: String {
    switch self {
    case .fileNotFound(let path):
      return "\(path): file not found"
    case .unreadable(let path, let reason):
      return "\(path): cannot read: \(reason)"
    case .badMagic(let path, let found, let expected):
      return
        "\(path): wrong magic number 0x\(String(found, radix: 16)), expected 0x\(String(expected, radix: 16)); not an IDX file of this kind"
    case .truncated(let path, let expected, let actual):
      return "\(path): truncated: expected \(expected) bytes, found \(actual)"
    case .countMismatch(let images, let imageCount, let labels, let labelCount):
      return "\(images) has \(imageCount) images but \(labels) has \(labelCount) labels"
    case .labelOutOfRange(let path, let index, let label, let classCount):
      return "\(path): label \(label) of sample \(index) is outside 0..<\(classCount)"
    case .malformed(let path, let line, let reason):
      if let line { return "\(path):\(line): \(reason)" }
      return "\(path): \(reason)"
    case .unknownDataset(let name, let known):
      return
        "unknown dataset '\(name)'; known: \(known.joined(separator: ", ")), or a directory path"
    }
  }
}
