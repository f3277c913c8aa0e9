/// Max pooling over NHWC samples; remembers where each maximum came from for the backward pass.
public final class MaxPool2D: Layer {
  public let window: Window
  public let inputShape: [Int]
  public let outputShape: [Int]
  private var argmax: [Int32] = []

  public init(input: [Int], size: Int, stride: Int? = nil) {
    precondition(input.count == 3, "MaxPool2D needs [height, width, channels] input")
    window = Window(
      height: input[0], width: input[1], channels: input[2], kernelHeight: size,
      kernelWidth: size, stride: stride ?? size, padding: 0)
    inputShape = input
    outputShape = [window.outputHeight, window.outputWidth, input[2]]
  }

  public func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    let w = window
    let c = w.channels
    let oh = w.outputHeight
    let ow = w.outputWidth
    let outSize = oh * ow * c
    if argmax.count < batch * outSize { argmax = [Int32](repeating: 0, count: batch * outSize) }
    argmax.withUnsafeMutableBufferPointer { arg in
      for b in 0..<batch {
        let image = input + b * inputSize
        let out = output + b * outSize
        let idx = arg.baseAddress! + b * outSize
        for oy in 0..<oh {
          for ox in 0..<ow {
            let o = (oy * ow + ox) * c
            let first = (oy * w.stride * w.width + ox * w.stride) * c
            for ch in 0..<c {
              out[o + ch] = image[first + ch]
              idx[o + ch] = Int32(first + ch)
            }
            for ky in 0..<w.kernelHeight {
              for kx in 0..<w.kernelWidth {
                let p = ((oy * w.stride + ky) * w.width + ox * w.stride + kx) * c
                for ch in 0..<c where image[p + ch] > out[o + ch] {
                  out[o + ch] = image[p + ch]
                  idx[o + ch] = Int32(p + ch)
                }
              }
            }
          }
        }
      }
    }
  }

  public func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    guard let inputGradient else { return }
    let outSize = outputSize
    inputGradient.update(repeating: 0, count: batch * inputSize)
    argmax.withUnsafeBufferPointer { arg in
      for b in 0..<batch {
        let dx = inputGradient + b * inputSize
        for j in 0..<outSize {
          dx[Int(arg[b * outSize + j])] += outputGradient[b * outSize + j]
        }
      }
    }
  }
}
