import Foundation

/// Reader for tabular data (sensor readings and the like): a CSV file of numeric feature
/// columns plus one label column, optionally gzipped.
///
/// Fields may be quoted (`"a,b"`, with `""` for a quote inside); unquoted fields are trimmed
/// of spaces and tabs, and blank lines are skipped. Every error names the file and the line.
public enum CSVDataset {
  /// Which column holds the label.
  public enum LabelColumn: Sendable, Equatable {
    case first
    case last
    /// The column with this header name (the file must have a header row).
    case named(String)
    /// The column at this zero-based position.
    case index(Int)
  }

  /// Loads `path`. Features are stored as floats, with `featureScaling` set to each column's
  /// mean and standard deviation so that batches come out standardised.
  ///
  /// Labels that are all small integers are used as class indices (`classCount` = largest +
  /// 1); sparse integers (the largest at least 16 and at least twice the number of distinct
  /// labels) are numbered in numeric order instead, and any other labels in sorted string
  /// order, with the labels recorded in `classNames`. With `hasHeader` nil, the first row is taken as a header when one of
  /// its feature fields is not a number (or when the label column is named).
  public static func load(
    path: String, labelColumn: LabelColumn = .first, hasHeader: Bool? = nil,
    delimiter: Character = ","
  ) throws -> Dataset {
    guard let separator = delimiter.asciiValue, delimiter != "\"", !delimiter.isNewline else {
      throw DatasetError.malformed(
        path: path, line: nil,
        reason: "delimiter \(delimiter.debugDescription) must be one ASCII character, "
          + "not a quote or a line break")
    }
    let data = try GzipReader(path: path).readAll()
    var parser = CSVParser(bytes: data, delimiter: separator, path: path)
    guard let first = try parser.next() else {
      throw DatasetError.malformed(path: path, line: nil, reason: "empty file")
    }
    let columnCount = first.fields.count

    func labelIndex(header: [String]?) throws -> Int {
      switch labelColumn {
      case .first: return 0
      case .last: return columnCount - 1
      case .index(let i):
        guard (0..<columnCount).contains(i) else {
          throw DatasetError.malformed(
            path: path, line: first.line,
            reason: "label column index \(i) is outside 0..<\(columnCount)")
        }
        return i
      case .named(let name):
        guard let header else {
          throw DatasetError.malformed(
            path: path, line: first.line,
            reason: "label column '\(name)' is named, but the file has no header row")
        }
        guard let i = header.firstIndex(of: name) else {
          throw DatasetError.malformed(
            path: path, line: first.line,
            reason: "no column named '\(name)'; columns are \(header.joined(separator: ", "))")
        }
        return i
      }
    }

    let header: [String]?
    switch hasHeader {
    case .some(true): header = first.fields
    case .some(false): header = nil
    case .none:
      if case .named = labelColumn {
        header = first.fields
      } else {
        let label = try labelIndex(header: nil)
        let numeric = first.fields.indices.allSatisfy {
          $0 == label || number(first.fields[$0]) != nil
        }
        header = numeric ? nil : first.fields
      }
    }
    let label = try labelIndex(header: header)
    guard columnCount >= 2 else {
      throw DatasetError.malformed(
        path: path, line: first.line,
        reason: "found \(columnCount) column; need a label and at least one feature")
    }

    var features = [Float]()
    features.reserveCapacity(data.count / 4)
    var labelNames = [String]()
    var lines = [Int]()
    var record: (line: Int, fields: [String])? = header == nil ? first : try parser.next()
    while let (line, fields) = record {
      guard fields.count == columnCount else {
        throw DatasetError.malformed(
          path: path, line: line,
          reason: "expected \(columnCount) fields, found \(fields.count)")
      }
      for (j, field) in fields.enumerated() where j != label {
        guard let value = number(field) else {
          let name = header.map { " ('\($0[j])')" } ?? ""
          throw DatasetError.malformed(
            path: path, line: line,
            reason: "column \(j + 1)\(name): '\(field)' is not a finite number")
        }
        features.append(value)
      }
      guard !fields[label].isEmpty else {
        throw DatasetError.malformed(path: path, line: line, reason: "empty label")
      }
      labelNames.append(fields[label])
      lines.append(line)
      record = try parser.next()
    }
    guard !labelNames.isEmpty else {
      throw DatasetError.malformed(path: path, line: nil, reason: "no data rows")
    }

    let labels: [Int32]
    let classCount: Int
    let classNames: [String]?
    let integers = labelNames.compactMap { Int($0) }
    if integers.count == labelNames.count {
      for (row, value) in integers.enumerated() where value < 0 || value >= Int(Int32.max) {
        throw DatasetError.malformed(
          path: path, line: lines[row],
          reason: "label \(value) is not a class index (0 or more, below \(Int32.max))")
      }
      let distinct = Set(integers).sorted()
      let largest = distinct.last ?? 0
      if largest < max(16, 2 * distinct.count) {
        labels = integers.map { Int32($0) }
        classCount = largest + 1
        classNames = nil
      } else {
        // Sparse codes (say 100, 200, 300): one class per code, in numeric order.
        let indexOf = Dictionary(
          uniqueKeysWithValues: distinct.enumerated().map { ($1, Int32($0)) })
        labels = integers.map { indexOf[$0]! }
        classCount = distinct.count
        classNames = distinct.map(String.init)
      }
    } else {
      let names = Set(labelNames).sorted()
      let indexOf = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, Int32($0)) })
      labels = labelNames.map { indexOf[$0] ?? 0 }
      classCount = names.count
      classNames = names
    }

    let featureCount = columnCount - 1
    return Dataset(
      name: datasetName(path), sampleShape: [featureCount], classCount: classCount,
      classNames: classNames, labels: labels, storage: .floats(features),
      featureScaling: standardisation(features, featureCount: featureCount))
  }

  /// The field as a finite Float, or nil.
  private static func number(_ field: String) -> Float? {
    guard let value = Float(field), value.isFinite else { return nil }
    return value
  }

  /// The file name without `.gz` and `.csv`.
  private static func datasetName(_ path: String) -> String {
    var name = (path as NSString).lastPathComponent
    for suffix in [".gz", ".csv", ".tsv", ".txt"] where name.lowercased().hasSuffix(suffix) {
      name.removeLast(suffix.count)
    }
    return name
  }

  /// Each feature's mean and standard deviation (1 for a constant feature), so batches come
  /// out standardised column by column.
  private static func standardisation(_ values: [Float], featureCount: Int)
    -> Dataset.FeatureScaling
  {
    let rows = values.count / max(featureCount, 1)
    var sum = [Double](repeating: 0, count: featureCount)
    var squares = [Double](repeating: 0, count: featureCount)
    for r in 0..<rows {
      for j in 0..<featureCount {
        let v = Double(values[r * featureCount + j])
        sum[j] += v
        squares[j] += v * v
      }
    }
    let n = Double(max(rows, 1))
    let mean = sum.map { $0 / n }
    let std = (0..<featureCount).map { j -> Float in
      let deviation = max(squares[j] / n - mean[j] * mean[j], 0).squareRoot()
      return deviation > 1e-6 * max(1, abs(mean[j])) ? Float(deviation) : 1
    }
    return .init(mean: mean.map(Float.init), std: std)
  }
}

