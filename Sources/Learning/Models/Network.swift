import Foundation

/// A compiled sequential network with its own activation and gradient memory: one per worker.
///
/// The parameters are not stored here; every pass takes them as a pointer so several workers
/// can share one parameter vector while each accumulates its own gradients.
public final class Network {
  public let architecture: Architecture
  public let layers: [any Layer]
  /// Where each layer's slice of the flat parameter vector starts.
  public let parameterOffsets: [Int]
  public let parameterCount: Int
  public let inputSize: Int
  public let classCount: Int
  public private(set) var batchCapacity: Int
  private var activations: [FloatBuffer] = []
  private var gradientA = FloatBuffer(count: 0)
  private var gradientB = FloatBuffer(count: 0)
  private var dropoutRNG: SeededGenerator

  /// Compiles `architecture`; with `fused` (the default), Conv2D -> ReLU -> MaxPool2D runs
  /// execute as one layer.
  public init(
    _ architecture: Architecture, batchCapacity: Int, seed: UInt64 = 0, fused: Bool = true
  ) throws(ArchitectureError) {
    self.architecture = architecture
    layers = try fused ? architecture.makeExecutionLayers() : architecture.makeLayers()
    var offsets: [Int] = []
    var total = 0
    for layer in layers {
      offsets.append(total)
      total += layer.parameterCount
    }
    parameterOffsets = offsets
    parameterCount = total
    inputSize = architecture.inputShape.reduce(1, *)
    classCount = layers.last!.outputShape[0]
    self.batchCapacity = 0
    dropoutRNG = SeededGenerator(seed: seed, domain: "dropout")
    reserve(batch: batchCapacity)
  }

  /// Makes room for batches of up to `batch` samples.
  public func reserve(batch: Int) {
    guard batch > batchCapacity else { return }
    batchCapacity = batch
    var sizes = [inputSize]
    for layer in layers { sizes.append(layer.outputSize) }
    activations = sizes.map { FloatBuffer(count: $0 * batch) }
    let largest = sizes.max()! * batch
    gradientA = FloatBuffer(count: largest)
    gradientB = FloatBuffer(count: largest)
  }

  /// Where the next batch's inputs go: batchCapacity * inputSize values.
  public var input: UnsafeMutablePointer<Float> { activations[0].pointer }

  /// Writes initial parameters for every layer into `parameters`.
  public func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, seed: UInt64) {
    precondition(parameters.count == parameterCount)
    var rng = SeededGenerator(seed: seed, domain: "init")
    for (i, layer) in layers.enumerated() {
      let slice = parameters[parameterOffsets[i]..<(parameterOffsets[i] + layer.parameterCount)]
      layer.initialize(.init(rebasing: slice), using: &rng)
    }
  }

  /// Runs the batch in `input` through every layer and returns the logits ([batch, classes]).
  @discardableResult
  public func forward(
    batch: Int, parameters: UnsafePointer<Float>, mode: PassMode
  ) -> UnsafePointer<Float> {
    precondition(batch <= batchCapacity, "batch \(batch) exceeds capacity \(batchCapacity)")
    for (i, layer) in layers.enumerated() {
      layer.forward(
        activations[i].pointer, into: activations[i + 1].pointer, batch: batch,
        parameters: parameters + parameterOffsets[i], mode: mode, rng: &dropoutRNG)
    }
    return UnsafePointer(activations[layers.count].pointer)
  }

  /// Back-propagates `logitGradient` through the last forward pass, adding parameter
  /// gradients into `gradients`. The input gradient of the first layer is never computed.
  public func backward(
    logitGradient: UnsafePointer<Float>, batch: Int, parameters: UnsafePointer<Float>,
    gradients: UnsafeMutablePointer<Float>
  ) {
    var upstream = logitGradient
    var useA = true
    for i in stride(from: layers.count - 1, through: 0, by: -1) {
      let target = useA ? gradientA.pointer : gradientB.pointer
      layers[i].backward(
        input: activations[i].pointer, output: activations[i + 1].pointer,
        outputGradient: upstream, inputGradient: i == 0 ? nil : target, batch: batch,
        parameters: parameters + parameterOffsets[i], gradients: gradients + parameterOffsets[i])
      upstream = UnsafePointer(target)
      useA.toggle()
    }
  }
}

/// Mean softmax cross-entropy over a batch of logits.
public enum SoftmaxCrossEntropy {
  /// Returns the summed loss and the number of correct predictions; if `gradient` is given,
  /// writes d(loss)/d(logits) scaled by `gradientScale` (1 / batch size for a mean loss).
  @discardableResult
  public static func evaluate(
    logits: UnsafePointer<Float>, labels: some Collection<Int32>, classes: Int,
    gradient: UnsafeMutablePointer<Float>? = nil, gradientScale: Float = 1
  ) -> (loss: Double, correct: Int) {
    var loss = 0.0
    var correct = 0
    for (row, label) in labels.enumerated() {
      let z = logits + row * classes
      var best = 0
      var maximum = z[0]
      for j in 1..<classes where z[j] > maximum {
        maximum = z[j]
        best = j
      }
      if best == Int(label) { correct += 1 }
      var sum: Float = 0
      for j in 0..<classes { sum += exp(z[j] - maximum) }
      loss += Double(log(sum) - (z[Int(label)] - maximum))
      if let gradient {
        let g = gradient + row * classes
        let inverse = gradientScale / sum
        for j in 0..<classes { g[j] = exp(z[j] - maximum) * inverse }
        g[Int(label)] -= gradientScale
      }
    }
    return (loss, correct)
  }
}
