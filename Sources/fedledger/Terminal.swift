import ArgumentParser
import Foundation
import Logging

/// Progress and status output on standard error, redrawn in place on a terminal.
enum Terminal {
  static let isInteractive = isatty(STDERR_FILENO) != 0

  static func status(_ line: String) {
    if isInteractive {
      FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
    }
  }

  static func clearStatus() {
    if isInteractive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
  }

  static func error(_ message: String) {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
  }

  static func duration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 60 ? "\(s / 60)m\(String(format: "%02d", s % 60))s" : "\(s)s"
  }
}

extension Terminal {
  /// Runs a long-running process's body with structured logs on standard error (label
  /// `label`, level info, times to the millisecond); an error ends the process with its
  /// message and a failure status.
  static func daemon(
    _ label: String, _ body: (Logger) async throws -> Void
  ) async throws {
    LoggingSystem.bootstrap { DaemonLogHandler(label: $0) }
    var logger = Logger(label: label)
    logger.logLevel = .info
    do {
      try await body(logger)
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }
}
