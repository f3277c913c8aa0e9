import Foundation

/// Which part of a dataset to load.
public enum Split: String, Sendable, CaseIterable {
  case train
  case test
}

/// Loads a dataset named by a short specification string, as given on the command line.
///
/// Specifications:
/// - `fashion-mnist` or `fashion-mnist:DIR`: Fashion-MNIST from `DIR`, by default
///   `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist` package).
/// - `mnist` or `mnist:DIR`: MNIST from `DIR`, by default `$FEDLEDGER_MNIST_DIR`, else
///   `/usr/share/datasets/mnist`.
/// - `cifar10:DIR` (or `cifar10` with `$FEDLEDGER_CIFAR10_DIR`): the CIFAR-10 binary batches.
/// - `csv:TRAIN` or `csv:TRAIN,TEST`: CSV files with the label in the first column (paths
///   must not contain commas). The train split is TRAIN; the test split needs TEST and uses
///   TRAIN's normalisation and class numbering, so both files must share their classes.
///   A `?label=COLUMN` suffix picks the label column: `first`, `last`, a zero-based index, or
///   a header name.
/// - `idx:DIR`, or a plain directory path: any MNIST-format directory (ten classes, with
///   normalisation computed from the loaded split). A directory holding CIFAR-10 batches is
///   recognised as such.
public enum DatasetLoader {
  /// Fashion-MNIST's class names, in label order.
  public static let fashionMNISTClassNames = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
  ]
  /// Where Debian's `dataset-fashion-mnist` package installs the data.
  public static let fashionMNISTDirectory = "/usr/share/datasets/fashion-mnist"
  /// The specification forms accepted by `load`, for messages.
  public static let knownSpecifications = [
    "fashion-mnist[:DIR]", "mnist[:DIR]", "cifar10:DIR", "csv:TRAIN[,TEST]", "idx:DIR",
  ]

  /// Whether the dataset named by `spec` has a test split: every built-in one does; a CSV
  /// dataset has one when it names a test file (`csv:TRAIN,TEST`).
  public static func hasTestSplit(_ spec: String) -> Bool {
    let (kind, argument) = parse(spec)
    guard kind == "csv" else { return true }
    let paths = (argument ?? "").split(separator: "?", omittingEmptySubsequences: false).first
    return paths?.contains(",") ?? false
  }

  /// Loads the `split` part of the dataset named by `spec` (see the type's documentation).
  public static func load(_ spec: String, split: Split) throws -> Dataset {
    let (kind, argument) = parse(spec)
    let environment = ProcessInfo.processInfo.environment
    switch kind {
    case "fashion-mnist":
      return try IDX.loadMNISTFormat(
        directory: argument ?? fashionMNISTDirectory, split: split, name: "fashion-mnist",
        classNames: fashionMNISTClassNames, mean: 0.2860, std: 0.3530)
    case "mnist":
      let directory =
        argument ?? environment["FEDLEDGER_MNIST_DIR"] ?? "/usr/share/datasets/mnist"
      return try IDX.loadMNISTFormat(
        directory: directory, split: split, name: "mnist",
        classNames: (0..<10).map(String.init), mean: 0.1307, std: 0.3081)
    case "cifar10", "cifar-10":
      guard let directory = argument ?? environment["FEDLEDGER_CIFAR10_DIR"] else {
        throw DatasetError.unknownDataset(name: spec, known: knownSpecifications)
      }
      return try CIFAR10.load(directory: directory, split: split)
    case "csv":
      guard let argument else {
        throw DatasetError.unknownDataset(name: spec, known: knownSpecifications)
      }
      return try loadCSV(argument, split: split)
    case "idx":
      guard let argument else {
        throw DatasetError.unknownDataset(name: spec, known: knownSpecifications)
      }
      return try loadDirectory(argument, split: split)
    default:
      // A plain path: anything with a slash, or an existing directory.
      var isDirectory: ObjCBool = false
      if spec.contains("/")
        || FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory)
          && isDirectory.boolValue
      {
        return try loadDirectory(spec, split: split)
      }
      throw DatasetError.unknownDataset(name: spec, known: knownSpecifications)
    }
  }

  /// Splits "kind:argument" (the argument may itself contain colons); a spec without a
  /// colon, or one that looks like a path, has no argument.
  private static func parse(_ spec: String) -> (kind: String, argument: String?) {
    guard let colon = spec.firstIndex(of: ":"), !spec[..<colon].contains("/") else {
      return (spec, nil)
    }
    let argument = String(spec[spec.index(after: colon)...])
    return (spec[..<colon].lowercased(), argument.isEmpty ? nil : argument)
  }

  /// An MNIST-format directory, or a CIFAR-10 one if it holds CIFAR-10 batches.
  private static func loadDirectory(_ directory: String, split: Split) throws -> Dataset {
    let cifarMarkers = [
      "cifar-10-batches-bin", "data_batch_1.bin", "data_batch_1.bin.gz", "test_batch.bin",
      "test_batch.bin.gz",
    ]
    let isCIFAR = cifarMarkers.contains {
      FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent($0))
    }
    if isCIFAR { return try CIFAR10.load(directory: directory, split: split) }
    let name =
      (directory as NSString).standardizingPath.split(separator: "/").last.map(String.init) ?? "idx"
    let train = try IDX.loadMNISTFormat(directory: directory, split: .train, name: name)
    guard split == .test else { return train }
    // The test split is normalised with the training split's statistics, as the model saw them.
    return try IDX.loadMNISTFormat(
      directory: directory, split: .test, name: name, mean: train.mean, std: train.std)
  }

  /// "TRAIN" or "TRAIN,TEST": the test split takes the train file's normalisation and class
  /// numbering, so that a model trained on one is evaluated consistently on the other; a
  /// test label the train file does not have is an error.
  private static func loadCSV(_ specification: String, split: Split) throws -> Dataset {
    var argument = specification
    var column = CSVDataset.LabelColumn.first
    if let query = specification.range(of: "?label=", options: .backwards) {
      argument = String(specification[..<query.lowerBound])
      let value = String(specification[query.upperBound...])
      switch value {
      case "first": column = .first
      case "last": column = .last
      case "":
        throw DatasetError.malformed(
          path: argument, line: nil, reason: "?label= needs first, last, an index or a column name")
      default: column = Int(value).map { .index($0) } ?? .named(value)
      }
    }
    let paths = argument.split(separator: ",", maxSplits: 1, omittingEmptySubsequences: false)
      .map(String.init)
    let train = try CSVDataset.load(path: paths[0], labelColumn: column)
    guard split == .test else { return train }
    guard paths.count == 2 else {
      throw DatasetError.malformed(
        path: paths[0], line: nil,
        reason: "no test file given; use csv:TRAIN,TEST to name one")
    }
    var test = try CSVDataset.load(path: paths[1], labelColumn: column)
    guard test.sampleShape == train.sampleShape else {
      throw DatasetError.malformed(
        path: paths[1], line: nil,
        reason: "has \(test.sampleSize) features but \(paths[0]) has \(train.sampleSize)")
    }
    switch (train.classNames, test.classNames) {
    case (nil, nil):
      if let bad = test.labels.firstIndex(where: { Int($0) >= train.classCount }) {
        throw DatasetError.labelOutOfRange(
          path: paths[1], index: bad, label: Int(test.labels[bad]),
          classCount: train.classCount)
      }
      test.classCount = train.classCount
    case (let trainNames?, let testNames?):
      let trainIndex = Dictionary(
        uniqueKeysWithValues: trainNames.enumerated().map { ($1, Int32($0)) })
      var mapping = [Int32]()
      for name in testNames {
        guard let index = trainIndex[name] else {
          throw DatasetError.malformed(
            path: paths[1], line: nil,
            reason: "label '\(name)' does not occur in \(paths[0])")
        }
        mapping.append(index)
      }
      test.labels = test.labels.map { mapping[Int($0)] }
      test.classNames = trainNames
      test.classCount = train.classCount
    default:
      throw DatasetError.malformed(
        path: paths[1], line: nil,
        reason: "labels are \(test.classNames == nil ? "integers" : "names") but in "
          + "\(paths[0]) they are \(train.classNames == nil ? "integers" : "names")")
    }
    test.featureScaling = train.featureScaling
    return test
  }
}
