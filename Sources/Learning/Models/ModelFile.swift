import Crypto
import Foundation

/// Why a model file could not be read or does not fit what the caller expects.
public enum ModelFileError: Error, Equatable, CustomStringConvertible {
  case notFound(path: String)
  case unreadable(path: String, reason: String)
  case badMagic(path: String)
  case unsupportedVersion(path: String, version: UInt32, supported: UInt32)
  case truncated(path: String, reason: String)
  case badHeader(path: String, reason: String)
  case invalidArchitecture(path: String?, reason: String)
  case parameterCountMismatch(path: String?, expected: Int, found: Int)
  case shapeMismatch(path: String, tensor: String, declared: [Int], architecture: [Int])
  case hashMismatch(path: String, stored: String, computed: String)
  case architectureMismatch(path: String, expected: String, found: String)

  public var description: String {
    func at(_ path: String?) -> String { path.map { "\($0): " } ?? "" }
    switch self {
    case .notFound(let path): return "\(path): model file not found"
    case .unreadable(let path, let reason): return "\(path): cannot read model file: \(reason)"
    case .badMagic(let path): return "\(path): not a FedLedger model file (bad magic)"
    case .unsupportedVersion(let path, let version, let supported):
      return
        "\(path): model file version \(version) is not supported (this build reads version \(supported))"
    case .truncated(let path, let reason): return "\(path): truncated model file: \(reason)"
    case .badHeader(let path, let reason): return "\(path): bad model file header: \(reason)"
    case .invalidArchitecture(let path, let reason):
      return "\(at(path))invalid architecture: \(reason)"
    case .parameterCountMismatch(let path, let expected, let found):
      return "\(at(path))the architecture has \(expected) parameters but \(found) were given"
    case .shapeMismatch(let path, let tensor, let declared, let architecture):
      return
        "\(path): tensor \(tensor) is declared \(declared) but the architecture makes it \(architecture)"
    case .hashMismatch(let path, let stored, let computed):
      return
        "\(path): content hash mismatch (stored \(stored), computed \(computed)): the file is corrupt or was altered"
    case .architectureMismatch(let path, let expected, let found):
      return "\(path): architecture is \(found), expected \(expected)"
    }
  }
}

/// The versioned model file format (see docs/model-format.md).
///
/// Layout: magic "FLMODEL\0", version (u32 LE), header length (u32 LE), header (canonical JSON:
/// format, architecture, dtype, tensor names and shapes, parameter count), parameters (f32 LE),
/// then the SHA-256 of every byte before it. That SHA-256 is the model's hash.
public enum ModelFile {
  public static let magic: [UInt8] = Array("FLMODEL".utf8) + [0]
  public static let version: UInt32 = 1
  /// The longest header a file may declare (a real one is a few kilobytes).
  public static let maximumHeaderLength: UInt32 = 1 << 20

  struct Header: Codable, Equatable {
    struct TensorEntry: Codable, Equatable {
      var name: String
      var shape: [Int]
    }
    var format: String
    var architecture: Architecture
    var dtype: String
    var byteOrder: String
    var parameterCount: Int
    var tensors: [TensorEntry]
  }

  static func header(of model: Model) -> Header {
    Header(
      format: "fedledger-model", architecture: model.architecture, dtype: "float32",
      byteOrder: "little", parameterCount: model.parameters.count,
      tensors: model.tensorShapes.map { .init(name: $0.name, shape: $0.shape) })
  }

