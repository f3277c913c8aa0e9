import Aggregation
import Dispatch
import Foundation
import Learning
import Records

/// What happened in one round, as written to the metrics file.
public struct RoundRecord: Codable, Sendable {
  public var round: Int
  public var baseModelHash: String
  public var modelHash: String
  public var participants: [ClusterID]
  public var decisions: [UpdateDecision]
  public var missing: [MissingUpdate]
  /// Mean local training loss of the updates that arrived.
  public var trainLoss: Double?
  /// Test accuracy and loss of the new global model (nil in rounds that were not evaluated).
  public var accuracy: Double?
  public var loss: Double?
  public var trainSeconds: Double
  public var aggregateSeconds: Double
  public var evaluateSeconds: Double
  /// Time spent recording the round (ledger transactions, blocks, endorsements, receipts).
  public var ledgerSeconds: Double = 0
  /// Time the enclaves took to open, validate and aggregate the round and sign their
  /// statements, host round trips included (privacy mode tee; included in aggregateSeconds).
  public var enclaveSeconds: Double = 0
  /// Why the round ended without a model (too few updates arrived or passed), if it did.
  public var aborted: String? = nil
  /// What the clusters measured of the new model on their held-out data (nil in rounds not
  /// evaluated, or without held-out data).
  public var federated: FederatedMetric? = nil
  /// Time the clusters spent evaluating (their own, in parallel; included in evaluateSeconds).
  public var federatedSeconds: Double = 0
  /// The device tier, summed over the clusters that sent updates (nil without devices): the
  /// devices that contributed, those dropped, late or clipped at the edge, and the gateways'
  /// time combining device updates (part of trainSeconds, summed over gateways).
  public var edge: EdgeSummary? = nil

  public var accepted: Int { decisions.filter { $0.verdict != .rejected }.count }
  public var rejected: Int { decisions.filter { $0.verdict == .rejected }.count }
  public var clipped: Int { decisions.filter { $0.verdict == .clipped }.count }
}

/// Progress of a running simulation.
public enum SimulationEvent: Sendable {
  case roundStarted(RoundPlan)
  case clusterFinished(round: Int, cluster: ClusterID, done: Int, of: Int)
  case roundFinished(RoundRecord)
}

/// Federated training of one model across simulated clusters in this process.
///
/// Each round is a sequence of steps over explicit messages: the coordinator opens a round
/// (`RoundPlan`), the sampled clusters that do not drop out train and answer with a
/// `ClusterUpdate`, the backend turns the updates (in cluster order) into the next global
/// model and a decision for each, and the round closes with a `RoundRecord`. The backend is
/// where cluster agents, the ledger and the nodes' aggregators take over in the full protocol.

public final class Simulation {
  public let configuration: SimulationConfiguration
  public let clusters: [Cluster]
  /// The central test set, where the data has one (a consortium usually has none).
  public let test: Dataset?
  /// The evaluation half of the strategy: who judges each model, and how reports combine.
  public let evaluation: any EvaluationStrategy
  /// Classes the model tells apart.
  public let classCount: Int
  /// The most samples one evaluation report may claim: the largest held-out split, rounded up
  /// to a power of two (public, like the training sample cap).
  public let heldOutCap: UInt64
  /// What decides each model's federated metric (the ledger's genesis carries the same); nil
  /// when no cluster keeps data apart.
  public let evaluationRules: EvaluationRules?
  public let strategy: any Strategy
  /// Per-cluster label counts of the partition, before any label flipping.
  public let histograms: [[Int]]
  /// With the device tier: per cluster, each device's label counts (of its training data).
  public let deviceHistograms: [[[Int]]]
  /// What decides each round's result (the ledger's genesis carries the same): the strategy's
  /// rule, the minimum cohort and the sample cap (by default the largest cluster's data, rounded
  /// up to a power of two).
  public let rules: RoundRules
  public private(set) var model: Model
  /// Where each round's updates go: by default the strategy in this process; the simulated
  /// network of cluster agents, ledger nodes and their aggregators in the full protocol.
  public lazy var backend: any RoundBackend = StrategyBackend(
    strategy: strategy, minimumCohort: rules.minimumCohort)

