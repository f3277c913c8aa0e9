/// Rectified linear unit: y = max(x, 0).
public final class ReLU: Layer {
  public let inputShape: [Int]
  public var outputShape: [Int] { inputShape }

  public init(shape: [Int]) { inputShape = shape }

  public func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    for i in 0..<(batch * inputSize) { output[i] = max(input[i], 0) }
  }

  public func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    guard let inputGradient else { return }
    for i in 0..<(batch * inputSize) {
      inputGradient[i] = output[i] > 0 ? outputGradient[i] : 0
    }
  }
}

/// Reshapes [height, width, channels] samples into vectors; the values are unchanged.
public final class Flatten: Layer {
  public let inputShape: [Int]
  public var outputShape: [Int] { [inputShape.reduce(1, *)] }

  public init(shape: [Int]) { inputShape = shape }

  public func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    output.update(from: input, count: batch * inputSize)
  }

  public func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    inputGradient?.update(from: outputGradient, count: batch * inputSize)
  }
}

/// Inverted dropout: in training, zeroes each value with probability `rate` and scales the
/// rest by 1 / (1 - rate); in inference, the identity.
public final class Dropout: Layer {
  public let inputShape: [Int]
  public var outputShape: [Int] { inputShape }
  public let rate: Float
  private var mask: [Float] = []
  /// Whether the last forward pass dropped values (training with a non-zero rate).
  private var masked = false

  public init(shape: [Int], rate: Float) {
    precondition(rate >= 0 && rate < 1, "dropout rate must be in [0, 1)")
    inputShape = shape
    self.rate = rate
  }

  public func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    let n = batch * inputSize
    guard mode == .training, rate > 0 else {
      output.update(from: input, count: n)
      masked = false
      return
    }
    masked = true
    if mask.count < n { mask = [Float](repeating: 0, count: n) }
    let keep = 1 / (1 - rate)
    mask.withUnsafeMutableBufferPointer { m in
      for i in 0..<n {
        m[i] = rng.nextUniform() < rate ? 0 : keep
        output[i] = input[i] * m[i]
      }
    }
  }

  public func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    guard let inputGradient else { return }
    let n = batch * inputSize
    guard masked else {
      inputGradient.update(from: outputGradient, count: n)
      return
    }
    mask.withUnsafeBufferPointer { m in
      for i in 0..<n { inputGradient[i] = outputGradient[i] * m[i] }
    }
  }
}
