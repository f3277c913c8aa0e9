import EnclaveMessages
import Foundation
import Records

/// Carries request frames to an enclave and its response frames back.
public protocol EnclaveTransport: AnyObject {
  func exchange(_ request: [UInt8]) throws -> [UInt8]
  func close()
}

/// The enclave program as a child process, talking over its stdin and stdout; its log (stderr)
/// goes to a file.
public final class ProcessEnclave: EnclaveTransport {
  let process = Process()
  let input = Pipe()
  let output = Pipe()

  public init(program: String, platform: String, log: String) throws {
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = ["--platform", platform]
    process.standardInput = input
    process.standardOutput = output
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    #if os(Linux)
      // A round's request is tens of megabytes: 1 MiB pipes move it in fewer context switches
      // than the default 64 KiB (best effort; the kernel may refuse a larger size).
      let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ
      for fd in [
        input.fileHandleForWriting.fileDescriptor, output.fileHandleForReading.fileDescriptor,
      ] {
        _ = fcntl(fd, setPipeSize, 1 << 20)
      }
    #endif
    try process.run()
  }

  public func exchange(_ request: [UInt8]) throws -> [UInt8] {
    try Frames.write(request, to: input.fileHandleForWriting.fileDescriptor)
    guard let response = try Frames.read(from: output.fileHandleForReading.fileDescriptor) else {
      throw Frames.Failure.closed
    }
    return response
  }

  public func close() {
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
  }

  deinit {
    if process.isRunning { process.terminate() }
  }
}

/// Where the enclave program is: next to the running executable (as `swift build` places it).
public enum EnclaveProgram {
  public static let name = "fedledger-enclave"

  public static func locate() -> String? {
    let me =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    let candidate = URL(fileURLWithPath: me).deletingLastPathComponent()
      .appendingPathComponent(name).path
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
  }
}
