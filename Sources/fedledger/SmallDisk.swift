import ArgumentParser
import Foundation

/// A small tmpfs a fault trial mounts for one node's data, fills, and frees (root only: it
/// mounts).
final class SmallDisk: @unchecked Sendable {
  let path: String
  private var filler: String { path + "/filler" }

  /// Mounts a tmpfs of `megabytes` at `path`.
  init(at path: String, megabytes: Int) throws {
    guard getuid() == 0 else {
      throw ValidationError("the full-disk trial mounts a tmpfs, which needs root")
    }
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    try Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
    self.path = path
  }

  /// Writes a file until the disk has no byte left; returns how much it wrote.
  @discardableResult
  func fill() throws -> Int {
    guard FileManager.default.createFile(atPath: filler, contents: nil),
      let handle = FileHandle(forWritingAtPath: filler)
    else { throw ValidationError("\(filler) cannot be written") }
    defer { try? handle.close() }
    var written = 0
    for size in [1 << 20, 4096, 1] {
      let chunk = Data(count: size)
      while (try? handle.write(contentsOf: chunk)) != nil { written += size }
    }
    return written
  }

  /// Removes what `fill` wrote.
  func free() throws { try FileManager.default.removeItem(atPath: filler) }

  func unmount() { try? Self.run("/bin/umount", ["-l", path]) }

  private static func run(_ program: String, _ arguments: [String]) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = arguments
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      throw ValidationError(
        "\(program) \(arguments.joined(separator: " ")) failed with status \(p.terminationStatus)")
    }
  }
}

extension DevnetProcesses {
  /// Restarts node `i` with its data (copied as it stands) on `disk`.
  func move(node i: Int, onto disk: SmallDisk) throws {
    guard var arguments = state.nodes[i].arguments,
      let at = arguments.firstIndex(of: "--data"), at + 1 < arguments.count
    else { throw ValidationError("node-\(i) was started without a recorded --data") }
    try signal(.node(i), SIGKILL)
    let moved = disk.path + "/node-\(i)"
    try FileManager.default.copyItem(atPath: arguments[at + 1], toPath: moved)
    arguments[at + 1] = moved
    try restart(.node(i), arguments: arguments)
  }
}
