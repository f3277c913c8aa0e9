import Canonical
import Protection

extension UpdatePayload {
  /// What cluster `u.cluster` seals for its update.
  public init(_ u: ClusterUpdate) {
    self.init(
      cluster: UInt32(u.cluster), round: UInt64(u.round),
      baseModel: Hex.decode(u.baseModelHash).flatMap { $0.count == 32 ? $0 : nil }
        ?? [UInt8](repeating: 0, count: 32),
      sampleCount: UInt64(u.sampleCount), devices: UInt32(clamping: u.devices),
      trainLoss: u.trainLoss,
      simulatedSeconds: u.simulatedSeconds, values: u.delta)
  }
}

extension ClusterUpdate {
  /// The update a payload carries; fails on numbers this host cannot represent.
  public init(_ p: UpdatePayload) throws(CanonicalDecodingError) {
    guard let round = Int(exactly: p.round) else {
      throw .invalid(field: "update round", problem: "is too large")
    }
    guard let samples = Int(exactly: p.sampleCount) else {
      throw .invalid(field: "update sample count", problem: "is too large")
    }
    self.init(
      cluster: Int(p.cluster), round: round, baseModelHash: Hex.encode(p.baseModel),
      delta: p.values, sampleCount: samples, trainLoss: p.trainLoss,
      simulatedSeconds: p.simulatedSeconds)
    devices = Int(p.devices)
  }
}
