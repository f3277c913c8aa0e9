import ArgumentParser
import Etcd
import Foundation
import Ledger
import Records

/// `fedledger trial`: a fault injected into a real devnet's processes during real rounds, then
/// the whole history checked (docs/reliability.md).
struct Trial: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Inject faults into a devnet's processes during rounds; check the whole history.",
    discussion: """
      Each trial founds a devnet (etcd x3 with TLS, 4 nodes, 4 clusters training the MLP for \
      --rounds rounds, a 20 s round timeout), injects its fault at a point of a round it waits \
      for, lets the network finish its rounds, stops it, and checks its history: every node's \
      ledger re-verifies from genesis and all end on one head, every committed model's receipt \
      verifies from genesis, no round commits two models, every accepted update is on the \
      ledger once and is one its cluster made, and no endorser signs two statements for a \
      round. Trials: \(FaultKind.allCases.map(\.rawValue).joined(separator: ", ")).
      """)

  @Argument(help: "The trials to run (default: all).") var names: [String] = []
  @Option(help: "Rounds each devnet runs (at least 4).") var rounds = 5
  @Option(help: "Where the devnets go (default: a temporary directory).") var directory: String?
  @Flag(help: "Keep each devnet's directory.") var keep = false

  func run() async throws {
    let kinds = try names.isEmpty ? FaultKind.allCases : names.map(kind)
    guard rounds >= 4 else { throw ValidationError("--rounds: at least 4") }
    let base =
      directory
      ?? FileManager.default.temporaryDirectory.appendingPathComponent(
        "fedledger-trial-\(UUID().uuidString)"
      ).path
    try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
    var failed: [String] = []
    for kind in kinds {
      let dir = "\(base)/\(kind.rawValue)"
      print("trial \(kind.rawValue): \(kind.fault)")
      let start = Date()
      do {
        let history = try await FaultTrial(kind: kind, directory: dir, rounds: rounds).run()
        let seconds = String(format: "%.0f", Date().timeIntervalSince(start))
        if history.problems.isEmpty {
          print("  passed in \(seconds) s: \(history.summary)")
        } else {
          failed.append(kind.rawValue)
          print("  FAILED in \(seconds) s:")
          for p in history.problems { print("    - \(p)") }
        }
      } catch {
        failed.append(kind.rawValue)
        print("  FAILED: \(error) (logs in \(dir)/logs)")
      }
      if !keep && !failed.contains(kind.rawValue) {
        try? FileManager.default.removeItem(atPath: dir)
      }
    }
    if !keep && failed.isEmpty { try? FileManager.default.removeItem(atPath: base) }
    if !failed.isEmpty {
      Terminal.error("trials failed: \(failed.joined(separator: ", ")); kept in \(base)")
      throw ExitCode.failure
    }
  }

  private func kind(_ name: String) throws -> FaultKind {
    guard let k = FaultKind(rawValue: name) else {
      throw ValidationError(
        "no trial \"\(name)\"; the trials are "
          + FaultKind.allCases.map(\.rawValue).joined(separator: ", "))
    }
    return k
  }
}

/// The faults `fedledger trial` injects.
enum FaultKind: String, CaseIterable {
  case killNode = "kill-node"
  case killEtcdLeader = "kill-etcd-leader"
  case stopNode = "stop-node"
  case partitionNode = "partition-node"
  case killCluster = "kill-cluster"
  case restartAll = "restart-all"
  case byzantineHost = "byzantine-host"
  case fullDisk = "full-disk"

  var fault: String {
    switch self {
    case .killNode:
      "kill -9 node-2 after a round's first update, before its close; the round commits with the other three; node-2 restarts and catches up"
    case .killEtcdLeader:
      "kill -9 etcd's leader after a round's first update; ordering resumes after the election; the member restarts"
    case .stopNode:
      "SIGSTOP node-1 after a round's first update until the next round commits, then SIGCONT; it catches up"
    case .partitionNode:
      "cut node-1 off from etcd, its peers and its clusters (loopback proxies that stop moving bytes) after a round's first update, until the next round commits, then heal; it catches up"
    case .killCluster:
      "kill -9 cluster-1 as a round opens; the round closes at its deadline without it; it restarts and answers a later round"
    case .restartAll:
      "kill -9 every node and etcd member at once after round 2 commits, then start them again; the network resumes from disk"
    case .fullDisk:
      "move node-2's data onto a 64 MB tmpfs, fill it after a round's first update until the next round commits, then free it; node-2 stops writing with a clear error, keeps a consistent ledger and catches up (needs root)"
    case .byzantineHost:
      "restart node-3 as a lying host mid-round: it aggregates with another rule and serves no blob to peers or clusters; its endorsements diverge and are recorded, the models commit with the three honest ones"
    }
  }
}