  /// Magic, version, header length and the canonical JSON header.
  static func fixedHeader(of model: Model) -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let headerBytes = Array(try! encoder.encode(header(of: model)))
    var bytes = magic
    appendLE(version, to: &bytes)
    appendLE(UInt32(headerBytes.count), to: &bytes)
    return bytes + headerBytes
  }

  /// The canonical bytes the hash covers: everything in the file but the trailing SHA-256.
  static func content(of model: Model) -> [UInt8] {
    var bytes = fixedHeader(of: model)
    bytes.reserveCapacity(bytes.count + model.parameters.count * 4 + 32)
    #if _endian(little)
      // The parameters' memory already is float32 little-endian: copy it whole (the model's
      // hash encodes it, so this runs for every hash).
      model.parameters.withUnsafeBytes { bytes.append(contentsOf: $0) }
    #else
      model.parameters.withUnsafeBufferPointer { values in
        for value in values { appendLE(value.bitPattern, to: &bytes) }
      }
    #endif
    return bytes
  }

  static func contentHash(_ content: [UInt8]) -> String {
    SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
  }

  /// The complete file bytes for `model`.
  public static func encode(_ model: Model) -> [UInt8] {
    let body = content(of: model)
    return body + Array(SHA256.hash(data: body))
  }

  /// Writes `model` to `path` atomically and returns its hash.
  @discardableResult
  public static func write(_ model: Model, to path: String) throws -> String {
    let bytes = encode(model)
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url, options: .atomic)
    return bytes[(bytes.count - 32)...].map { String(format: "%02x", $0) }.joined()
  }

  /// Reads and fully checks a model file; if `expecting` is given, the file's architecture
  /// must equal it.
  public static func read(
    from path: String, expecting expected: Architecture? = nil
  ) throws(ModelFileError) -> Model {
    guard FileManager.default.fileExists(atPath: path) else { throw .notFound(path: path) }
    let data: Data
    do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw .unreadable(path: path, reason: error.localizedDescription)
    }
    return try decode(Array(data), path: path, expecting: expected)
  }

  /// Decodes and checks file bytes; `path` is used in error messages.
  public static func decode(
    _ bytes: [UInt8], path: String, expecting expected: Architecture? = nil
  ) throws(ModelFileError) -> Model {
    guard bytes.count >= 16 else {
      if bytes.count >= 8, Array(bytes[0..<8]) != magic { throw .badMagic(path: path) }
      throw .truncated(path: path, reason: "\(bytes.count) bytes is shorter than the fixed header")
    }
    guard Array(bytes[0..<8]) == magic else { throw .badMagic(path: path) }
    let fileVersion = readLE(bytes, at: 8)
    guard fileVersion == version else {
      throw .unsupportedVersion(path: path, version: fileVersion, supported: version)
    }
    // Every size below is the file's word only (an attacker recomputes the trailing hash), so
    // each is bounded by the bytes present, with overflow-checked arithmetic, before it is used.
    let declaredHeaderLength = readLE(bytes, at: 12)
    guard declaredHeaderLength <= maximumHeaderLength else {
      throw .badHeader(
        path: path,
        reason:
          "declares a header of \(declaredHeaderLength) bytes, more than the limit of \(maximumHeaderLength)"
      )
    }
    let headerLength = Int(declaredHeaderLength)
    guard headerLength <= bytes.count - 16 - 32 else {
      throw .truncated(
        path: path,
        reason: "header of \(headerLength) bytes and checksum do not fit in \(bytes.count) bytes")
    }
    let header: Header
    do {
      header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<(16 + headerLength)]))
    } catch {
      throw .badHeader(path: path, reason: "\(error)")
    }
    guard header.format == "fedledger-model" else {
      throw .badHeader(
        path: path, reason: "format is '\(header.format)', expected 'fedledger-model'")
    }
    guard header.dtype == "float32", header.byteOrder == "little" else {
      throw .badHeader(
        path: path, reason: "unsupported dtype \(header.dtype) / byte order \(header.byteOrder)")
    }
    let parameterStart = 16 + headerLength
    let parameterBytes = header.parameterCount.multipliedReportingOverflow(by: 4)
    guard header.parameterCount >= 0, !parameterBytes.overflow,
      parameterBytes.partialValue <= bytes.count - parameterStart - 32
    else {
      throw .truncated(
        path: path,
        reason:
          "header declares \(header.parameterCount) parameters, the file has \(bytes.count) bytes")
    }
    let expectedSize = parameterStart + parameterBytes.partialValue + 32
    guard bytes.count == expectedSize else {
      throw .truncated(
        path: path,
        reason:
          "header declares \(header.parameterCount) parameters (\(expectedSize) bytes in all), file has \(bytes.count) bytes"
      )
    }
    let body = Array(bytes[0..<(expectedSize - 32)])
    let stored = bytes[(expectedSize - 32)...].map { String(format: "%02x", $0) }.joined()
    let computed = contentHash(body)
    guard stored == computed else {
      throw .hashMismatch(path: path, stored: stored, computed: computed)
    }
    if let expected, expected != header.architecture {
      throw .architectureMismatch(
        path: path, expected: describe(expected), found: describe(header.architecture))
    }
    // The architecture's own sizes, checked (and bounded) before any network is built for it:
    // its layers must need exactly the parameters the file holds.
    let architectureParameters: Int
    do {
      architectureParameters = try header.architecture.parameterCount()
    } catch {
      throw .invalidArchitecture(path: path, reason: error.description)
    }
    guard architectureParameters == header.parameterCount else {
      throw .parameterCountMismatch(
        path: path, expected: architectureParameters, found: header.parameterCount)
    }
    var parameters = [Float](repeating: 0, count: header.parameterCount)
    parameters.withUnsafeMutableBufferPointer { out in
      bytes.withUnsafeBytes { raw in
        for i in 0..<out.count {
          out[i] = Float(
            bitPattern: UInt32(
              littleEndian: raw.loadUnaligned(
                fromByteOffset: parameterStart + 4 * i, as: UInt32.self)))
        }
      }
    }
    let model: Model
    do {
      model = try Model(architecture: header.architecture, parameters: parameters)
    } catch {
      switch error {
      case .parameterCountMismatch(_, let e, let f):
        throw .parameterCountMismatch(path: path, expected: e, found: f)
      case .invalidArchitecture(_, let reason):
        throw .invalidArchitecture(path: path, reason: reason)
      default: throw error
      }
    }
    let actual = model.tensorShapes
    guard actual.count == header.tensors.count else {
      throw .badHeader(
        path: path,
        reason: "declares \(header.tensors.count) tensors, the architecture has \(actual.count)")
    }
    for (declared, real) in zip(header.tensors, actual)
    where declared.shape != real.shape || declared.name != real.name {
      throw .shapeMismatch(
        path: path, tensor: declared.name, declared: declared.shape, architecture: real.shape)
    }
    // One model, one hash: the header must be exactly the canonical encoding that `Model.hash`
    // covers, so the hash stored in the file and the model's hash cannot differ.
    guard
      fixedHeader(of: model) == Array(bytes[0..<(16 + headerLength)])
    else {
      throw .badHeader(
        path: path, reason: "the header is not in canonical form (sorted keys, no spaces)")
    }
    return model
  }

  static func describe(_ a: Architecture) -> String {
    "\(a.name) \(a.inputShape) [\(a.layers.map(\.description).joined(separator: ", "))]"
  }

  private static func appendLE(_ value: UInt32, to bytes: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
  }

  private static func readLE(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16
      | UInt32(bytes[offset + 3]) << 24
  }
}
