import ArgumentParser
import Federation
import Foundation
import Gateway
import Learning
import Ledger
import Logging
import NodeAPI
import Records

/// `fedledger bench network`: a devnet's rounds and ingest, measured from outside.
struct BenchNetwork: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "network",
    abstract: "A network of processes: round overhead, commit latency, ingest, node memory.",
    discussion: """
      Part 1 runs a devnet (etcd x3 with TLS, --nodes node processes, --clusters cluster \
      processes training LeNet-5 on Fashion-MNIST for one local epoch) for --rounds rounds, \
      follows every node's blocks, and reads the clusters' logs: a round's period (open to \
      the next open) less the most work one cluster did in it (training for the round, after \
      evaluating the model before, which clusters judge while the next round trains) is its \
      overhead (network, ordering, replication, aggregation, endorsements, commit), shown \
      split by phase; commit latency is \
      from the first node storing the block that brought the k-th endorsement to the last \
      node storing the model commit. The first round (processes starting) and the last (no \
      next open) are left out. Part 2, the load test, founds a devnet of --ingest clusters, \
      waits for the round that asks them all, and has each of them seal a real LeNet-size \
      update envelope and submit it over TLS, to node i mod --nodes, all at once (or \
      --concurrency at a time); one cluster is left out, so the round stays open and no \
      aggregation runs meanwhile. It prints accepted per second, the p50 and p99 submit \
      latency, the time until every node ordered every commitment and holds every payload, \
      and checks that each cluster's commitment is on every node exactly once. Both \
      parts print the nodes' peak resident memory. Everything runs in a temporary directory \
      (kept with --keep).
      """)

  @Option(help: "Ledger nodes.") var nodes = 4
  @Option(help: "Clusters in part 1.") var clusters = 10
  @Option(help: "Rounds in part 1 (at least 3).") var rounds = 6
  @Option(help: "Envelopes (and clusters) in part 2; 0 skips it.") var ingest = 1000
  @Option(help: "Submissions in flight in part 2 (default: every cluster at once).")
  var concurrency: Int?
  @Flag(help: "Keep the devnets' directories.") var keep = false
  @Flag(help: "Skip part 1 (the rounds).") var noRounds = false

  func validate() throws {
    guard nodes >= 1, clusters >= 1, rounds >= 3, ingest >= 0, (concurrency ?? 1) >= 1 else {
      throw ValidationError("--nodes and --clusters at least 1, --rounds at least 3")
    }
  }

  func run() async throws {
    do {
      print(
        "bench network: \(nodes) nodes, etcd x3 with TLS, all on loopback; CPU \(Self.cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores"
      )
      let root = FileManager.default.temporaryDirectory
        .appendingPathComponent("fedledger-bench-network-\(UUID().uuidString)").path
      defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
      if !noRounds { try await measureRounds(in: root + "/rounds") }
      if ingest > 0 { try await measureIngest(in: root + "/ingest") }
      if keep { print("  kept: \(root)") }
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  // MARK: Part 1

  private func measureRounds(in dir: String) async throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config = dir + "-config.json"
    try Data(#"{"rounds": \#(rounds)}"#.utf8).write(to: URL(fileURLWithPath: config))
    print(
      "  part 1: \(clusters) cluster processes, LeNet-5 on Fashion-MNIST, 1 local epoch, \(rounds) rounds (simulate's defaults otherwise)"
    )
    let devnet = try Devnet.Running(
      directory: dir,
      up: [
        "--nodes", "\(nodes)", "--clusters", "\(clusters)", "--config", config,
        "--round-timeout", "600",
      ])
    defer { devnet.down() }
    let recorder = try await devnet.follow()
    let deadline = Date().addingTimeInterval(Double(rounds) * 120)
    while recorder.committedEverywhere(round: UInt64(rounds), nodes: nodes) == nil {
      guard Date() < deadline else {
        throw ValidationError("the devnet did not commit \(rounds) rounds; see \(dir)/logs")
      }
      try await Task.sleep(for: .milliseconds(200))
    }
    let work = try Self.clusterWork(logs: dir + "/logs", clusters: clusters)
    var periods: [Double] = []
    var overheads: [Double] = []
    var working: [Double] = []
    var latencies: [Double] = []
    // Per round: open -> last update ordered, -> close, -> k-th endorsement, -> next open.
    var phases: [[Double]] = []
    for r in 1...UInt64(rounds) {
      if let commit = recorder.committedEverywhere(round: r, nodes: nodes),
        let k = recorder.quorumEndorsed(round: r, threshold: devnet.genesis.endorsementThreshold)
      {
        latencies.append(commit - k)
      }
      guard r >= 2, r < UInt64(rounds), let open = recorder.opened(round: r),
        let next = recorder.opened(round: r + 1)
      else { continue }
      let period = next - open
      // The cluster that worked longest in this period: its training for round r, after its
      // report on round r-1's model (judged while round r trains).
      let most = work.map { ($0[r]?.training ?? 0) + ($0[r - 1]?.evaluation ?? 0) }.max() ?? 0
      periods.append(period)
      working.append(most)
      overheads.append(period - most)
      if let update = recorder.lastUpdate(round: r), let close = recorder.closed(round: r),
        let k = recorder.quorumEndorsed(round: r, threshold: devnet.genesis.endorsementThreshold)
      {
        phases.append([update - open, close - update, k - close, next - k])
      }
    }
    let total = periods.reduce(0, +)
    let overhead = overheads.reduce(0, +)
    let n = Double(periods.count)
    print(
      String(
        format:
          "    rounds 2-%d: period %.2f s on average, of which the busiest cluster's work (evaluation and training) %.2f s; overhead %.3f s = %.1f%% of the round (goal at most 10%%)",
        rounds - 1, total / n, working.reduce(0, +) / n, overhead / n, 100 * overhead / total))
    if !phases.isEmpty {
      let mean = (0..<4).map { i in phases.map { $0[i] }.reduce(0, +) / Double(phases.count) }
      print(
        String(
          format:
            "    phases on average: open -> last update ordered %.3f s (its cluster's work inside), -> close %.0f ms, -> k-th endorsement %.0f ms, -> next round open %.0f ms",
          mean[0], 1000 * mean[1], 1000 * mean[2], 1000 * mean[3]))
    }
    let sorted = latencies.sorted()
    guard !sorted.isEmpty, !periods.isEmpty else {
      throw ValidationError("no round to measure; see \(dir)/logs")
    }
    let median =
      sorted.count % 2 == 1
      ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    print(
      String(
        format:
          "    commit latency (k-th endorsement stored on a node -> commit stored on all %d): median %.0f ms, max %.0f ms over %d rounds (goal median at most 200 ms)",
        nodes, 1000 * median, 1000 * (sorted.last ?? 0), sorted.count))
    print("    node peak resident memory: \(devnet.peakMemory()) (goal at most 300 MB)")
  }

  /// Per cluster, per round: its training seconds, and its evaluation seconds of that round's
  /// model, from the clusters' logs.
  static func clusterWork(logs: String, clusters: Int) throws -> [[UInt64: (
    training: Double, evaluation: Double
  )]] {
    var work: [[UInt64: (training: Double, evaluation: Double)]] = []
    let trained = #/round (\d+): trained on \d+ samples in ([0-9.]+) s/#
    let judged =
      #/round (\d+): the model scores accuracy [0-9.]+ on \d+ held-out samples in ([0-9.]+) s/#
    for i in 0..<clusters {
      let text = try String(contentsOfFile: "\(logs)/cluster-\(i).log", encoding: .utf8)
      var mine: [UInt64: (training: Double, evaluation: Double)] = [:]
      for line in text.split(separator: "\n") {
        if let m = line.firstMatch(of: trained), let r = UInt64(m.1), let s = Double(m.2) {
          mine[r, default: (0, 0)].training = s
        } else if let m = line.firstMatch(of: judged), let r = UInt64(m.1), let s = Double(m.2) {
          mine[r, default: (0, 0)].evaluation = s
        }
      }
      work.append(mine)
    }
    return work
  }

  // MARK: Part 2

  private func measureIngest(in dir: String) async throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let config = dir + "-config.json"
    // One round asking every cluster; no held-out data, so nothing else runs.
    try Data(#"{"rounds": 1, "evaluation": {"heldOut": 0}}"#.utf8).write(
      to: URL(fileURLWithPath: config))
    // One cluster more than envelopes: the round stays open, so what is measured is taking,
    // ordering and replicating updates, not aggregating them.
    print("  part 2: \(ingest + 1) clusters enrolled, one round asking them all")
    let devnet = try Devnet.Running(
      directory: dir,
      up: [
        "--nodes", "\(nodes)", "--clusters", "\(ingest + 1)", "--config", config, "--no-clusters",
        "--round-timeout", "600",
      ])
    defer { devnet.down() }
    let recorder = try await devnet.follow()
    let genesis = devnet.genesis
    let network = dir + "/network"
    let initial = try ModelFile.read(from: network + "/initial-model.flm")
    guard let base = genesis.initialModel else { throw ValidationError("genesis names no model") }
    // Every cluster's key, read before the clock starts; each seals its envelope on the clock.
    var keys: [SigningKey] = []
    for i in 0..<ingest {
      keys.append(try IdentityFiles(directory: "\(network)/cluster-\(i)").ledgerKey())
    }
    let delta = [Float](repeating: 0, count: initial.parameters.count)
    let baseHash = initial.hash
    let deadline = Date().addingTimeInterval(60)
    while recorder.opened(round: 1) == nil {
      guard Date() < deadline else { throw ValidationError("round 1 did not open in 60 s") }
      try await Task.sleep(for: .milliseconds(100))
    }
    let inFlight = concurrency ?? ingest
    let start = Date()
    // Eight TLS connections to each node; cluster i submits to node i mod --nodes.
    let clients = try (0..<nodes).map { n in try (0..<8).map { _ in try devnet.client(node: n) } }
    let results = try await withThrowingTaskGroup(of: Sent.self) { group in
      var next = 0
      var results: [Sent] = []
      func launch() {
        guard next < ingest else { return }
        let i = next
        let client = clients[i % nodes][(i / nodes) % 8]
        let key = keys[i]
        group.addTask {
          let agent = ClusterAgent(id: i, name: "cluster-\(i)", genesis: genesis, key: key)
          try agent.acceptBase(base, receipt: nil)
          let e = try agent.submission(
            for: ClusterUpdate(
              cluster: i, round: 1, baseModelHash: baseHash, delta: delta, sampleCount: 1,
              trainLoss: 0, simulatedSeconds: 0))
          let sent = Date()
          let appended = try await client.submit(e.commitment.canonicalBytes, blob: e.payload)
          return Sent(
            appended: appended, latency: Date().timeIntervalSince(sent), bytes: e.payload.count,
            hash: Hash256.of(e.payload))
        }
        next += 1
      }
      for _ in 0..<inFlight { launch() }
      while let r = try await group.next() {
        results.append(r)
        launch()
      }
      return results
    }
    let accepted = results.filter(\.appended).count
    let bytes = results.first?.bytes ?? 0
    let submitted = Date().timeIntervalSince(start)
    let hashes = results.map(\.hash)
    let waitUntil = Date().addingTimeInterval(300)
    var ordered: Double?
    var replicated: Double?
    while ordered == nil || replicated == nil {
      guard Date() < waitUntil else {
        throw ValidationError(
          "after 300 s: \(recorder.commitments(round: 1)) commitments ordered; see \(dir)/logs")
      }
      if ordered == nil, recorder.commitments(round: 1).allSatisfy({ $0 >= ingest }),
        recorder.commitments(round: 1).count == nodes
      {
        ordered = Date().timeIntervalSince(start)
      }
      if replicated == nil, try devnet.allHold(hashes) {
        replicated = Date().timeIntervalSince(start)
      }
      try await Task.sleep(for: .milliseconds(100))
    }
    // What every node counts: each submitted payload's commitment valid exactly once, and
    // no other (a copy refused as a duplicate is recorded, but not counted).
    let latencies = results.map(\.latency).sorted()
    func percentile(_ p: Double) -> Double {
      latencies.isEmpty
        ? 0 : latencies[max(0, Int((p * Double(latencies.count)).rounded(.up)) - 1)]
    }
    let submittedHashes = Set(hashes)
    let onNodes = recorder.committedPayloads(round: 1)
    print(
      String(
        format:
          "    ingest: %d clusters each sealed and submitted an envelope of %d bytes (LeNet-5's update) over TLS, %d at a time, spread over %d nodes: all in %.2f s, %.0f accepted/s (goal at least 500); submit latency p50 %.0f ms, p99 %.0f ms",
        ingest, bytes, inFlight, nodes, submitted, Double(accepted) / submitted,
        percentile(0.5) * 1000, percentile(0.99) * 1000))
    for (node, counts) in onNodes.enumerated()
    where Set(counts.keys) != submittedHashes || counts.values.contains(where: { $0 != 1 }) {
      throw ValidationError(
        "node-\(node) counts \(counts.values.reduce(0, +)) valid commitments of \(counts.count) payloads, \(counts.values.filter { $0 > 1 }.count) of them more than once, for the \(submittedHashes.count) submitted"
      )
    }
    print(
      String(
        format:
          "    every commitment ordered on all %d nodes after %.2f s, every payload on every node after %.2f s (goal: both within 20 s); lost: %d; each on every node exactly once: yes",
        nodes, ordered!, replicated!, ingest - accepted))
    print("    node peak resident memory: \(devnet.peakMemory()) (goal at most 500 MB)")
  }

  /// One simulated cluster's submission.
  struct Sent: Sendable {
    var appended: Bool
    var latency: Double
    var bytes: Int
    var hash: Hash256
  }

  /// The CPU's model name (from /proc/cpuinfo) and whether it has AVX-512.
  static var cpu: String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
      return "unknown"
    }
    let name =
      text.split(separator: "\n").first { $0.hasPrefix("model name") }?
      .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
    return name + (text.contains(" avx512f") ? " (AVX-512)" : " (AVX2, no AVX-512)")
  }
}
