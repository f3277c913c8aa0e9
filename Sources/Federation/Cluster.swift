import Learning

/// A cluster: an edge gateway that trains the shared model on its devices' data.
///
/// The data never leaves it; only the update does. A malicious cluster carries the attack it
/// runs, so simulations can measure the defences.
public struct Cluster: Sendable {
  public let id: ClusterID
  /// The samples the cluster trains on (already poisoned for a label-flipping cluster).
  public let data: Dataset
  /// The samples it keeps apart to judge global models on (federated evaluation); never
  /// trained on, never sent.
  public let heldOut: Dataset?
  public let attack: Attack?
  /// Samples per simulated second its devices manage, for straggler deadlines.
  public let speed: Double

  public init(
    id: ClusterID, data: Dataset, heldOut: Dataset? = nil, attack: Attack? = nil,
    speed: Double = 1000
  ) {
    self.id = id
    self.data = attack?.poison(data) ?? data
    self.heldOut = heldOut
    self.attack = attack
    self.speed = speed
  }

  /// Judges `model`, round `round`'s committed model, on the held-out samples: at most the
  /// first `cap` of them, the most a report may claim (claiming more would be refused, and the
  /// refusal would tell that this cluster holds more).
  public func evaluate(_ model: Model, round: Int, cap: Int = .max) throws -> EvaluationReport? {
    guard let heldOut, heldOut.count > 0, cap > 0 else { return nil }
    let trainer = try Trainer(model: model, options: TrainingOptions(threads: 1))
    let judged = heldOut.count > cap ? heldOut.subset(Array(0..<cap)) : heldOut
    let result = trainer.evaluate(on: judged)
    return EvaluationReport(
      cluster: id, round: round, modelHash: model.hash, loss: result.loss,
      accuracy: result.accuracy, samples: result.count,
      classCounts: result.confusion.map { $0.reduce(0, +) })
  }

  /// Simulated seconds the round's local training takes here.
  public func simulatedSeconds(for training: LocalTraining) -> Double {
    Double(data.count * training.epochs) / speed
  }

  /// Trains the base model locally as the plan says and returns the update (tampered with, for
  /// a malicious cluster). Deterministic for a given seed.
  public func train(plan: RoundPlan, base: Model, seed: UInt64) throws -> ClusterUpdate {
    // A cluster trains only the model the round names.
    let baseHash = base.hash
    guard baseHash == plan.baseModelHash else {
      throw ClusterError.baseModelMismatch(
        cluster: id, round: plan.round, planned: plan.baseModelHash, received: baseHash)
    }
    let training = plan.training
    let options = TrainingOptions(
      batchSize: max(1, min(training.batchSize, data.count)),
      optimizer: .sgd(
        learningRate: training.learningRate, momentum: training.momentum,
        weightDecay: training.weightDecay, nesterov: false),
      seed: seed, threads: 1)
    let trainer = try Trainer(model: base, options: options)
    if training.proximalMu > 0 { trainer.proximal = (training.proximalMu, base.parameters) }
    var loss = 0.0
    for epoch in 1...max(training.epochs, 1) {
      loss += trainer.trainEpoch(on: data, epoch: epoch).loss
    }
    var delta = trainer.model.parameters
    for i in delta.indices { delta[i] -= base.parameters[i] }
    if let attack {
      var rng = SeededGenerator(seed: seed, domain: "attack")
      attack.tamper(&delta, rng: &rng)
    }
    var claimed = data.count
    if attack == .inflateSamples { claimed = Int(clamping: plan.sampleCap) }
    return ClusterUpdate(
      cluster: id, round: plan.round, baseModelHash: plan.baseModelHash, delta: delta,
      sampleCount: claimed, trainLoss: loss / Double(max(training.epochs, 1)),
      simulatedSeconds: simulatedSeconds(for: training))
  }
}

/// Why a cluster refuses a round.
public enum ClusterError: Error, Equatable, CustomStringConvertible {
  /// The model handed over is not the one the round plan names.
  case baseModelMismatch(cluster: ClusterID, round: Int, planned: String, received: String)

  public var description: String {
    switch self {
    case .baseModelMismatch(let cluster, let round, let planned, let received):
      "cluster \(cluster), round \(round): the base model has hash \(received.prefix(16)), "
        + "the round names \(planned.prefix(16))"
    }
  }
}
