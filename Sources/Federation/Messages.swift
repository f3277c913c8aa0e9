import Learning
import Records

/// Identifies a cluster (an edge gateway and its devices) within a federation.
public typealias ClusterID = Int

/// How a cluster trains locally in a round: sent to it with the round's plan.
public struct LocalTraining: Codable, Equatable, Sendable {
  public var epochs: Int
  public var batchSize: Int
  public var learningRate: Float
  public var momentum: Float
  public var weightDecay: Float
  /// FedProx proximal weight: adds mu/2 * |w - w_global|^2 to the local loss; 0 is FedAvg.
  public var proximalMu: Float

  public init(
    epochs: Int = 1, batchSize: Int = 32, learningRate: Float = 0.01, momentum: Float = 0.9,
    weightDecay: Float = 0, proximalMu: Float = 0
  ) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.learningRate = learningRate
    self.momentum = momentum
    self.weightDecay = weightDecay
    self.proximalMu = proximalMu
  }
}

/// A round as the coordinator opens it: which model to start from and who is asked to train.
///
/// In the full protocol this is the ledger's round-open transaction; clusters verify the base
/// model hash before training.
public struct RoundPlan: Codable, Equatable, Sendable {
  public var round: Int
  public var baseModelHash: String
  public var participants: [ClusterID]
  public var training: LocalTraining
  /// Simulated seconds after which late updates are not accepted; nil waits for everyone.
  public var deadline: Double?
  /// The most samples one update may claim (the round's public rules); a larger claim is
  /// rejected.
  public var sampleCap: UInt64

  public init(
    round: Int, baseModelHash: String, participants: [ClusterID], training: LocalTraining,
    deadline: Double?, sampleCap: UInt64 = RoundRules.maximumSampleCap
  ) {
    self.round = round
    self.baseModelHash = baseModelHash
    self.participants = participants
    self.training = training
    self.deadline = deadline
    self.sampleCap = sampleCap
  }
}

/// What a cluster sends back: the change it made to the base model and how much data it used.
public struct ClusterUpdate: Codable, Equatable, Sendable {
  public var cluster: ClusterID
  public var round: Int
  public var baseModelHash: String
  /// Local model minus base model, one value per parameter.
  public var delta: [Float]
  /// Training samples behind the update (what sample-weighted FedAvg weighs by).
  public var sampleCount: Int
  /// Mean training loss over the local epochs.
  public var trainLoss: Double
  /// How long the cluster's devices would have taken, in simulated seconds.
  public var simulatedSeconds: Double
  /// The devices whose updates went into this one (1 without a device tier): what weighting
  /// by device weighs by, at most the devices the cluster enrolled with.
  public var devices = 1
  /// The device tier's round behind the update, where clusters train through devices.
  public var edge: EdgeSummary? = nil

  public init(
    cluster: ClusterID, round: Int, baseModelHash: String, delta: [Float], sampleCount: Int,
    trainLoss: Double, simulatedSeconds: Double
  ) {
    self.cluster = cluster
    self.round = round
    self.baseModelHash = baseModelHash
    self.delta = delta
    self.sampleCount = sampleCount
    self.trainLoss = trainLoss
    self.simulatedSeconds = simulatedSeconds
  }
}

/// What a cluster's gateway did with its devices in a round.
public struct EdgeSummary: Codable, Equatable, Sendable {
  /// Devices whose updates went into the cluster's (in any edge iteration).
  public var devices: Int
  /// Device updates scaled down to the edge norm bound.
  public var clipped: Int
  /// Devices asked that did not answer, or answered after the edge deadline.
  public var dropped: Int
  public var late: Int
  /// Device updates the gateway refused (wrong size, or values that are not finite).
  public var refused: Int
  /// Wall time the gateway spent combining device updates.
  public var seconds: Double

  public init(
    devices: Int, clipped: Int, dropped: Int, late: Int, refused: Int = 0, seconds: Double
  ) {
    self.devices = devices
    self.clipped = clipped
    self.dropped = dropped
    self.late = late
    self.refused = refused
    self.seconds = seconds
  }
}

/// One update's fate in aggregation.
public struct UpdateDecision: Codable, Equatable, Sendable {
  public enum Verdict: String, Codable, Sendable {
    case accepted, clipped, rejected
  }
  public var cluster: ClusterID
  public var verdict: Verdict
  /// Weight in the aggregate (0 when rejected); nil where it is not public (enclaves keep
  /// each update's weight to themselves).
  public var weight: Double?
  /// Why it was clipped or rejected, in words.
  public var reason: String?

  public init(cluster: ClusterID, verdict: Verdict, weight: Double?, reason: String? = nil) {
    self.cluster = cluster
    self.verdict = verdict
    self.weight = weight
    self.reason = reason
  }
}

/// Why a participant's update never reached aggregation.
public struct MissingUpdate: Codable, Equatable, Sendable {
  public enum Cause: String, Codable, Sendable {
    case dropped, straggler
  }
  public var cluster: ClusterID
  public var cause: Cause
  public var detail: String
}
