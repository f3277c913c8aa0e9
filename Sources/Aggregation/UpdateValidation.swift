/// The checks every update passes before a rule sees it, in one order, with one wording: the
/// plaintext strategy and the enclaves' fixed-point aggregation both run these.
public struct UpdateValidation: Sendable {
  public var parameterCount: Int
  /// The most samples one update may claim (nil: no cap).
  public var sampleCap: UInt64?
  /// Updates with a larger L2 norm are scaled down to it.
  public var normBound: Float?

  public init(parameterCount: Int, sampleCap: UInt64?, normBound: Float?) {
    self.parameterCount = parameterCount
    self.sampleCap = sampleCap
    self.normBound = normBound
  }

  /// An update that passed: its values (clipped if they had to be), and if clipped, the norm
  /// and scale in words (which only the plaintext strategy may publish).
  public struct Passed: Sendable {
    public var values: [Float]
    public var clipped: String?
  }

  /// Why an update was refused.
  public struct Refusal: Error, Sendable, Equatable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
  }

  public func check(_ values: [Float], sampleCount: UInt64) -> Result<Passed, Refusal> {
    guard values.count == parameterCount else {
      return .failure(.init(reason: "has \(values.count) values, the model has \(parameterCount)"))
    }
    guard sampleCount > 0 else { return .failure(.init(reason: "claims no training samples")) }
    if let sampleCap, sampleCount > sampleCap {
      return .failure(
        .init(reason: "claims more training samples than the round's cap of \(sampleCap)"))
    }
    let squared = squaredNorm(values)
    guard squared.isFinite else {
      return .failure(.init(reason: "contains values that are not finite"))
    }
    var values = values
    let clipped = boundNorm(&values, squaredNorm: squared, bound: normBound)
    return .success(Passed(values: values, clipped: clipped))
  }
}
