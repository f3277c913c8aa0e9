import Dispatch
import Learning

/// A cluster's edge gateway driving its devices through a round (HierFAVG): each edge
/// iteration it asks a seeded share of its devices, each that answers in time trains the edge
/// model on its own data, and the gateway combines their updates by its edge rule into the
/// next edge model. After the last iteration the change from the round's base model is the
/// cluster's update. Pure logic: the devices answer through `DeviceClient`.
public struct EdgeGateway: Sendable {
  public let cluster: ClusterID
  public let devices: [any DeviceClient]
  public let settings: DeviceSettings

  public init(cluster: ClusterID, devices: [any DeviceClient], settings: DeviceSettings) {
    precondition(!devices.isEmpty, "a gateway has at least one device")
    self.cluster = cluster
    self.devices = devices
    self.settings = settings
  }

  /// What one round at the edge came to.
  public struct Round: Sendable {
    /// Edge model minus base model (zero when no device answered).
    public var delta: [Float]
    /// Distinct devices that contributed in any iteration, and their samples.
    public var devices: Int
    public var samples: Int
    /// Mean device training loss over the updates combined.
    public var trainLoss: Double
    /// Simulated seconds: each iteration as long as its slowest answering device.
    public var simulatedSeconds: Double
    /// Device updates scaled down to the edge norm bound.
    public var clipped: Int
    /// Devices asked that did not answer, or answered too late, per iteration.
    public var dropped: Int
    public var late: Int
    /// Device updates refused: not one value per parameter, or not all finite.
    public var refused: Int
    /// Wall time spent combining device updates at the gateway.
    public var edgeNanoseconds: UInt64
  }

  /// Simulated seconds of a round at the edge when every device answers.
  public func simulatedSeconds(for training: LocalTraining) -> Double {
    Double(settings.edgeIterations)
      * (devices.map { $0.simulatedSeconds(for: training) }.max() ?? 0)
  }

  /// Runs the round's edge iterations from `base`. Deterministic for a seed: the devices asked,
  /// those that drop out and each device's training all derive from it.
  public func train(_ base: Model, training: LocalTraining, seed: UInt64) throws -> Round {
    var edge = base
    var contributed = Set<Int>()
    var samples = 0
    var lossSum = 0.0
    var updates = 0
    var simulated = 0.0
    var clipped = 0
    var dropped = 0
    var late = 0
    var refused = 0
    var edgeNanos: UInt64 = 0
    let asked = max(1, Int((settings.fraction * Double(devices.count)).rounded()))
    for iteration in 1...settings.edgeIterations {
      var rng = SeededGenerator(seed: seed, domain: "edge.\(cluster).\(iteration)")
      let chosen = rng.shuffled(Array(devices.indices)).prefix(asked).sorted()
      var answers: [DeviceUpdate] = []
      var slowest = 0.0
      for i in chosen {
        let device = devices[i]
        if settings.dropout > 0 && Double(rng.nextUniform()) < settings.dropout {
          dropped += 1
          continue
        }
        let seconds = device.simulatedSeconds(for: training)
        if let deadline = settings.deadline, seconds > deadline {
          late += 1
          continue
        }
        let deviceSeed = seed &+ UInt64(iteration) &* 0x9E37_79B9 &+ UInt64(i) &* 104_729
        var answer = try device.train(edge, training: training, seed: deviceSeed)
        // What a device sends is its own word: the gateway takes only an update of the model's
        // shape with finite values, and weighs it by at most the samples the device registered
        // (a device claiming more cannot outweigh the others at the edge).
        guard answer.delta.count == base.parameters.count, answer.delta.allSatisfy(\.isFinite)
        else {
          refused += 1
          continue
        }
        answer.sampleCount = min(max(answer.sampleCount, 0), device.sampleCount)
        answers.append(answer)
        slowest = max(slowest, seconds)
        if contributed.insert(i).inserted { samples += device.sampleCount }
      }
      simulated += slowest
      guard !answers.isEmpty else { continue }
      let start = DispatchTime.now().uptimeNanoseconds
      let (delta, scaled) = settings.edgeRule.combine(answers, normBound: settings.edgeNormBound)
      var next = edge.parameters
      for j in next.indices { next[j] += delta[j] }
      edge = try Model(architecture: base.architecture, parameters: next)
      edgeNanos += DispatchTime.now().uptimeNanoseconds - start
      clipped += scaled
      lossSum += answers.reduce(0) { $0 + $1.trainLoss }
      updates += answers.count
    }
    var delta = edge.parameters
    for j in delta.indices { delta[j] -= base.parameters[j] }
    return Round(
      delta: delta, devices: contributed.count, samples: samples,
      trainLoss: updates > 0 ? lossSum / Double(updates) : 0, simulatedSeconds: simulated,
      clipped: clipped, dropped: dropped, late: late, refused: refused,
      edgeNanoseconds: edgeNanos)
  }
}
