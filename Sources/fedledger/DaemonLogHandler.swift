import Foundation
import Logging

/// A daemon's log lines on standard error: UTC time to the millisecond (so that lines from
/// nodes, clusters and etcd on several machines line up), level, label, source and message,
/// then metadata as `key=value`, one line each, written whole.
struct DaemonLogHandler: LogHandler {
  let label: String
  var logLevel: Logger.Level = .info
  var metadata: Logger.Metadata = [:]

  init(label: String) { self.label = label }

  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  func log(event: LogEvent) {
    let all = metadata.merging(event.metadata ?? [:]) { $1 }
    let fields = all.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
    let line =
      "\(Self.timestamp()) \(event.level) \(label): [\(event.source)] \(event.message)\(fields)\n"
    FileHandle.standardError.write(Data(line.utf8))
  }

  /// `2026-12-07T15:41:17.215Z`.
  static func timestamp(_ date: Date = Date()) -> String {
    var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
    let millis = Int((date.timeIntervalSince1970 - Double(seconds)) * 1000)
    var parts = tm()
    gmtime_r(&seconds, &parts)
    return String(
      format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900,
      Int(parts.tm_mon) + 1, Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min),
      Int(parts.tm_sec), millis)
  }
}
