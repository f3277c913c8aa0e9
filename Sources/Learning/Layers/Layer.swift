/// Whether a forward pass is for training (dropout active) or inference.
public enum PassMode {
  case training
  case inference
}

/// One differentiable step of a network, working on a whole batch at once.
///
/// A layer instance belongs to one worker: it may keep scratch memory between its forward and
/// backward pass (im2col columns, pooling indices, dropout masks). Parameters live outside the
/// layer, in the model's flat parameter vector, so that workers can share them, optimisers can
/// update them in one loop, and federated rounds can exchange them as one vector. A layer reads
/// its slice through `parameters` and adds to the same slice of `gradients`.
public protocol Layer: AnyObject {
  /// The shape of one input sample ([height, width, channels] or [features]).
  var inputShape: [Int] { get }
  /// The shape of one output sample.
  var outputShape: [Int] { get }
  /// The number of Float32 parameters this layer owns in the flat vector.
  var parameterCount: Int { get }
  /// Shapes of this layer's parameter tensors, in the order they lie in its slice.
  var parameterShapes: [[Int]] { get }

  /// Writes the layer's initial parameters.
  func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, using rng: inout SeededGenerator)

  /// Computes `batch` outputs from `batch` inputs.
  func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator)

  /// Given the gradient of the loss with respect to the last forward pass's output, adds the
  /// parameter gradients into `gradients` and, if `inputGradient` is not nil, writes the
  /// gradient with respect to the input there.
  func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>)
}

extension Layer {
  public var parameterCount: Int { parameterShapes.reduce(0) { $0 + $1.reduce(1, *) } }
  public var parameterShapes: [[Int]] { [] }
  public func initialize(
    _ parameters: UnsafeMutableBufferPointer<Float>, using rng: inout SeededGenerator
  ) {}
  var inputSize: Int { inputShape.reduce(1, *) }
  var outputSize: Int { outputShape.reduce(1, *) }
}

/// He (Kaiming) uniform initialisation for layers followed by ReLU: U(-b, b), b = sqrt(6 / fanIn).
func heUniform(
  _ weights: UnsafeMutableBufferPointer<Float>, fanIn: Int, using rng: inout SeededGenerator
) {
  let bound = (6 / Float(fanIn)).squareRoot()
  for i in weights.indices { weights[i] = (rng.nextUniform() * 2 - 1) * bound }
}

/// Adds the column sums of a rows x columns row-major matrix to `sums`.
@inline(__always)
func addColumnSums(
  _ matrix: UnsafePointer<Float>, rows: Int, columns: Int, into sums: UnsafeMutablePointer<Float>
) {
  var row = matrix
  for _ in 0..<rows {
    for j in 0..<columns { sums[j] += row[j] }
    row += columns
  }
}

/// Adds `bias` to every row of a rows x columns row-major matrix.
@inline(__always)
func addBias(
  _ bias: UnsafePointer<Float>, to matrix: UnsafeMutablePointer<Float>, rows: Int, columns: Int
) {
  var row = matrix
  for _ in 0..<rows {
    for j in 0..<columns { row[j] += bias[j] }
    row += columns
  }
}
