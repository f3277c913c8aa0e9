import ArgumentParser
import Dispatch
import Foundation
import Learning
import SecAgg

struct BenchSecAgg: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "secagg",
    abstract: "SecAgg+'s cost for one round: each client's work and the aggregator's.",
    discussion: """
      Runs whole SecAgg+ sessions in this process, every message passing through the bench as \
      a host would carry it: each client advertises keys, deals shares of its two secrets to \
      its neighbours, masks an input of --params words and reveals shares; the aggregator \
      (the enclave's part) checks the revealed shares, recovers the secrets and removes the \
      masks. --dropout clients drop after dealing, so their pairwise masks are removed too. \
      Checks that the sum equals the plain sum of the survivors' inputs, and prints the client \
      time (per client, all stages) and the aggregator's, with the CPU they ran on.
      """)

  @Option(help: "Clients in the cohort (N).") var clusters = 100
  @Option(help: "Words per input (LeNet-5 has 61,706 parameters).") var params = 61_706
  @Option(help: "harary (SecAgg+, Bell et al. 2020) or full (SecAgg, Bonawitz et al. 2017).")
  var graph = "harary"
  @Option(help: "Fraction of clients that drop after dealing, 0 to 0.5.") var dropout = 0.0
  @Option(
    help:
      "Neighbours per client in the Harary graph (even); default: derived from N, --corrupt and the dropout rate as Google's graph parameter finder does."
  )
  var degree: Int?
  @Option(help: "Shares that recover a secret (t); default: derived with the degree.")
  var threshold: Int?
  @Option(help: "Fraction of clients the parameters must tolerate as corrupt.") var corrupt = 0.05
  @Option(help: "Modulus bits: 32 or 64.") var modulus = 32
  @Option(help: "Sessions to average over.") var repeats = 3

  func validate() throws {
    guard (2...100_000).contains(clusters), (1...10_000_000).contains(params), repeats >= 1 else {
      throw ValidationError("--clusters (2...100000), --params and --repeats must be positive")
    }
    guard ["harary", "full"].contains(graph) else {
      throw ValidationError("--graph must be harary or full, got '\(graph)'")
    }
    guard (0...0.5).contains(dropout) else {
      throw ValidationError("--dropout must be 0 to 0.5, got \(dropout)")
    }
    guard [32, 64].contains(modulus) else {
      throw ValidationError("--modulus must be 32 or 64, got \(modulus)")
    }
    if let degree, degree < 2 || degree % 2 != 0 || degree >= clusters {
      throw ValidationError("--degree must be even, at least 2 and below --clusters, got \(degree)")
    }
  }

  func run() async throws {
    let (k, t) = try parameters()
    let dropped = Set(
      dropout == 0 ? [] : stride(from: 0.0, to: Double(clusters), by: 1 / dropout).map(Int.init))
    print(
      "bench secagg: \(clusters) clients, \(graph == "full" ? "full graph" : "Harary graph"), k = \(k) neighbours, t = \(t), \(params) words modulo 2^\(modulus), \(dropped.count) dropped after dealing; CPU \(BenchNetwork.cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    )
    var client = Timings()
    var server = 0.0
    var serverBest = Double.infinity
    var sent = 0
    for r in 0...repeats {
      let result =
        modulus == 32
        ? try session(UInt32.self, k: k, t: t, dropped: dropped)
        : try session(UInt64.self, k: k, t: t, dropped: dropped)
      // The first session warms up; the rest are timed.
      if r == 0 { continue }
      client.add(result.client)
      server += result.server
      serverBest = min(serverBest, result.server)
      sent = result.bytesPerClient
    }
    let n = Double(repeats)
    let perClient = client.scaled(1 / n)
    print(
      String(
        format:
          "client, per round (mean of its %d clients): %.2f ms (deal %.2f, mask %.2f, unmask %.3f); sends %@",
        clusters, perClient.total, perClient.deal, perClient.mask, perClient.unmask,
        Self.bytes(sent)))
    print(
      String(
        format: "aggregator (recover secrets, remove masks, sum): %.1f ms (best %.1f ms)",
        server / n, serverBest))
    print(
      "sum checked against the plain sum of the \(clusters - dropped.count) survivors' inputs: equal"
    )
  }

  struct Timings {
    var deal = 0.0
    var mask = 0.0
    var unmask = 0.0
    var total: Double { deal + mask + unmask }
    mutating func add(_ o: Timings) {
      deal += o.deal
      mask += o.mask
      unmask += o.unmask
    }
    func scaled(_ f: Double) -> Timings {
      Timings(deal: deal * f, mask: mask * f, unmask: unmask * f)
    }
  }

  private func parameters() throws -> (k: Int, t: Int) {
    if graph == "full" {
      return (clusters - 1, threshold ?? (clusters - 1) / 2 + 1)
    }
    if let degree { return (degree, threshold ?? degree / 2 + 1) }
    let found = try HararyParameters.find(
      clients: clusters, corrupt: corrupt, dropout: max(dropout, 0.05), against: .curiousServer)
    return (found.degree, threshold ?? found.threshold)
  }

  private struct SessionResult {
    var client: Timings
    var server: Double
    var bytesPerClient: Int
  }

  private func session<W: MaskWord>(_: W.Type, k: Int, t: Int, dropped: Set<Int>) throws
    -> SessionResult
  {
    let seed = (0..<32).map { UInt8($0) }
    let graph: NeighbourGraph =
      self.graph == "full"
      ? .full(clients: clusters) : .harary(try .random(clients: clusters, degree: k, seed: seed))
    let configuration = try SecAggConfiguration(
      session: (0..<32).map { UInt8(255 - $0) }, graph: graph, threshold: t, length: params,
      modulus: modulus == 32 ? .bits32 : .bits64)
    // Inputs need no secrecy here: a fast seeded generator (the system's would make a
    // system call per word).
    var rng = SeededGenerator(seed: 7, domain: "bench.secagg")
    let inputs = (0..<clusters).map { _ in
      (0..<params).map { _ in W(truncatingIfNeeded: rng.next()) }
    }
    var timings = Timings()
    let clients = try (0..<clusters).map {
      try SecAggClient(index: $0, configuration: configuration)
    }
    let advertised = clients.map(\.advertisement)
    var bundles: [ShareBundle] = []
    timings.deal = try Self.time {
      for i in clients.indices { bundles.append(try clients[i].deal(advertised)) }
    }
    var masked: [MaskedInput<W>] = []
    timings.mask = try Self.time {
      for i in clients.indices where !dropped.contains(i) {
        masked.append(try clients[i].mask(inputs[i], advertised: advertised, bundles: bundles))
      }
    }
    let survivors = masked.map(\.client)
    var revealed: [RevealedShare] = []
    var refusals: [String] = []
    timings.unmask = try Self.time {
      for i in survivors {
        do {
          revealed += try clients[i].unmask(survivors: survivors, dropped: dropped.sorted())
        } catch {
          // A client left with fewer than t surviving neighbours reveals nothing.
          refusals.append("client \(i): \(error)")
        }
      }
    }
    if !refusals.isEmpty {
      print("\(refusals.count) clients refused to unmask, e.g. \(refusals[0])")
    }
    var result: SecAggSum<W>?
    let server = try Self.time {
      result = try SecAggUnmasker.sum(
        configuration: configuration, advertised: advertised, bundles: bundles, masked: masked,
        revealed: revealed)
    }
    var plain = [W](repeating: 0, count: params)
    for i in survivors { for j in 0..<params { plain[j] &+= inputs[i][j] } }
    guard result?.sum == plain else {
      throw ValidationError("the unmasked sum differs from the plain sum: a bug")
    }
    let dealtBytes = bundles.reduce(0) {
      $0 + 32 + $1.shares.reduce(0) { $0 + $1.ciphertext.count + 64 }
    }
    let sentBytes =
      64 + dealtBytes / clusters + params * W.bitWidth / 8
      + revealed.reduce(0) { $0 + 32 + $1.value.count } / max(1, survivors.count)
    // Per client: the stages' totals over the clients that ran them.
    return SessionResult(
      client: Timings(
        deal: timings.deal / Double(clusters), mask: timings.mask / Double(survivors.count),
        unmask: timings.unmask / Double(survivors.count)),
      server: server, bytesPerClient: sentBytes)
  }

  private static func time(_ body: () throws -> Void) throws -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
  }

  static func bytes(_ n: Int) -> String {
    n >= 1 << 20
      ? String(format: "%.2f MiB", Double(n) / 1_048_576)
      : String(format: "%.1f KiB", Double(n) / 1024)
  }
}
