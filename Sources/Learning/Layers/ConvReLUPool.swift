/// Conv2D, ReLU and non-overlapping MaxPool2D executed as one layer.
///
/// Forward: im2col + one GEMM for the batch, then bias, ReLU and pooling in a single pass that
/// remembers, for every pooled value, which convolution output produced it (or that ReLU cut it).
/// Backward: after ReLU and max-pooling at most one convolution output in each window has a
/// non-zero gradient, so the weight and input gradients are accumulated only at those positions,
/// straight from the input image, instead of through two dense GEMMs that would multiply zeros.
/// The result equals Conv2D -> ReLU -> MaxPool2D (up to summation order).
final class ConvReLUPool: Layer {
  let conv: Conv2D
  let pool: Int
  let inputShape: [Int]
  let outputShape: [Int]
  private var preActivation = FloatBuffer(count: 0)
  private var source: [Int32] = []

  init(conv: Conv2D, pool: Int) {
    self.conv = conv
    self.pool = pool
    inputShape = conv.inputShape
    outputShape = [conv.outputShape[0] / pool, conv.outputShape[1] / pool, conv.filters]
  }

  var parameterShapes: [[Int]] { conv.parameterShapes }

  func initialize(_ parameters: UnsafeMutableBufferPointer<Float>, using rng: inout SeededGenerator)
  {
    conv.initialize(parameters, using: &rng)
  }

  func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    let w = conv.window
    let f = conv.filters
    let oh = w.outputHeight
    let ow = w.outputWidth
    let rows = batch * oh * ow
    if preActivation.count < rows * f { preActivation = FloatBuffer(count: rows * f) }
    conv.linear(input, into: preActivation.pointer, batch: batch, parameters: parameters)
    let bias = parameters + f * w.patchSize
    let ph = outputShape[0]
    let pw = outputShape[1]
    let pooledSize = ph * pw * f
    if source.count < batch * pooledSize {
      source = [Int32](repeating: 0, count: batch * pooledSize)
    }
    let z = UnsafePointer(preActivation.pointer)
    let p = pool
    source.withUnsafeMutableBufferPointer { src in
      let src = src.baseAddress!
      for b in 0..<batch {
        for py in 0..<ph {
          for px in 0..<pw {
            let o = ((b &* ph &+ py) &* pw &+ px) &* f
            let firstRow = (b &* oh &+ py &* p) &* ow &+ px &* p
            if p == 2 {
              pool2x2(
                z, rows: firstRow, rowStride: ow, channels: f, bias: bias, output + o, src + o)
            } else {
              poolWindow(
                z, rows: firstRow, size: p, rowStride: ow, channels: f, bias: bias, output + o,
                src + o)
            }
          }
        }
      }
    }
  }

  /// Bias, ReLU and the maximum of a 2x2 window for every channel, with the winning row
  /// (or -1 where ReLU zeroes the value). Branch-free, so the compiler vectorises it.
  @inline(__always)
  private func pool2x2(
    _ z: UnsafePointer<Float>, rows r0: Int, rowStride: Int, channels f: Int,
    bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    _ src: UnsafeMutablePointer<Int32>
  ) {
    let r1 = r0 &+ 1
    let r2 = r0 &+ rowStride
    let r3 = r2 &+ 1
    let z0 = z + r0 &* f
    let z1 = z + r1 &* f
    let z2 = z + r2 &* f
    let z3 = z + r3 &* f
    for c in 0..<f {
      var best = z0[c]
      var index = Int32(truncatingIfNeeded: r0)
      index = z1[c] > best ? Int32(truncatingIfNeeded: r1) : index
      best = max(best, z1[c])
      index = z2[c] > best ? Int32(truncatingIfNeeded: r2) : index
      best = max(best, z2[c])
      index = z3[c] > best ? Int32(truncatingIfNeeded: r3) : index
      best = max(best, z3[c])
      let v = best + bias[c]
      out[c] = v > 0 ? v : 0
      src[c] = v > 0 ? index : -1
    }
  }

  /// The general form of `pool2x2` for a size x size window.
  private func poolWindow(
    _ z: UnsafePointer<Float>, rows firstRow: Int, size p: Int, rowStride: Int, channels f: Int,
    bias: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>,
    _ src: UnsafeMutablePointer<Int32>
  ) {
    for c in 0..<f {
      var best = z[firstRow * f + c]
      var index = Int32(firstRow)
      for dy in 0..<p {
        for dx in 0..<p {
          let row = firstRow + dy * rowStride + dx
          let v = z[row * f + c]
          index = v > best ? Int32(row) : index
          best = max(best, v)
        }
      }
      let v = best + bias[c]
      out[c] = v > 0 ? v : 0
      src[c] = v > 0 ? index : -1
    }
  }

  func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    let w = conv.window
    let f = conv.filters
    let ch = w.channels
    let k = w.patchSize
    let oh = w.outputHeight
    let ow = w.outputWidth
    let pooledSize = outputShape.reduce(1, *)
    let imageSize = w.height * w.width * ch
    let biasGradient = gradients + f * k
    inputGradient?.update(repeating: 0, count: batch * imageSize)
    source.withUnsafeBufferPointer { src in
      for b in 0..<batch {
        let image = input + b * imageSize
        let imageGradient = inputGradient.map { $0 + b * imageSize }
        for j in 0..<pooledSize {
          let row = Int(src[b * pooledSize + j])
          let g = outputGradient[b * pooledSize + j]
          guard row >= 0, g != 0 else { continue }
          let c = j % f
          biasGradient[c] += g
          let within = row - b * oh * ow
          let oy = within / ow
          let ox = within % ow
          let x0 = ox * w.stride - w.padding
          let kx0 = max(0, -x0)
          let kx1 = min(w.kernelWidth, w.width - x0)
          guard kx0 < kx1 else { continue }
          let span = (kx1 - kx0) * ch
          let weightRow = parameters + c * k
          let gradientRow = gradients + c * k
          for ky in 0..<w.kernelHeight {
            let iy = oy * w.stride - w.padding + ky
            guard iy >= 0 && iy < w.height else { continue }
            let inOffset = (iy * w.width + x0 + kx0) * ch
            let kOffset = (ky * w.kernelWidth + kx0) * ch
            let xs = image + inOffset
            let dws = gradientRow + kOffset
            for t in 0..<span { dws[t] += g * xs[t] }
            if let imageGradient {
              let dxs = imageGradient + inOffset
              let ws = weightRow + kOffset
              for t in 0..<span { dxs[t] += g * ws[t] }
            }
          }
        }
      }
    }
  }
}
