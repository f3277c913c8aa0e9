import ArgumentParser
import Etcd
import Foundation
import Ledger
import Records

/// One trial of `fedledger trial`: a devnet, one fault at a point of a round, the rounds to
/// their end, and the history check.
final class FaultTrial {
  let kind: FaultKind
  let directory: String
  let rounds: Int
  static let roundTimeout = 20
  /// The loopback proxies a partition trial put between a node and the rest.
  private var proxies: [LoopbackProxy] = []
  /// The tmpfs a full-disk trial put a node's data on: unmounted once its history is read.
  private var disk: SmallDisk?

  init(kind: FaultKind, directory: String, rounds: Int) {
    self.kind = kind
    self.directory = directory
    self.rounds = rounds
  }

  func run() async throws -> TrialHistory {
    let config = directory + "-config.json"
    try Data(#"{"rounds": \#(rounds), "model": "mlp"}"#.utf8).write(
      to: URL(fileURLWithPath: config))
    let devnet = try Devnet.Running(
      directory: directory,
      up: [
        "--nodes", "4", "--clusters", "4", "--config", config, "--round-timeout",
        "\(Self.roundTimeout)",
      ])
    var byzantine: (node: Int, from: UInt64)?
    defer { for proxy in proxies { proxy.stop() } }
    do {
      let processes = try DevnetProcesses(directory: directory, state: devnet.state)
      byzantine = try await inject(processes)
      try await processes.waitUntil("every round committed on every node", seconds: 240) {
        await processes.finished(rounds: rounds)
      }
      try await processes.waitUntil("every blob the ledger names on every node", seconds: 60) {
        processes.replicated()
      }
    } catch {
      devnet.down()
      disk?.unmount()
      throw error
    }
    devnet.down()
    defer { disk?.unmount() }
    return TrialHistory(
      directory: directory, nodes: 4, genesis: devnet.genesis, byzantine: byzantine,
      ledgers: disk.map { [2: "\($0.path)/node-2/ledger"] } ?? [:])
  }

  /// Injects the fault; returns the node that lies from then on, and the round it began in.
  private func inject(_ p: DevnetProcesses) async throws -> (node: Int, from: UInt64)? {
    switch kind {
    case .killNode:
      let round = try await p.roundInFlight()
      try p.signal(.node(2), SIGKILL)
      p.note("killed node-2 in round \(round)")
      try await p.waitUntil("round \(round) committed without node-2", seconds: 120) {
        p.view(node: 0)?.committed(round) == true
      }
      try p.restart(.node(2))
      p.note("restarted node-2")
    case .killEtcdLeader:
      let round = try await p.roundInFlight()
      let leader = try await p.etcdLeader()
      try p.signal(.etcd(leader), SIGKILL)
      p.note("killed etcd member m\(leader), the leader, in round \(round)")
      try await p.waitUntil("round \(round) committed after the election", seconds: 120) {
        p.view(node: 0)?.committed(round) == true
      }
      try p.restart(.etcd(leader))
      p.note("restarted m\(leader)")
    case .stopNode:
      let round = try await p.roundInFlight()
      try p.signal(.node(1), SIGSTOP)
      p.note("stopped node-1 in round \(round)")
      try await p.waitUntil("round \(round + 1) committed without node-1", seconds: 120) {
        p.view(node: 0)?.committed(round + 1) == true
      }
      try p.signal(.node(1), SIGCONT)
      p.note("continued node-1")
    case .partitionNode:
      proxies = try p.putBehindProxies(node: 1)
      p.note("restarted node-1 behind loopback proxies to etcd, its peers and its clusters")
      let round = try await p.roundInFlight()
      for proxy in proxies { proxy.sever() }
      p.note("cut node-1 off in round \(round)")
      try await p.waitUntil("round \(round + 1) committed without node-1", seconds: 120) {
        p.view(node: 0)?.committed(round + 1) == true
      }
      for proxy in proxies { proxy.heal() }
      p.note("healed node-1's links")
    case .fullDisk:
      let disk = try SmallDisk(at: directory + "/node-2-disk", megabytes: 64)
      self.disk = disk
      try p.move(node: 2, onto: disk)
      p.note("restarted node-2 with its data on a 64 MB tmpfs")
      let round = try await p.roundInFlight()
      let filled = try disk.fill()
      p.note("filled node-2's disk in round \(round) (\(filled >> 20) MB)")
      try await p.waitUntil("round \(round + 1) committed without node-2", seconds: 120) {
        p.view(node: 0)?.committed(round + 1) == true
      }
      try await p.waitUntil("node-2 reporting its full disk", seconds: 60) {
        p.logged(.node(2), "disk is full")
      }
      try disk.free()
      p.note("freed node-2's disk")
    case .killCluster:
      var attempt = 0
      while true {
        attempt += 1
        let round = try await p.roundOpened(after: p.view(node: 0)?.newestRound ?? 0)
        try p.signal(.cluster(1), SIGKILL)
        p.note("killed cluster-1 as round \(round) opened")
        try await p.waitUntil("round \(round) closed", seconds: 120) {
          p.view(node: 0)?.closed(round) == true
        }
        let answered = try p.answered(cluster: "cluster-1", round: round)
        try p.restart(.cluster(1))
        p.note("restarted cluster-1")
        guard answered else {
          try await p.waitUntil("cluster-1 answering a round after \(round)", seconds: 120) {
            ((round + 1)...(round + 3)).contains {
              (try? p.answered(cluster: "cluster-1", round: $0)) == true
            }
          }
          return nil
        }
        // It sent its update before it died: the round did not test the deadline.
        guard attempt < 3 else {
          throw ValidationError("cluster-1 answered before it was killed, three rounds running")
        }
      }
    case .restartAll:
      try await p.waitUntil("round 2 committed", seconds: 120) {
        p.view(node: 0)?.committed(2) == true
      }
      for i in 0..<4 { try p.signal(.node(i), SIGKILL) }
      for i in 0..<3 { try p.signal(.etcd(i), SIGKILL) }
      p.note("killed every node and etcd member")
      for i in 0..<3 { try p.restart(.etcd(i)) }
      for i in 0..<4 { try p.restart(.node(i)) }
      p.note("started them again")
    case .byzantineHost:
      let round = try await p.roundInFlight()
      try p.signal(.node(3), SIGKILL)
      try p.restart(
        .node(3), adding: ["--byzantine", "other-rule", "--byzantine", "withhold-blobs"])
      p.note("restarted node-3 as a lying host (another rule, no blobs served) in round \(round)")
      try await p.waitUntil("round \(round + 2) committed by the three honest nodes", seconds: 120)
      {
        p.view(node: 0)?.committed(round + 2) == true
      }
      try await p.waitUntil("node-3's lies on the ledger", seconds: 60) {
        p.endorsements(by: 3, from: round) > 0
      }
      return (3, round)
    }
    return nil
  }
}
