import Etcd
import Foundation
import LocalProcesses
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
    let cluster = try LoopbackEtcd(members: members, token: "fedledger-test")
    for i in 0..<members {
      let p = Process()
      p.executableURL = URL(fileURLWithPath: binary)
      p.arguments = cluster.arguments(
        member: i, dataDirectory: "\(directory)/m\(i).etcd", logOutput: "\(directory)/m\(i).log")
      p.standardOutput = FileHandle.nullDevice
      p.standardError = FileHandle.nullDevice
      try p.run()
      processes.append(p)
      endpoints.append(EtcdEndpoint(host: "127.0.0.1", port: cluster.clientPorts[i]))
    }
  }

  /// A cluster of `members` members that answers. Free ports are found by binding and
  /// letting go: another process may take one before a member binds it, so a cluster that does
  /// not come up is started again on other ports (three times at most).
  static func ready(members: Int) async throws -> EtcdProcesses {
    var attempt = 0
    while true {
      let etcd = try EtcdProcesses(members: members)
      do {
        try await etcd.waitUntilReady()
        return etcd
      } catch {
        etcd.stop()
        attempt += 1
        if attempt == 3 { throw error }
      }
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
        // A member that exited (its port taken meanwhile by another process) never answers.
        guard Date() < deadline, processes.allSatisfy(\.isRunning) else {
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

/// A test case with its own etcd cluster (`etcdMembers` members) and directory; what it
/// started is stopped in reverse order through `stops`.
class EtcdTestCase: XCTestCase {
  class var etcdMembers: Int { 1 }
  var directory = ""
  var etcd: EtcdProcesses?
  var stops: [() -> Void] = []

  override func setUp() async throws {
    directory =
      FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-\(Self.self)-\(UUID().uuidString)"
      ).path
    etcd = try await EtcdProcesses.ready(members: Self.etcdMembers)
  }

  override func tearDown() {
    for stop in stops.reversed() { stop() }
    stops = []
    etcd?.stop()
    try? FileManager.default.removeItem(atPath: directory)
  }
}
