import Learning

/// A device of a cluster, by the cluster's id and its index there.
public struct DeviceID: Hashable, Codable, Sendable, CustomStringConvertible {
  public var cluster: ClusterID
  public var index: Int
  public init(cluster: ClusterID, index: Int) {
    self.cluster = cluster
    self.index = index
  }
  public var description: String { "cluster \(cluster) device \(index)" }
}

/// What a device sends its gateway: the change it made to the edge model, and its samples.
public struct DeviceUpdate: Equatable, Sendable {
  public var device: DeviceID
  public var delta: [Float]
  public var sampleCount: Int
  public var trainLoss: Double

  public init(device: DeviceID, delta: [Float], sampleCount: Int, trainLoss: Double) {
    self.device = device
    self.delta = delta
    self.sampleCount = sampleCount
    self.trainLoss = trainLoss
  }
}

/// The gateway's side of the device-client protocol: what it asks of a device and what comes
/// back. A simulated device answers in process; a real device client answers the same over
/// the plant's network, and the gateway does not change.
public protocol DeviceClient: Sendable {
  var id: DeviceID { get }
  /// Samples the device trains on (what the edge's mean weighs by).
  var sampleCount: Int { get }
  /// Simulated seconds one local training takes on the device.
  func simulatedSeconds(for training: LocalTraining) -> Double
  /// Trains `model` on the device's own data and returns the change. Deterministic for a seed.
  func train(_ model: Model, training: LocalTraining, seed: UInt64) throws -> DeviceUpdate
}

/// A device in this process: its own data, and the attack it runs if compromised.
public struct SimulatedDevice: DeviceClient {
  public let id: DeviceID
  /// Its samples (already poisoned for a label-flipping device).
  public let data: Dataset
  public let attack: Attack?
  /// Samples per simulated second.
  public let speed: Double
  /// Its label counts as partitioned, before any poisoning.
  public let histogram: [Int]

  public init(
    id: DeviceID, data: Dataset, attack: Attack? = nil, speed: Double = 1000,
    histogram: [Int]? = nil
  ) {
    self.id = id
    self.histogram =
      histogram
      ?? labelHistogram(Array(0..<data.count), labels: data.labels, classCount: data.classCount)
    self.data = attack?.poison(data) ?? data
    self.attack = attack
    self.speed = speed
  }

  public var sampleCount: Int { data.count }

  public func simulatedSeconds(for training: LocalTraining) -> Double {
    Double(data.count * max(training.epochs, 1)) / speed
  }

  public func train(_ model: Model, training: LocalTraining, seed: UInt64) throws -> DeviceUpdate {
    var (delta, loss) = try LocalTrainer.run(model, on: data, training: training, seed: seed)
    var claimed = data.count
    if let attack {
      var rng = SeededGenerator(seed: seed, domain: "device-attack")
      attack.tamper(&delta, rng: &rng)
      if attack == .inflateSamples { claimed = data.count * 1000 }
    }
    return DeviceUpdate(device: id, delta: delta, sampleCount: claimed, trainLoss: loss)
  }
}

/// Local training, the same on a cluster's pooled data (no device tier) and on a device.
enum LocalTrainer {
  /// The change `training` makes to `model` on `data`, and the mean loss over its epochs.
  static func run(_ model: Model, on data: Dataset, training: LocalTraining, seed: UInt64)
    throws -> (delta: [Float], loss: Double)
  {
    let options = TrainingOptions(
      batchSize: max(1, min(training.batchSize, data.count)),
      optimizer: .sgd(
        learningRate: training.learningRate, momentum: training.momentum,
        weightDecay: training.weightDecay, nesterov: false),
      seed: seed, threads: 1)
    let trainer = try Trainer(model: model, options: options)
    if training.proximalMu > 0 { trainer.proximal = (training.proximalMu, model.parameters) }
    var loss = 0.0
    for epoch in 1...max(training.epochs, 1) {
      loss += trainer.trainEpoch(on: data, epoch: epoch).loss
    }
    var delta = trainer.model.parameters
    for i in delta.indices { delta[i] -= model.parameters[i] }
    return (delta, loss / Double(max(training.epochs, 1)))
  }
}
