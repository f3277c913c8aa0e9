import Learning

/// What a malicious cluster does to the federation, for measuring defences.
public enum Attack: Equatable, Sendable, CustomStringConvertible {
  /// Sends its update times -factor (a sign-flipping Byzantine client).
  case signFlip(factor: Float)
  /// Sends its update times factor, to replace the global model (boosting).
  case scaling(factor: Float)
  /// Sends Gaussian noise N(0, sigma^2) instead of an update.
  case gaussianNoise(sigma: Float)
  /// Trains on flipped labels (class c becomes classes - 1 - c): data poisoning.
  case labelFlip
  /// Sends a zero update while claiming its samples (a free rider).
  case freeRider
  /// Trains honestly but claims the most samples the round accepts (its public sample cap),
  /// so that a sample-weighted mean gives its update most of the weight.
  case inflateSamples

  public static let names = [
    "sign-flip", "scaling", "noise", "label-flip", "free-rider", "inflate-samples",
  ]

  public var description: String {
    switch self {
    case .signFlip(let k): "sign-flip(x-\(k))"
    case .scaling(let k): "scaling(x\(k))"
    case .gaussianNoise(let sigma): "noise(sigma \(sigma))"
    case .labelFlip: "label-flip"
    case .freeRider: "free-rider"
    case .inflateSamples: "inflate-samples"
    }
  }

  /// The data the cluster actually trains on.
  public func poison(_ data: Dataset) -> Dataset {
    guard case .labelFlip = self else { return data }
    var flipped = data
    let top = Int32(data.classCount - 1)
    flipped.labels = data.labels.map { top - $0 }
    return flipped
  }

  /// Alters the honest update before it is sent.
  public func tamper(_ delta: inout [Float], rng: inout SeededGenerator) {
    switch self {
    case .signFlip(let k):
      for i in delta.indices { delta[i] *= -k }
    case .scaling(let k):
      for i in delta.indices { delta[i] *= k }
    case .gaussianNoise(let sigma):
      for i in delta.indices { delta[i] = rng.nextGaussian() * sigma }
    case .freeRider:
      for i in delta.indices { delta[i] = 0 }
    case .labelFlip, .inflateSamples:
      break
    }
  }
}