  public init(
    configuration: SimulationConfiguration, train: Dataset, test: Dataset?,
    strategy: (any Strategy)? = nil
  ) throws {
    self.configuration = configuration
    self.test = test
    evaluation = configuration.evaluation.strategy
    classCount = train.classCount
    guard test != nil || configuration.evaluation.heldOut > 0 else {
      throw ConfigurationError(
        source: "configuration", key: "evaluation.heldOut",
        problem: "is 0 and the data has no test set: nothing would ever judge the model")
    }
    let c = configuration
    guard c.clusters <= train.count else {
      throw ConfigurationError(
        source: "configuration", key: "clusters",
        problem: "is \(c.clusters), more than the \(train.count) training samples")
    }
    if case .shards(let k) = c.partition, k > train.classCount {
      throw ConfigurationError(
        source: "configuration", key: "partition.classesPerCluster",
        problem: "is \(k), more than the dataset's \(train.classCount) classes")
    }
    let parts = c.partition.partition(
      labels: train.labels, classCount: train.classCount, clusters: c.clusters, seed: c.seed)
    histograms = parts.map {
      labelHistogram($0, labels: train.labels, classCount: train.classCount)
    }
    var rng = SeededGenerator(seed: c.seed, domain: "simulation.clusters")
    let attackers = Set(rng.shuffled(Array(0..<c.clusters)).prefix(c.attackerCount))
    clusters = parts.enumerated().map { id, indices in
      // Device speeds are log-normal around the nominal rate.
      let speed =
        c.participation.nominalSpeed
        * Foundation.exp(Double(rng.nextGaussian()) * c.participation.speedSpread)
      // A seeded share of the cluster's data is kept apart to judge global models on, never
      // trained on; at least one sample is left to train on.
      var split = SeededGenerator(seed: c.seed, domain: "simulation.heldout.\(id)")
      let shuffled = split.shuffled(indices)
      let held = min(
        Int((c.evaluation.heldOut * Double(indices.count)).rounded()), indices.count - 1)
      let training = Array(shuffled.dropFirst(held)).sorted()
      let attack = attackers.contains(id) ? c.attack.kind : nil
      let edge =
        c.devices.enabled
        ? DeviceTier.gateway(
          cluster: id, indices: training, train: train, settings: c.devices, seed: c.seed,
          clusterAttack: attack, speed: speed)
        : nil
      return Cluster(
        id: id, data: train.subset(training),
        heldOut: held > 0 ? train.subset(Array(shuffled.prefix(held)).sorted()) : nil,
        attack: attack, speed: speed, edge: edge)
    }
    deviceHistograms = clusters.map { cluster in
      (cluster.edge?.devices ?? []).compactMap { ($0 as? SimulatedDevice)?.histogram }
    }
    // The default cap: the largest cluster's data rounded up to a power of two, so the genesis
    // and every statement do not publish that cluster's exact size.
    let largest = (clusters.map(\.data.count).max() ?? 1).nextPowerOfTwo
    heldOutCap = UInt64((clusters.map { $0.heldOut?.count ?? 0 }.max() ?? 1).nextPowerOfTwo)
    guard test != nil || clusters.contains(where: { $0.heldOut != nil }) else {
      throw ConfigurationError(
        source: "configuration", key: "evaluation.heldOut",
        problem:
          "is \(c.evaluation.heldOut), too little for any cluster to keep a sample apart, and the data has no test set: nothing would ever judge the model"
      )
    }
    let architecture = try Zoo.architecture(
      named: c.model, inputShape: train.sampleShape, classes: train.classCount)
    model = try Model(architecture: architecture, seed: c.seed)
    rules = RoundRules(
      rule: c.strategy.rule, weighting: c.strategy.weighting,
      normBound: c.strategy.normBound.map { Double($0) },
      minimumCohort: c.effectiveMinimumCohort, sampleCap: c.strategy.sampleCap ?? UInt64(largest),
      // A masked update (secagg) is up to 8 bytes a value, and its weight.
      payloadCap: RoundRules.payloadCap(
        parameters: (model.parameters.count + 1) * (c.privacy.mode == .secagg ? 2 : 1)),
      // Like the sample cap: the most devices a cluster has, rounded up to a power of two.
      deviceCap: UInt64((clusters.map { $0.edge?.devices.count ?? 1 }.max() ?? 1).nextPowerOfTwo),
      // The dropout rate the graph must tolerate: at least the configured one.
      secureAggregation: c.privacy.mode == .secagg
        ? SecAggRules(
          graph: c.privacy.graph == .full ? .full : .harary,
          dropoutRate: min(0.4, max(0.1, c.participation.dropout))) : nil)
    if let problem = rules.problem {
      throw ConfigurationError(source: "configuration", key: "strategy", problem: problem)
    }
    self.strategy = strategy ?? c.makeStrategy(sampleCap: rules.sampleCap)
    // A metric combines at least a training cohort's worth of reports, so that no recorded
    // figure is one plant's (with fewer judges, there is no metric).
    evaluationRules =
      clusters.contains(where: { $0.heldOut != nil })
      ? EvaluationRules(
        combination: c.evaluation.combine, minimumReports: rules.minimumCohort,
        sampleCap: max(1, min(rules.sampleCap, heldOutCap)), classes: train.classCount,
        publish: c.evaluation.publish, every: c.evaluation.every, window: c.evaluation.window)
      : nil
  }

