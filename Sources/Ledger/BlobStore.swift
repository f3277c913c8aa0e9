import Foundation
import Records
import RecordsJSON

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Content-addressed files: models and update payloads, each named by its SHA-256.
///
/// A blob is written to a temporary file, synced, then renamed into place, so a crash leaves
/// either the whole blob or nothing under its name. Reads check the bytes against the name.
public struct BlobStore: Sendable {
  public let directory: String

  /// Opens the store at `directory`, creating it unless `create` is false (for readers).
  public init(directory: String, create: Bool = true) throws(LedgerError) {
    self.directory = directory
    guard create else { return }
    do {
      try FileManager.default.createDirectory(
        atPath: directory + "/tmp", withIntermediateDirectories: true)
    } catch {
      throw .storage(
        path: directory, reason: "cannot create the blob store: \(error.localizedDescription)")
    }
  }

  public func path(of hash: Hash256) -> String {
    "\(directory)/\(hash.hex.prefix(2))/\(hash.hex)"
  }

  public func contains(_ hash: Hash256) -> Bool {
    FileManager.default.fileExists(atPath: path(of: hash))
  }

  /// Stores `bytes` (once; a blob already present is kept) and returns its name. `sync: false`
  /// skips the fsyncs, for bulk loads that can be redone (benchmarks). `checked`: the bytes'
  /// SHA-256, which the caller has just computed from them (not hashed again; `get` checks it).
  @discardableResult
  public func put(_ bytes: [UInt8], checked: Hash256? = nil, sync: Bool = true)
    throws(LedgerError) -> Hash256
  {
    let hash = checked ?? Hash256.of(bytes)
    let final = path(of: hash)
    // A blob already here is kept if intact; a damaged one is replaced.
    if FileManager.default.fileExists(atPath: final), (try? get(hash)) != nil { return hash }
    let shard = (final as NSString).deletingLastPathComponent
    let temporary = "\(directory)/tmp/\(hash.hex).\(getpid()).\(UInt64.random(in: 0...UInt64.max))"
    if !FileManager.default.fileExists(atPath: shard) {
      do {
        try FileManager.default.createDirectory(atPath: shard, withIntermediateDirectories: true)
      } catch {
        throw .storage(
          path: shard, reason: "cannot create directory: \(error.localizedDescription)")
      }
      if sync { syncDirectory(directory) }
    }
    let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else { throw .storage(path: temporary, reason: String(cString: strerror(errno))) }
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
      if n < 0 {
        if errno == EINTR { continue }
        let reason = String(cString: strerror(errno))
        close(fd)
        unlink(temporary)
        throw .storage(path: temporary, reason: reason)
      }
      written += n
    }
    guard !sync || fsync(fd) == 0 else {
      let reason = String(cString: strerror(errno))
      close(fd)
      unlink(temporary)
      throw .storage(path: temporary, reason: "fsync failed: \(reason)")
    }
    close(fd)
    guard rename(temporary, final) == 0 else {
      let reason = String(cString: strerror(errno))
      unlink(temporary)
      throw .storage(path: final, reason: "rename failed: \(reason)")
    }
    if sync { syncDirectory(shard) }
    return hash
  }

  /// Makes `hash` from `source` present here too: a hard link when both stores share a file
  /// system (blobs are immutable and checked on every read), a checked copy otherwise.
  public func replicate(_ hash: Hash256, from source: BlobStore) throws(LedgerError) {
    let target = path(of: hash)
    if FileManager.default.fileExists(atPath: target) { return }
    let shard = (target as NSString).deletingLastPathComponent
    if !FileManager.default.fileExists(atPath: shard) {
      try? FileManager.default.createDirectory(atPath: shard, withIntermediateDirectories: true)
      syncDirectory(directory)
    }
    if link(source.path(of: hash), target) == 0 {
      syncDirectory(shard)
      return
    }
    try put(try source.get(hash))
  }

  /// The blob's bytes, checked against its name (unless `unchecked`: for bytes on their way
  /// to a reader who checks them anyway).
  public func get(_ hash: Hash256, unchecked: Bool = false) throws(LedgerError) -> [UInt8] {
    let p = path(of: hash)
    guard let data = FileManager.default.contents(atPath: p) else {
      throw .missingBlob(hash: hash, path: p)
    }
    let bytes = Array(data)
    guard unchecked || Hash256.of(bytes) == hash else {
      throw .corruptBlob(hash: hash, path: p)
    }
    return bytes
  }

  /// Every blob name in the store, sorted.
  public func all() -> [Hash256] {
    let fm = FileManager.default
    var out: [Hash256] = []
    for shard in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] where shard.count == 2 {
      for name in (try? fm.contentsOfDirectory(atPath: "\(directory)/\(shard)")) ?? [] {
        if let h = Hash256(hex: name) { out.append(h) }
      }
    }
    return out.sorted()
  }

  /// Removes temporary files a crash left behind.
  func sweep() {
    let tmp = directory + "/tmp"
    for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
      unlink("\(tmp)/\(name)")
    }
  }

  private func syncDirectory(_ path: String) {
    let fd = open(path, O_RDONLY)
    if fd >= 0 {
      fsync(fd)
      close(fd)
    }
  }
}
