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
  /// The device tier: the gateway and its devices, each with its own share of `data` (nil:
  /// the cluster trains as one on its pooled data).
  public let edge: EdgeGateway?

  public init(
    id: ClusterID, data: Dataset, heldOut: Dataset? = nil, attack: Attack? = nil,
    speed: Double = 1000, edge: EdgeGateway? = nil
  ) {
    self.id = id
    self.data = attack?.poison(data) ?? data
    self.heldOut = heldOut
    self.attack = attack
    self.speed = speed
    self.edge = edge
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
    edge?.simulatedSeconds(for: training) ?? Double(data.count * training.epochs) / speed
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
    var delta: [Float]
    var loss: Double
    var samples = data.count
    var seconds = simulatedSeconds(for: training)
    var edgeRound: EdgeGateway.Round?
    if let edge {
      let r = try edge.train(base, training: training, seed: seed)
      (delta, loss, samples, seconds, edgeRound) = (
        r.delta, r.trainLoss, r.samples, r.simulatedSeconds, r
      )
    } else {
      (delta, loss) = try LocalTrainer.run(base, on: data, training: training, seed: seed)
    }
    // The cluster tier's attack is its gateway's: it tampers with what the gateway sends.
    if let attack {
      var rng = SeededGenerator(seed: seed, domain: "attack")
      attack.tamper(&delta, rng: &rng)
    }
    var claimed = samples
    if attack == .inflateSamples { claimed = Int(clamping: plan.sampleCap) }
    var update = ClusterUpdate(
      cluster: id, round: plan.round, baseModelHash: plan.baseModelHash, delta: delta,
      sampleCount: claimed, trainLoss: loss, simulatedSeconds: seconds)
    if let edgeRound {
      update.devices = edgeRound.devices
      update.edge = EdgeSummary(
        devices: edgeRound.devices, clipped: edgeRound.clipped, dropped: edgeRound.dropped,
        late: edgeRound.late, refused: edgeRound.refused,
        seconds: Double(edgeRound.edgeNanoseconds) / 1e9)
    }
    return update
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
