import Aggregation
import ArgumentParser
import Attestation
import Crypto
import Dispatch
import Enclave
import EnclaveMessages
import Federation
import Foundation
import Host
import Learning
import Protection
import Records
import Simulator

struct BenchAggregate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "aggregate",
    abstract: "Aggregation time for one round's updates, against a BLAS baseline.",
    discussion: """
      Builds --clusters random updates of --params values, then times the strategy's whole \
      aggregation (validation, weighting, combining, applying to the global model). For the \
      mean it also times, in the same run, the weighted sum as one BLAS matrix-vector product \
      over the stacked updates (what numpy does with a matrix), and prints the ratio.
      """)

  @Option(help: "Updates per round.") var clusters = 100
  @Option(help: "Parameters per update (LeNet-5 has 61,706).") var params = 61_706
  @Option(help: "Rule: fedavg, median, trimmed-mean, multi-krum.") var rule = "fedavg"
  @Option(help: "Repetitions to average over.") var repeats = 20
  @Flag(
    help:
      "Also time the encrypted path in this process: open every HPKE update envelope (signature check, decryption), decode it, and take the fixed-point weighted mean."
  )
  var envelopes = false
  @Option(
    help:
      "none (default), or tee: also send the round's sealed updates to an enclave (the fedledger-enclave program next to this one, else the enclave code in process) and time its decrypt + validate + aggregate + sign, inside the enclave and with the host round trip."
  )
  var privacy = "none"

  func validate() throws {
    guard (1...10_000).contains(clusters), (1...100_000_000).contains(params), repeats >= 1,
      clusters * params <= 1_000_000_000
    else {
      throw ValidationError(
        "--clusters (1...10000), --params and --repeats must be positive, clusters x params at most 1e9"
      )
    }
    guard ["none", "tee"].contains(privacy) else {
      throw ValidationError("--privacy must be none or tee, got '\(privacy)'")
    }
    guard ["fedavg", "median", "trimmed-mean", "multi-krum"].contains(rule) else {
      throw ValidationError(
        "--rule must be fedavg, median, trimmed-mean or multi-krum, got '\(rule)'")
    }
  }

  func run() async throws {
    BLAS.useSingleThread()
    var rng = SeededGenerator(seed: 3, domain: "bench.aggregate")
    let updates = (0..<clusters).map { id in
      ClusterUpdate(
        cluster: id, round: 1, baseModelHash: "base",
        delta: (0..<params).map { _ in rng.nextGaussian() * 0.01 },
        sampleCount: 100 + Int(rng.next() % 900), trainLoss: 0, simulatedSeconds: 0)
    }
    let global = [Float](repeating: 0, count: params)
    let aggregationRule: AggregationRule =
      switch rule {
      case "median": .median
      case "trimmed-mean": .trimmedMean(beta: 0.1)
      case "multi-krum": .krum(f: max(0, (clusters - 3) / 2), select: nil)
      default: .mean
      }
    let strategy = StandardStrategy(rule: aggregationRule)
    let engine = time {
      strategy.begin(round: 1, baseModelHash: "base", global: global)
      for update in updates { strategy.add(update) }
      _ = strategy.finish()
    }
    print(
      "bench aggregate: \(aggregationRule), \(clusters) updates x \(params) parameters, "
        + "mean of \(repeats) runs, 1 thread")
    print(String(format: "  strategy (validated):           %8.3f ms", engine))
    if privacy == "tee" {
      try benchEnclave(updates, rule: aggregationRule, plain: engine)
    }
    guard aggregationRule == .mean else { return }
    var stacked = [Float](repeating: 0, count: clusters * params)
    for (i, update) in updates.enumerated() {
      stacked.replaceSubrange((i * params)..<((i + 1) * params), with: update.delta)
    }
    let total = Float(updates.reduce(0) { $0 + $1.sampleCount })
    let weights = updates.map { Float($0.sampleCount) / total }
    var sum = [Float](repeating: 0, count: params)
    let baseline = time {
      stacked.withUnsafeBufferPointer { a in
        weights.withUnsafeBufferPointer { w in
          sum.withUnsafeMutableBufferPointer { y in
            BLAS.gemv(
              transpose: true, m: clusters, n: params, a: a.baseAddress!, lda: params,
              x: w.baseAddress!, y: y.baseAddress!)
          }
        }
      }
    }
    print(String(format: "  baseline (BLAS sgemv, stacked): %8.3f ms", baseline))
    print(String(format: "  strategy / baseline:            %8.2fx", engine / baseline))
    if envelopes { try benchEnvelopes(updates, plain: engine) }
  }

  /// A round in an enclave, through the enclave protocol: what `simulate --privacy tee` does on
  /// each node. Each repetition is a new round (an enclave endorses a round once).
  private func benchEnclave(_ updates: [ClusterUpdate], rule: AggregationRule, plain: Double)
    throws
  {
    let program = EnclaveProgram.locate()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
      "fedledger-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let platformPath = directory.appendingPathComponent("platform.key").path
    let platform = try SimulatedPlatform.loadOrCreate(path: platformPath)
    let measurement: [UInt8]
    let transport: any EnclaveTransport
    if let program {
      measurement = try Enclave.measure(executable: program)
      transport = try ProcessEnclave(
        program: program, platform: platformPath,
        log: directory.appendingPathComponent("enclave.log").path)
    } else {
      measurement = try Enclave.measure(executable: "/proc/self/exe")
      transport = InProcessEnclave(
        service: EnclaveService(measurement: measurement, platform: platform))
    }
    let client = EnclaveClient(node: "bench", transport: transport)
    defer { client.close() }
    let network = Hash256.of([1])
    // One ledger node, whose signed block proves each round's close to the enclave.
    let node = SigningKey()
    let policy = EnclavePolicy(
      trustedPlatforms: [platform.publicKey], measurements: [measurement],
      ledgerNodes: [node.publicKey.bytes], blockQuorum: 1)
    _ = try client.start(sealed: nil, policy: policy)
    let group = try Curve25519.KeyAgreement.PublicKey(
      rawRepresentation: try client.createGroupKey().groupKey!)
    let header = Array("{\"bench\":true}".utf8)
    let baseFile = ModelBytes.file(
      prefix: ModelBytes.magic + [1, 0, 0, 0, UInt8(header.count), 0, 0, 0] + header,
      parameters: [Float](repeating: 0, count: params))
    let base = Array(baseFile.suffix(32))
    let keys = updates.map { _ in Curve25519.Signing.PrivateKey() }
    // The round's rules, as a round-open carries them (the ledger proves it to the enclave).
    var cohort = min(RoundRules.defaultMinimumCohort, updates.count)
    if case .krum(_, let select?) = rule { cohort = min(cohort, select) }
    let rules = RoundRules(rule: rule, minimumCohort: cohort)
    // Sealed ahead of time: sealing is the clusters' work, not the enclave's.
    let rounds = (1...(repeats + 1)).map { round in
      let open = RoundOpen(
        network: network, round: UInt64(round), baseModel: Hash256(bytes: base)!,
        participants: [], rules: rules, groupKey: Array(group.rawRepresentation), node: node)
      var entries: [RoundClose.Entry] = []
      let sealed = zip(updates, keys).map { u, key in
        var payload = UpdatePayload(u)
        payload.round = UInt64(round)
        payload.baseModel = base
        let envelope = try! UpdateEnvelope.seal(
          payload.encode(), network: network.bytes, round: UInt64(round),
          cluster: "cluster-\(u.cluster)", baseModel: base, to: group, signedWith: key
        ).canonicalBytes
        entries.append(
          .init(
            cluster: "cluster-\(u.cluster)",
            key: PublicKey(bytes: Array(key.publicKey.rawRepresentation))!,
            payload: Hash256.of(envelope)))
        return envelope
      }
      let close = RoundClose(
        network: network, round: UInt64(round), open: Hash256.of(open.transactionBytes),
        updates: entries, node: node)
      return AggregateRequest(
        closed: .lone(
          close.transactionBytes, network: network, height: UInt64(round), signedBy: [node]),
        open: open.transactionBytes, baseModel: baseFile, envelopes: sealed)
    }
    var inside: [Double] = []
    var roundTrip: [Double] = []
    for (i, request) in rounds.enumerated() {
      let start = DispatchTime.now().uptimeNanoseconds
      let response = try client.aggregate(request)
      let total = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
      let statement = try Endorsement(canonical: response.endorsement).statement
      guard statement.accepted.count == updates.count || rule != .mean else {
        throw ValidationError(
          "the enclave rejected \(statement.rejected.count) update(s): \(statement.rejected.first?.reason ?? "")"
        )
      }
      if i == 0 { continue }  // warm-up
      inside.append(Double(response.nanoseconds) / 1e6)
      roundTrip.append(total)
    }
    let meanInside = inside.reduce(0, +) / Double(inside.count)
    let meanTrip = roundTrip.reduce(0, +) / Double(roundTrip.count)
    let bytes = rounds[0].canonicalBytes.count
    print(
      "  privacy tee: \(program == nil ? "enclave code in this process" : "fedledger-enclave process") (SIMULATED, NO HARDWARE PROTECTION), opening updates on \(ProcessInfo.processInfo.activeProcessorCount) threads"
    )
    print(
      String(
        format:
          "  in the enclave (decrypt + validate + %@ + sign): %8.3f ms (%.2fx the plain strategy)",
        "\(rule)", meanInside, meanInside / plain))
    print(
      String(
        format:
          "  with the host round trip (%.1f MB request):      %8.3f ms (%.2fx the plain strategy)",
        Double(bytes) / 1e6, meanTrip, meanTrip / plain))
  }

  /// Milliseconds per run of `body`, after one warm-up run.
  private func time(_ body: () -> Void) -> Double {
    body()
    let start = DispatchTime.now().uptimeNanoseconds
    for _ in 0..<repeats { body() }
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6 / Double(repeats)
  }

  /// The enclave's part of a round on sealed updates, run in this process: what the enclave
  /// program will do, measured before it exists.
  private func benchEnvelopes(_ updates: [ClusterUpdate], plain: Double) throws {
    let group = Curve25519.KeyAgreement.PrivateKey()
    let network = Array(SHA256.hash(data: [1]))
    let base = Array(SHA256.hash(data: [2]))
    let keys = updates.map { _ in Curve25519.Signing.PrivateKey() }
    let sealed = try zip(updates, keys).map { u, key in
      try UpdateEnvelope.seal(
        UpdatePayload(u).encode(), network: network, round: 1, cluster: "cluster-\(u.cluster)",
        baseModel: base, to: group.publicKey, signedWith: key
      ).canonicalBytes
    }
    let fp = FixedPoint.standard
    var failure: (any Error)?
    let seconds = time {
      do {
        var sum = FixedPointSum(count: params)
        for (bytes, key) in zip(sealed, keys) {
          let envelope = try UpdateEnvelope(canonical: bytes)
          let payload = try envelope.open(
            with: group, network: network, round: 1, baseModel: base, clusterKey: key.publicKey)
          let update = try UpdatePayload(decoding: payload)
          try sum.add(fp.encode(update.values).values, weight: Int64(update.sampleCount))
        }
        _ = fp.decode(try sum.mean())
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
    print(
      String(
        format:
          "  sealed updates: open %d envelopes (Ed25519 + HPKE ChaCha20-Poly1305), decode, fixed-point mean: %8.3f ms (%.2fx the plain strategy)",
        updates.count, seconds, seconds / plain))
  }
}
