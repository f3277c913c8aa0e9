import Crypto
import Foundation

/// An architecture together with its parameters: the thing clusters train, exchange and the
/// ledger records (by hash).
public struct Model: Sendable, Equatable {
  public var architecture: Architecture
  /// Every parameter of every layer, layer by layer, each layer's tensors in declaration order.
  public var parameters: [Float]

  /// A freshly initialised model; the same seed gives the same parameters.
  public init(architecture: Architecture, seed: UInt64) throws(ArchitectureError) {
    let network = try Network(architecture, batchCapacity: 1)
    var parameters = [Float](repeating: 0, count: network.parameterCount)
    parameters.withUnsafeMutableBufferPointer { network.initialize($0, seed: seed) }
    self.architecture = architecture
    self.parameters = parameters
  }

  /// A model from existing parameters; their count must match the architecture.
  public init(architecture: Architecture, parameters: [Float]) throws(ModelFileError) {
    let expected: Int
    do {
      expected = try Network(architecture, batchCapacity: 1).parameterCount
    } catch {
      throw .invalidArchitecture(path: nil, reason: error.description)
    }
    guard expected == parameters.count else {
      throw .parameterCountMismatch(path: nil, expected: expected, found: parameters.count)
    }
    self.architecture = architecture
    self.parameters = parameters
  }

  /// The class scores (logits) for a batch: `inputs` has shape [batch] + `architecture.inputShape`
  /// and holds normalised values; the result has shape [batch, classes]. Dropout is off.
  public func logits(for inputs: Tensor) throws(ArchitectureError) -> Tensor {
    let sampleSize = architecture.inputShape.reduce(1, *)
    guard inputs.shape.count == architecture.inputShape.count + 1,
      Array(inputs.shape.dropFirst()) == architecture.inputShape
    else {
      throw .invalidLayer(
        index: 0, layer: "input",
        reason: "expected [batch] + \(architecture.inputShape), got \(inputs.shape)")
    }
    let batch = inputs.shape[0]
    let network = try Network(architecture, batchCapacity: max(batch, 1))
    let classes = network.classCount
    inputs.scalars.withUnsafeBufferPointer {
      if let base = $0.baseAddress { network.input.update(from: base, count: batch * sampleSize) }
    }
    let logits = parameters.withUnsafeBufferPointer {
      network.forward(batch: batch, parameters: $0.baseAddress!, mode: .inference)
    }
    return Tensor(
      shape: [batch, classes],
      scalars: Array(UnsafeBufferPointer(start: logits, count: batch * classes)))
  }

  /// The named tensors of the parameter vector with their shapes, in order.
  public var tensorShapes: [(name: String, shape: [Int])] {
    guard let layers = try? architecture.makeLayers() else { return [] }
    var result: [(String, [Int])] = []
    for (i, layer) in layers.enumerated() {
      for (j, shape) in layer.parameterShapes.enumerated() {
        result.append(("layers.\(i).\(j == 0 ? "weight" : "bias")", shape))
      }
    }
    return result
  }

  /// SHA-256 of the model's canonical encoding (its model-file bytes before the checksum),
  /// in lowercase hex. Equal models have equal hashes on every machine.
  public var hash: String { ModelFile.contentHash(ModelFile.content(of: self)) }
}
