/// One layer of an architecture description, as written in model files.
public enum LayerSpec: Codable, Equatable, Sendable, CustomStringConvertible {
  case dense(units: Int)
  case conv2d(filters: Int, kernel: Int, stride: Int, padding: Int)
  case maxPool2d(size: Int, stride: Int)
  case relu
  case flatten
  case dropout(rate: Float)

  public var description: String {
    switch self {
    case .dense(let units): "dense(\(units))"
    case .conv2d(let f, let k, let s, let p): "conv2d(\(f), \(k)x\(k), stride \(s), pad \(p))"
    case .maxPool2d(let size, let stride): "maxpool(\(size)x\(size), stride \(stride))"
    case .relu: "relu"
    case .flatten: "flatten"
    case .dropout(let rate): "dropout(\(rate))"
    }
  }
}

/// Why an architecture cannot be built.
public enum ArchitectureError: Error, Equatable, CustomStringConvertible {
  case invalidLayer(index: Int, layer: String, reason: String)
  case unknownModel(name: String, known: [String])

  public var description: String {
    switch self {
    case .invalidLayer(let index, let layer, let reason):
      "layer \(index) (\(layer)): \(reason)"
    case .unknownModel(let name, let known):
      "unknown model '\(name)'; known: \(known.joined(separator: ", "))"
    }
  }
}

/// A sequential network's description: its input shape, its layers and its class count.
///
/// This is what a model file records, so a file's parameters can only be loaded into the
/// network they were trained for.
public struct Architecture: Codable, Equatable, Sendable {
  /// A short name such as "lenet5".
  public var name: String
  /// The shape of one input sample: [height, width, channels] or [features].
  public var inputShape: [Int]
  public var layers: [LayerSpec]

  public init(name: String, inputShape: [Int], layers: [LayerSpec]) {
    self.name = name
    self.inputShape = inputShape
    self.layers = layers
  }

  /// Instantiates the layers, checking that each one fits its input.
  public func makeLayers() throws(ArchitectureError) -> [any Layer] {
    guard !layers.isEmpty else {
      throw .invalidLayer(
        index: 0, layer: "none", reason: "an architecture needs at least one layer")
    }
    // Every size is computed with overflow checks and bounded before a layer is used: an
    // architecture may come from a file, and its numbers are then the file's word only.
    guard !inputShape.isEmpty, inputShape.allSatisfy({ $0 > 0 && $0 <= 1 << 20 }),
      let inputSize = Self.checkedProduct(inputShape),
      inputSize <= Self.maximumActivationValues
    else {
      throw .invalidLayer(
        index: 0, layer: "input", reason: "input shape \(inputShape) is not a valid sample shape")
    }
    var shape = inputShape
    var built: [any Layer] = []
    var activationValues = inputSize
    var totalParameters = 0
    for (index, spec) in layers.enumerated() {
      func fail(_ reason: String) -> ArchitectureError {
        .invalidLayer(index: index, layer: spec.description, reason: reason)
      }
      let layer: any Layer
      switch spec {
      case .dense(let units):
        guard shape.count == 1 else {
          throw fail("needs a vector input, got \(shape); add flatten")
        }
        guard units > 0 else { throw fail("units must be positive") }
        layer = Dense(inputs: shape[0], outputs: units)
      case .conv2d(let filters, let kernel, let stride, let padding):
        guard shape.count == 3 else {
          throw fail("needs [height, width, channels] input, got \(shape)")
        }
        guard filters > 0, kernel > 0, stride > 0, padding >= 0, filters <= 1 << 16,
          kernel <= 1 << 10,
          padding <= 1 << 10
        else {
          throw fail("filters, kernel and stride must be positive and padding not negative")
        }
        guard shape[0] + 2 * padding >= kernel, shape[1] + 2 * padding >= kernel else {
          throw fail("kernel \(kernel) is larger than the padded input \(shape)")
        }
        layer = Conv2D(
          input: shape, filters: filters, kernel: kernel, stride: stride, padding: padding)
      case .maxPool2d(let size, let stride):
        guard shape.count == 3 else {
          throw fail("needs [height, width, channels] input, got \(shape)")
        }
        guard size > 0, stride > 0, shape[0] >= size, shape[1] >= size else {
          throw fail("window \(size) does not fit input \(shape)")
        }
        layer = MaxPool2D(input: shape, size: size, stride: stride)
      case .relu:
        layer = ReLU(shape: shape)
      case .flatten:
        layer = Flatten(shape: shape)
      case .dropout(let rate):
        guard rate >= 0, rate < 1 else { throw fail("rate must be in [0, 1)") }
        layer = Dropout(shape: shape, rate: rate)
      }
      guard let outputSize = Self.checkedProduct(layer.outputShape),
        let activations = Self.checkedSum(activationValues, outputSize),
        activations <= Self.maximumActivationValues
      else {
        throw fail(
          "its output \(layer.outputShape) takes the activations of one sample past "
            + "\(Self.maximumActivationValues) values")
      }
      guard let layerParameters = Self.checkedTotal(layer.parameterShapes),
        let parameters = Self.checkedSum(totalParameters, layerParameters),
        parameters <= Self.maximumParameterCount
      else {
        throw fail(
          "its parameters \(layer.parameterShapes) take the network past "
            + "\(Self.maximumParameterCount) parameters")
      }
      activationValues = activations
      totalParameters = parameters
      built.append(layer)
      shape = layer.outputShape
    }
    guard shape.count == 1, shape[0] >= 2 else {
      throw .invalidLayer(
        index: layers.count - 1, layer: layers.last?.description ?? "none",
        reason: "the network must end in a vector of at least 2 class scores, got \(shape)"
          + (shape == [1] ? " (the dataset has a single class)" : ""))
    }
    return built
  }