/// Splits CSV bytes into records of fields, tracking line numbers.
private struct CSVParser {
  let bytes: [UInt8]
  let delimiter: UInt8
  let path: String
  private var position = 0
  private var line = 1

  private static let quote = UInt8(ascii: "\"")
  private static let newline = UInt8(ascii: "\n")
  private static let carriageReturn = UInt8(ascii: "\r")

  init(bytes: [UInt8], delimiter: UInt8, path: String) {
    self.bytes = bytes
    self.delimiter = delimiter
    self.path = path
    if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // UTF-8 byte order mark
  }

  /// The next non-blank record and the line it starts on, or nil at the end of the file.
  mutating func next() throws -> (line: Int, fields: [String])? {
    // Skip blank lines, including lines of only spaces and tabs.
    while true {
      var end = position
      while end < bytes.count, isBlank(bytes[end]), bytes[end] != delimiter { end += 1 }
      guard end < bytes.count else { return nil }
      let saved = position
      position = end
      if !endOfLine() {
        position = saved
        break
      }
    }
    let start = line
    var fields = [String]()
    while true {
      fields.append(try field(recordLine: start, number: fields.count + 1))
      if position < bytes.count, bytes[position] == delimiter {
        position += 1
        continue
      }
      _ = endOfLine()
      return (start, fields)
    }
  }

  /// Consumes a line break at the current position, if there is one.
  private mutating func endOfLine() -> Bool {
    guard position < bytes.count else { return false }
    switch bytes[position] {
    case Self.newline:
      position += 1
    case Self.carriageReturn:
      position += 1
      if position < bytes.count, bytes[position] == Self.newline { position += 1 }
    default:
      return false
    }
    line += 1
    return true
  }

  private func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

  private func isFieldEnd(_ byte: UInt8) -> Bool {
    byte == delimiter || byte == Self.newline || byte == Self.carriageReturn
  }

  /// Reads one field, quoted or not, leaving the position on its terminator.
  private mutating func field(recordLine: Int, number: Int) throws -> String {
    var start = position
    while start < bytes.count, isBlank(bytes[start]), bytes[start] != delimiter { start += 1 }
    guard start < bytes.count, bytes[start] == Self.quote else {
      var end = start
      while end < bytes.count, !isFieldEnd(bytes[end]) { end += 1 }
      position = end
      while end > start, isBlank(bytes[end - 1]), bytes[end - 1] != delimiter { end -= 1 }
      return String(decoding: bytes[start..<end], as: UTF8.self)
    }
    position = start + 1
    var text = [UInt8]()
    while true {
      guard position < bytes.count else {
        throw DatasetError.malformed(
          path: path, line: recordLine,
          reason: "field \(number) has an opening quote with no closing quote")
      }
      let byte = bytes[position]
      position += 1
      if byte == Self.quote {
        guard position < bytes.count, bytes[position] == Self.quote else { break }
        position += 1
      } else if byte == Self.newline {
        line += 1
      }
      text.append(byte)
    }
    while position < bytes.count, isBlank(bytes[position]), bytes[position] != delimiter {
      position += 1
    }
    guard position == bytes.count || isFieldEnd(bytes[position]) else {
      throw DatasetError.malformed(
        path: path, line: line,
        reason: "field \(number) has text after its closing quote")
    }
    return String(decoding: text, as: UTF8.self)
  }
}
