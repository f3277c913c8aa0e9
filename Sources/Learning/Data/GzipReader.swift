import CZlib
import Foundation

/// Reads a file that may or may not be gzip-compressed, through zlib's gzread.
///
/// zlib passes non-gzip files through unchanged, so one code path serves `x` and `x.gz`.
/// Every failure is reported as a `DatasetError` naming the file.
final class GzipReader {
  let path: String
  private let file: gzFile
  /// Bytes delivered so far (decompressed).

  /// Opens `path`, throwing `.fileNotFound` if it is missing.
  init(path: String) throws {
    self.path = path
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw DatasetError.fileNotFound(path: path)
    }
    guard !isDirectory.boolValue else {
      throw DatasetError.unreadable(path: path, reason: "is a directory, not a file")
    }
    guard let file = gzopen(path, "rb") else {
      throw DatasetError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    self.file = file
    // A larger input buffer than zlib's 8 KiB default makes big reads noticeably faster.
    gzbuffer(file, 1 << 18)
  }

  deinit { gzclose(file) }

  /// Fills `buffer` as far as the file allows and returns the number of bytes read; fewer
  /// than `buffer.count` means the end of the data.
  ///
  /// A corrupt stream throws `.unreadable` with zlib's message. A gzip stream that stops
  /// early returns the bytes it had, like a short raw file.
  func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
    guard let base = buffer.baseAddress else { return 0 }
    var done = 0
    while done < buffer.count {
      let want = UInt32(min(buffer.count - done, 1 << 30))
      let got = gzread(file, base + done, want)
      if got < 0 { throw DatasetError.unreadable(path: path, reason: errorMessage()) }
      if got == 0 { break }
      done += Int(got)
    }
    if done < buffer.count {
      var code: Int32 = 0
      _ = gzerror(file, &code)
      if code != Z_OK && code != Z_BUF_ERROR {
        throw DatasetError.unreadable(path: path, reason: errorMessage())
      }
    }
    return done
  }

  /// Reads up to `count` bytes; the result is shorter only at the end of the data.
  ///
  /// The array is allocated up front (capped at 256 MiB and then grown by doubling, so that a
  /// header promising absurd sizes cannot exhaust memory) and zlib writes straight into it.
  func readBytes(upTo count: Int, startingWith first: Int = 1 << 28) throws -> [UInt8] {
    var wanted = min(count, first)
    var result = try readChunk(wanted)
    while result.count == wanted && wanted < count {
      let more = min(count - wanted, wanted)
      let chunk = try readChunk(more)
      result.append(contentsOf: chunk)
      wanted += more
      if chunk.count < more { break }
    }
    return result
  }

  /// Reads everything up to the end of the data.
  func readAll() throws -> [UInt8] { try readBytes(upTo: Int.max, startingWith: 1 << 20) }

  /// Reads to the end, discarding the data, so that zlib checks the gzip trailer (CRC and
  /// length) of a stream whose payload has been read.
  func verifyToEnd() throws {
    var scratch = [UInt8](repeating: 0, count: 1 << 16)
    while try scratch.withUnsafeMutableBytes({ try read(into: $0) }) == scratch.count {}
  }

  private func readChunk(_ count: Int) throws -> [UInt8] {
    try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
      initialized = try read(into: UnsafeMutableRawBufferPointer(buffer))
    }
  }

  private func errorMessage() -> String {
    var code: Int32 = 0
    guard let message = gzerror(file, &code) else { return "zlib error \(code)" }
    var text = String(cString: message)
    // zlib prefixes its messages with the path, which DatasetError already names.
    if text.hasPrefix(path + ": ") { text.removeFirst(path.count + 2) }
    return text.isEmpty ? "zlib error \(code)" : text
  }
}

/// Returns the first of `candidates` (file names inside `directory`) that exists, or throws
/// `.fileNotFound` naming every path tried.
func findFile(in directory: String, candidates: [String]) throws -> String {
  let paths = candidates.map { (directory as NSString).appendingPathComponent($0) }
  var isDirectory: ObjCBool = false
  for path in paths
  where FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
    && !isDirectory.boolValue
  {
    return path
  }
  throw DatasetError.fileNotFound(path: paths.joined(separator: " or "))
}

/// Throws `.fileNotFound` unless `path` is an existing directory.
func requireDirectory(_ path: String) throws {
  var isDirectory: ObjCBool = false
  guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
    isDirectory.boolValue
  else { throw DatasetError.fileNotFound(path: path) }
}
