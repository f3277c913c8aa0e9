import Foundation

/// How the learning rate changes from epoch to epoch.
public enum LearningRateSchedule: String, Sendable, Codable, CaseIterable {
  /// The base rate throughout.
  case constant
  /// Cosine annealing: the base rate in the first epoch, falling along a half cosine towards
  /// zero by the end of the last epoch.
  case cosine

  /// The learning rate for `epoch` (1-based) of `epochs`.
  public func rate(base: Float, epoch: Int, epochs: Int) -> Float {
    switch self {
    case .constant:
      return base
    case .cosine:
      let progress = Double(epoch - 1) / Double(max(epochs, 1))
      return base * Float(0.5 * (1 + cos(Double.pi * progress)))
    }
  }
}
