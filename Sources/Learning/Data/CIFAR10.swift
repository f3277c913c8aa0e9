import Foundation

/// Reader for the CIFAR-10 binary version (`cifar-10-batches-bin`), gzipped or raw.
///
/// Each record is one label byte followed by a 32×32 image stored channel-planar (1024 red,
/// then 1024 green, then 1024 blue bytes). Images are converted on load to interleaved
/// height × width × channel order, the layout the rest of the library uses.
public enum CIFAR10 {
  /// Bytes in one record: the label and 3 × 32 × 32 pixels.
  public static let recordSize = 1 + 3 * 32 * 32
  /// The CIFAR-10 class names, in label order.
  public static let classNames = [
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
  ]
  /// Mean and standard deviation of the training pixels over all channels (0...1 scale).
  public static let mean: Float = 0.4734
  public static let std: Float = 0.2516

  /// Loads `data_batch_1.bin` … `data_batch_5.bin` (train) or `test_batch.bin` (test) from
  /// `directory` or from its `cifar-10-batches-bin` subdirectory; each file may be gzipped.
  public static func load(directory: String, split: Split) throws -> Dataset {
    try requireDirectory(directory)
    let nested = (directory as NSString).appendingPathComponent("cifar-10-batches-bin")
    var isDirectory: ObjCBool = false
    let base =
      FileManager.default.fileExists(atPath: nested, isDirectory: &isDirectory)
        && isDirectory.boolValue ? nested : directory
    let names = split == .train ? (1...5).map { "data_batch_\($0).bin" } : ["test_batch.bin"]
    let paths = try names.map { try findFile(in: base, candidates: [$0, $0 + ".gz"]) }
    var labels = [Int32]()
    var pixels = [UInt8]()
    for path in paths {
      let batch = try readBatch(path: path)
      labels += batch.labels
      if pixels.isEmpty {
        pixels = batch.pixels
        pixels.reserveCapacity(batch.pixels.count * paths.count)
      } else {
        pixels += batch.pixels
      }
    }
    return Dataset(
      name: "cifar10/\(split.rawValue)", sampleShape: [32, 32, 3], classCount: 10,
      classNames: classNames, labels: labels, storage: .bytes(pixels), mean: mean, std: std)
  }

  /// Reads one batch file: its labels and its pixels in height × width × channel order.
  public static func readBatch(path: String) throws -> (labels: [Int32], pixels: [UInt8]) {
    let data = try GzipReader(path: path).readAll()
    guard data.count % recordSize == 0, !data.isEmpty else {
      let whole = (data.count / recordSize + 1) * recordSize
      throw DatasetError.truncated(path: path, expectedBytes: whole, actualBytes: data.count)
    }
    let count = data.count / recordSize
    let plane = 32 * 32
    var labels = [Int32](repeating: 0, count: count)
    let pixels = try [UInt8](unsafeUninitializedCapacity: count * 3 * plane) { out, done in
      try data.withUnsafeBufferPointer { source in
        guard let input = source.baseAddress, let output = out.baseAddress else { return }
        for i in 0..<count {
          let record = input + i * recordSize
          guard record[0] < 10 else {
            throw DatasetError.labelOutOfRange(
              path: path, index: i, label: Int(record[0]), classCount: 10)
          }
          labels[i] = Int32(record[0])
          let image = output + i * 3 * plane
          for p in 0..<plane {
            image[3 * p] = record[1 + p]
            image[3 * p + 1] = record[1 + plane + p]
            image[3 * p + 2] = record[1 + 2 * plane + p]
          }
          done = (i + 1) * 3 * plane
        }
      }
    }
    return (labels, pixels)
  }
}