  /// The clusters that run an attack.
  public var attackers: [ClusterID] { clusters.filter { $0.attack != nil }.map(\.id) }

  /// Runs every round and returns their records; `progress` sees each step.
  public func run(progress: @escaping (SimulationEvent) -> Void = { _ in }) async throws
    -> [RoundRecord]
  {
    var records: [RoundRecord] = []
    for round in 1...configuration.rounds {
      records.append(try await runRound(round, progress: progress))
    }
    return records
  }

  /// Runs one round on the current global model and moves the model on.
  public func runRound(_ round: Int, progress: @escaping (SimulationEvent) -> Void = { _ in })
    async throws -> RoundRecord
  {
    let c = configuration
    var rng = Participants.generator(round: round, seed: c.seed)
    let participants = Participants.sample(
      clusters: c.clusters, fraction: c.participation.fraction, using: &rng)
    let baseHash = model.hash
    let plan = RoundPlan(
      round: round, baseModelHash: baseHash, participants: participants, training: c.local,
      deadline: c.participation.deadline, sampleCap: rules.sampleCap)
    progress(.roundStarted(plan))
    let backend = self.backend
    // Time in the backend: opening the round, taking updates while clusters train, finishing.
    var backendNanos: UInt64 = 0
    func timed<T>(_ body: () throws -> T) rethrows -> T {
      let start = DispatchTime.now().uptimeNanoseconds
      defer { backendNanos += DispatchTime.now().uptimeNanoseconds - start }
      return try body()
    }
    try timed { try backend.open(plan, base: model) }
    let openNanos = backendNanos

    var missing: [MissingUpdate] = []
    var working: [ClusterID] = []
    for id in participants {
      if c.participation.dropout > 0 && Double(rng.nextUniform()) < c.participation.dropout {
        missing.append(.init(cluster: id, cause: .dropped, detail: "did not answer this round"))
        continue
      }
      let seconds = clusters[id].simulatedSeconds(for: c.local)
      if let deadline = c.participation.deadline, seconds > deadline {
        missing.append(
          .init(
            cluster: id, cause: .straggler,
            detail: String(format: "needs %.1f s, deadline %.1f s", seconds, deadline)))
        continue
      }
      working.append(id)
    }

    let trainStart = DispatchTime.now().uptimeNanoseconds
    var lossSum = 0.0
    let base = model
    let clusters = self.clusters
    let seed = c.seed
    let concurrency = max(1, c.threads)
    var refused: [UpdateDecision] = []
    var edge = EdgeSummary(devices: 0, clipped: 0, dropped: 0, late: 0, seconds: 0)
    var arrived = 0
    try await withThrowingTaskGroup(of: (Int, ClusterUpdate).self) { group in
      var next = 0
      func launch() {
        guard next < working.count else { return }
        let slot = next
        let cluster = clusters[working[slot]]
        let clusterSeed = seed &+ UInt64(round) &* 1_000_003 &+ UInt64(cluster.id) &* 7919
        group.addTask {
          (slot, try cluster.train(plan: plan, base: base, seed: clusterSeed))
        }
        next += 1
      }
      for _ in 0..<min(concurrency, working.count) { launch() }
      // Updates are handed to the backend in cluster order whatever order they finish in,
      // so the result is the same however the work was scheduled.
      var pending: [Int: ClusterUpdate] = [:]
      var expected = 0
      var done = 0
      while let (slot, update) = try await group.next() {
        launch()
        done += 1
        progress(
          .clusterFinished(round: round, cluster: update.cluster, done: done, of: working.count))
        pending[slot] = update
        while let ready = pending.removeValue(forKey: expected) {
          expected += 1
          if let e = ready.edge {
            edge.devices += e.devices
            edge.dropped += e.dropped
            edge.late += e.late
            edge.clipped += e.clipped
            edge.refused += e.refused
            edge.seconds += e.seconds
            // A gateway none of whose devices answered has nothing to send.
            if e.devices == 0 {
              missing.append(
                .init(
                  cluster: ready.cluster, cause: .dropped,
                  detail: "none of its devices answered this round"))
              continue
            }
          }
          lossSum += ready.trainLoss
          arrived += 1
          if let reason = try timed({ try backend.submit(ready) }) {
            refused.append(
              .init(cluster: ready.cluster, verdict: .rejected, weight: 0, reason: reason))
          }
        }
      }
    }
    let trainEnd = DispatchTime.now().uptimeNanoseconds
    // Handing updates over happens while clusters still train: not training time.
    let submitNanos = backendNanos - openNanos

    // The backend aggregates at least the minimum cohort, or the round aborts: an aggregate of
    // fewer would come too close to one cluster's update.
    let conclusion = try timed { try backend.finish(round: round, base: model) }
    let outcome = conclusion.outcome
    let recordingNanos = min(conclusion.recordingNanoseconds, backendNanos)
    let aggregateNanos = backendNanos - recordingNanos
    let trainNanos = trainEnd - trainStart - min(submitNanos, trainEnd - trainStart)
    let decisions = (outcome.decisions + refused).sorted { $0.cluster < $1.cluster }
    if outcome.aborted == nil {
      // An aborted round leaves the model as it was; the ledger records why.
      model = try Model(architecture: model.architecture, parameters: outcome.parameters)
    }

    var accuracy: Double?
    var loss: Double?
    let evaluateStart = DispatchTime.now().uptimeNanoseconds
    if let test, round % max(1, c.evaluateEvery) == 0 || round == c.rounds {
      let evaluator = try Trainer(model: model, options: TrainingOptions(threads: concurrency))
      let result = evaluator.evaluate(on: test)
      accuracy = result.accuracy
      loss = result.loss
    }
    let federatedStart = DispatchTime.now().uptimeNanoseconds
    let federated =
      outcome.aborted == nil || round == c.rounds
      ? try await evaluateFederated(round, threads: concurrency) : nil
    let evaluateEnd = DispatchTime.now().uptimeNanoseconds
    let evaluateNanos = evaluateEnd - evaluateStart
    var record = RoundRecord(
      round: round, baseModelHash: baseHash, modelHash: model.hash,
      participants: Array(participants), decisions: decisions,
      missing: missing.sorted { $0.cluster < $1.cluster },
      trainLoss: arrived == 0 ? nil : lossSum / Double(arrived), accuracy: accuracy,
      loss: loss, trainSeconds: Double(trainNanos) / 1e9,
      aggregateSeconds: Double(aggregateNanos) / 1e9, evaluateSeconds: Double(evaluateNanos) / 1e9,
      ledgerSeconds: Double(recordingNanos) / 1e9,
      enclaveSeconds: Double(conclusion.enclaveNanoseconds ?? 0) / 1e9,
      aborted: outcome.aborted, federated: federated,
      federatedSeconds: Double(evaluateEnd - federatedStart) / 1e9)
    if c.devices.enabled { record.edge = edge }

    progress(.roundFinished(record))
    return record
  }
}

