/// A fully connected layer: y = x W^T + b, with W stored [outputs, inputs] as in PyTorch.
public final class Dense: Layer {
  public let inputShape: [Int]
  public let outputShape: [Int]
  let inputs: Int
  let outputs: Int

  public init(inputs: Int, outputs: Int) {
    self.inputs = inputs
    self.outputs = outputs
    inputShape = [inputs]
    outputShape = [outputs]
  }

  public var parameterShapes: [[Int]] { [[outputs, inputs], [outputs]] }

  public func initialize(
    _ parameters: UnsafeMutableBufferPointer<Float>, using rng: inout SeededGenerator
  ) {
    heUniform(.init(rebasing: parameters[0..<(outputs * inputs)]), fanIn: inputs, using: &rng)
    for i in (outputs * inputs)..<parameters.count { parameters[i] = 0 }
  }

  public func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    BLAS.gemm(
      transposeB: true, m: batch, n: outputs, k: inputs, a: input, lda: inputs,
      b: parameters, ldb: inputs, c: output, ldc: outputs)
    addBias(parameters + outputs * inputs, to: output, rows: batch, columns: outputs)
  }

  public func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    BLAS.gemm(
      transposeA: true, m: outputs, n: inputs, k: batch, a: outputGradient, lda: outputs,
      b: input, ldb: inputs, beta: 1, c: gradients, ldc: inputs)
    addColumnSums(
      outputGradient, rows: batch, columns: outputs, into: gradients + outputs * inputs)
    if let inputGradient {
      BLAS.gemm(
        m: batch, n: inputs, k: outputs, a: outputGradient, lda: outputs,
        b: parameters, ldb: inputs, c: inputGradient, ldc: inputs)
    }
  }
}