  /// The most values the activations of one sample may hold, summed over the input and every
  /// layer's output: 2^26 Float32 values, 256 MiB, hundreds of times what the built-in networks
  /// need. It bounds the memory an architecture read from a file can make a network allocate.
  public static let maximumActivationValues = 1 << 26
  /// The most parameters an architecture may have: 2^30 Float32 values, 4 GiB.
  public static let maximumParameterCount = 1 << 30

  /// The number of parameters, with every size checked as `makeLayers` checks it, and without
  /// allocating a network's activation memory.
  public func parameterCount() throws(ArchitectureError) -> Int {
    try makeLayers().reduce(0) { $0 + $1.parameterCount }
  }

  /// The product of `dimensions`; nil if one is negative or the product overflows.
  static func checkedProduct(_ dimensions: [Int]) -> Int? {
    var product = 1
    for dimension in dimensions {
      guard dimension >= 0 else { return nil }
      let (result, overflow) = product.multipliedReportingOverflow(by: dimension)
      guard !overflow else { return nil }
      product = result
    }
    return product
  }

  /// `a + b`; nil if it overflows.
  static func checkedSum(_ a: Int, _ b: Int) -> Int? {
    let (result, overflow) = a.addingReportingOverflow(b)
    return overflow ? nil : result
  }

  /// The number of values in tensors of the given shapes; nil if it overflows.
  static func checkedTotal(_ shapes: [[Int]]) -> Int? {
    var total = 0
    for shape in shapes {
      guard let size = checkedProduct(shape), let sum = checkedSum(total, size) else { return nil }
      total = sum
    }
    return total
  }

  /// The layers as a worker executes them: each Conv2D -> ReLU -> non-overlapping MaxPool2D
  /// run becomes one fused layer with the same parameters and the same results.
  func makeExecutionLayers() throws(ArchitectureError) -> [any Layer] {
    let plain = try makeLayers()
    var fused: [any Layer] = []
    var i = 0
    while i < plain.count {
      if i + 2 < plain.count, let conv = plain[i] as? Conv2D, plain[i + 1] is ReLU,
        let pool = plain[i + 2] as? MaxPool2D, pool.window.stride == pool.window.kernelHeight
      {
        fused.append(ConvReLUPool(conv: conv, pool: pool.window.kernelHeight))
        i += 3
      } else {
        fused.append(plain[i])
        i += 1
      }
    }
    return fused
  }

}
