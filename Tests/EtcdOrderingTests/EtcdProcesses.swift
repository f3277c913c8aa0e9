import Etcd
import Foundation
import XCTest

/// etcd members this test started on free loopback ports, each a process with its own data
/// directory, stopped by process id.
final class EtcdProcesses {
  let directory: String
  private(set) var processes: [Process] = []
  private(set) var endpoints: [EtcdEndpoint] = []

  /// Starts `members` etcd members as one cluster and waits (at most 20 s) until it answers.
  init(members: Int = 1) throws {
    let binary = "/usr/bin/etcd"
    guard FileManager.default.isExecutableFile(atPath: binary) else {
      throw EtcdTestError.missing(binary)
    }
    directory =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-etcd-\(UUID().uuidString)"
      ).path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let clientPorts = try (0..<members).map { _ in try freePort() }
    let peerPorts = try (0..<members).map { _ in try freePort() }
    let cluster = (0..<members).map { "m\($0)=http://127.0.0.1:\(peerPorts[$0])" }
      .joined(separator: ",")
    for i in 0..<members {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: binary)
      p.arguments = [
        "--name", "m\(i)", "--data-dir", "\(directory)/m\(i).etcd",
        "--listen-client-urls", "http://127.0.0.1:\(clientPorts[i])",
        "--advertise-client-urls", "http://127.0.0.1:\(clientPorts[i])",
        "--listen-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
        "--initial-advertise-peer-urls", "http://127.0.0.1:\(peerPorts[i])",
        "--initial-cluster", cluster, "--initial-cluster-state", "new",
        "--initial-cluster-token", "fedledger-test", "--logger", "zap",
        "--log-outputs", "\(directory)/m\(i).log",
      ]
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      processes.append(p)
      endpoints.append(EtcdEndpoint(host: "127.0.0.1", port: clientPorts[i]))
    }
  }

  /// Waits until every member answers a status request (at most `seconds`).
  func waitUntilReady(seconds: Double = 20) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    for endpoint in endpoints {
      let client = try EtcdClient(endpoints: [endpoint], timeout: .seconds(1))
      let running = Task { try await client.run() }
      defer {
        client.close()
        running.cancel()
      }
      while true {
        if (try? await client.status()) != nil { break }
        guard Date() < deadline else {
          throw EtcdTestError.notReady(endpoint.description, log: log())
        }
        try await Task.sleep(for: .milliseconds(100))
      }
    }
  }

  func log() -> String {
    (0..<processes.count).map {
      (try? String(contentsOfFile: "\(directory)/m\($0).log", encoding: .utf8))?.suffix(2000)
        .description ?? ""
    }.joined(separator: "\n")
  }

  /// Stops every member (SIGKILL: a graceful stop of a whole cluster spends seconds on a
  /// leadership transfer) and removes their data.
  func stop() {
    for p in processes where p.isRunning {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
    }
    processes = []
    try? FileManager.default.removeItem(atPath: directory)
  }

  deinit { stop() }
}

enum EtcdTestError: Error, CustomStringConvertible {
  case notReady(String, log: String)
  case missing(String)
  var description: String {
    switch self {
    case .missing(let binary):
      "\(binary) is missing: these tests run real etcd members (apt-get install etcd-server)"
    case .notReady(let endpoint, let log):
      "etcd at \(endpoint) did not answer in time; its log:\n\(log)"
    }
  }
}

/// A loopback TCP port nothing listens on now (bound and released).
func freePort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  guard fd >= 0 else { throw POSIXError(.EMFILE) }
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_port = 0
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  let bound = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
      bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
    }
  }
  guard bound else { throw POSIXError(.EADDRINUSE) }
  return Int(UInt16(bigEndian: address.sin_port))
}