extension Simulation {
  /// Federated evaluation of the committed model of `round`: the clusters the evaluation
  /// strategy asks check the model (against its receipt, with a ledger), judge it on their
  /// held-out data, and their valid reports combine into the consortium's metric.
  func evaluateFederated(_ round: Int, threads: Int) async throws -> FederatedMetric? {
    let withHeldOut = clusters.filter { $0.heldOut != nil }.map(\.id)
    let asked = evaluation.evaluators(
      round: round, lastRound: configuration.rounds, clusters: withHeldOut,
      seed: configuration.seed)
    guard !asked.isEmpty else { return nil }
    let model = self.model
    let refusing = try backend.prepareEvaluation(of: model, round: round, by: asked)
    let evaluating = asked.filter { refusing[$0] == nil }
    let clusters = self.clusters
    let cap = Int(clamping: evaluationRules?.sampleCap ?? UInt64(Int.max))
    var reports = [EvaluationReport?](repeating: nil, count: evaluating.count)
    try await withThrowingTaskGroup(of: (Int, EvaluationReport?).self) { group in
      var next = 0
      func launch() {
        guard next < evaluating.count else { return }
        let slot = next
        let cluster = clusters[evaluating[slot]]
        group.addTask { (slot, try cluster.evaluate(model, round: round, cap: cap)) }
        next += 1
      }
      for _ in 0..<min(max(1, threads), evaluating.count) { launch() }
      while let (slot, report) = try await group.next() {
        reports[slot] = report
        launch()
      }
    }
    guard let evaluationRules else { return nil }
    let validation = ReportValidation(
      round: round, modelHash: model.hash, asked: Set(evaluating),
      sampleCap: evaluationRules.sampleCap, classes: classCount)
    let (admitted, notAdmitted) = validation.admit(reports.compactMap { $0 })
    let refusedModel = refusing.sorted { $0.key < $1.key }.map {
      RefusedReport(cluster: $0.key, reason: "refuses the model: \($0.value)")
    }
    if var recorded = try backend.recordEvaluation(
      admitted, of: model, round: round, rules: evaluationRules)
    {
      recorded.refused = notAdmitted + recorded.refused + refusedModel
      return recorded
    }
    var (valid, refused) = validation.sort(admitted)
    refused = notAdmitted + refused + refusedModel
    guard valid.count >= evaluationRules.minimumReports, !valid.isEmpty else {
      return FederatedMetric(
        round: round, modelHash: model.hash, accuracy: .nan, loss: .nan, clusters: 0,
        samples: 0, combination: evaluation.combination, refused: refused,
        unmeasured: MetricError.tooFewReports(
          round: UInt64(round), minimum: evaluationRules.minimumReports
        ).description)
    }
    let (accuracy, loss) = evaluation.combine(valid)
    return FederatedMetric(
      round: round, modelHash: model.hash, accuracy: accuracy, loss: loss,
      clusters: valid.count, samples: valid.reduce(0) { $0 + $1.samples },
      combination: evaluation.combination, refused: refused,
      reports: configuration.evaluation.publish ? valid : [])
  }
}

extension Int {
  /// The smallest power of two at least this (1 for 0 and below).
  var nextPowerOfTwo: Int {
    self <= 1 ? 1 : 1 << (Int.bitWidth - (self - 1).leadingZeroBitCount)
  }
}
