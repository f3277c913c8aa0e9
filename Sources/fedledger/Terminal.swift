import Foundation

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
