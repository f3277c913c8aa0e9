import Foundation
import Learning
import Records

/// How a simulation builds each cluster's devices: the second level of the partition.
public enum DeviceTier {
  /// The samples of each device of cluster `cluster`, as indices into `indices` (the cluster's
  /// training samples, whose labels are `labels`): a device count fixed, or drawn log-normal
  /// around `perCluster` and never more than the samples, then split by the settings'
  /// partitioner with a seed of the cluster's own. Every sample goes to exactly one device.
  public static func shares(
    cluster: ClusterID, labels: [Int32], classCount: Int, settings: DeviceSettings, seed: UInt64
  ) -> [[Int]] {
    var rng = SeededGenerator(seed: seed, domain: "simulation.devices.\(cluster)")
    var count = settings.perCluster
    if settings.spread > 0 {
      count = Int(
        (Double(settings.perCluster) * Foundation.exp(Double(rng.nextGaussian()) * settings.spread))
          .rounded())
    }
    count = max(1, min(count, labels.count, Int(RoundRules.maximumDevices)))
    return settings.partition.partition(
      labels: labels, classCount: classCount, clusters: count,
      seed: seed &+ 0x5_DEEC_E66D &* UInt64(cluster + 1))
  }

  /// The gateway of cluster `cluster` over its training samples `indices` (of `train`): its
  /// device count (fixed, or a seeded log-normal draw around `perCluster`, never more than its
  /// samples), each device's share by the settings' partitioner, which devices attack, and each
  /// device's speed: log-normal around its cluster's `speed` (the edge tier's stragglers).
  static func gateway(
    cluster: ClusterID, indices: [Int], train: Dataset, settings: DeviceSettings, seed: UInt64,
    clusterAttack: Attack?, speed: Double
  ) -> EdgeGateway {
    let parts = shares(
      cluster: cluster, labels: indices.map { train.labels[$0] }, classCount: train.classCount,
      settings: settings, seed: seed)
    let count = parts.count
    var rng = SeededGenerator(seed: seed, domain: "simulation.devices.attack.\(cluster)")
    let poisoned =
      settings.attack.kind == nil ? 0 : Int((settings.attack.fraction * Double(count)).rounded())
    let attackers = Set(rng.shuffled(Array(0..<count)).prefix(poisoned))
    var speeds = SeededGenerator(seed: seed, domain: "simulation.devices.speed.\(cluster)")
    let devices: [any DeviceClient] = parts.enumerated().map { index, local in
      let global = local.map { indices[$0] }
      // A label-flipping cluster's gateway trains its devices on its flipped data.
      let data =
        clusterAttack == .labelFlip
        ? Attack.labelFlip.poison(train.subset(global)) : train.subset(global)
      let deviceSpeed =
        settings.speedSpread > 0
        ? speed * Foundation.exp(Double(speeds.nextGaussian()) * settings.speedSpread) : speed
      return SimulatedDevice(
        id: DeviceID(cluster: cluster, index: index), data: data,
        attack: attackers.contains(index) ? settings.attack.kind : nil,
        speed: deviceSpeed,
        histogram: labelHistogram(global, labels: train.labels, classCount: train.classCount))
    }
    return EdgeGateway(cluster: cluster, devices: devices, settings: settings)
  }
}
