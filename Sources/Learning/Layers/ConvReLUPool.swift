/// Conv2D, ReLU and non-overlapping MaxPool2D executed as one layer.
///
/// Forward: im2col + one GEMM for the batch, then bias, ReLU and pooling in a single pass that
/// remembers, for every pooled value, which convolution output produced it (or that ReLU cut it);
/// a single-channel convolution with 2x2 pooling does all of it in registers instead.
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
  private var padded = FloatBuffer(count: 0)

  /// Single-channel, stride-1 convolutions (first layers on grey images) work straight on a
  /// zero-padded copy of each image with SIMD over its rows: with one channel, im2col would copy
  /// every pixel kernelHeight x kernelWidth times to feed a GEMM too thin to run fast.
  var direct: Bool {
    conv.window.channels == 1 && conv.window.stride == 1 && conv.window.kernelWidth <= 8
      && conv.window.kernelHeight <= 8
  }
  private var gradientMap = FloatBuffer(count: 0)

  /// Row length of the zero-padded image: whole 32-lane groups of outputs plus room for the
  /// kernel and for 8-lane loads that start at the last output.
  private var paddedRowLength: Int {
    (conv.window.outputWidth + 31) / 32 * 32 + max(conv.window.kernelWidth, 8)
  }

  /// Copies image `b` of a single-channel batch into the zero-padded buffer.
  private func fillPadded(_ input: UnsafePointer<Float>, image b: Int) {
    let w = conv.window
    let rowLength = paddedRowLength
    let paddedHeight = w.height + 2 * w.padding
    if padded.count < paddedHeight * rowLength {
      padded = FloatBuffer(count: paddedHeight * rowLength)
    }
    let image = padded.pointer
    let source = input + b &* w.height &* w.width
    for y in 0..<w.height {
      let to = image + ((y &+ w.padding) &* rowLength &+ w.padding)
      let from = source + y &* w.width
      for x in 0..<w.width { to[x] = from[x] }
    }
  }

  /// The convolution's output size, kept so that hot loops need no division to get it.
  private let convHeight: Int
  private let convWidth: Int

  init(conv: Conv2D, pool: Int) {
    self.conv = conv
    self.pool = pool
    convHeight = conv.window.outputHeight
    convWidth = conv.window.outputWidth
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
    let bias = parameters + f * w.patchSize
    let ph = outputShape[0]
    let pw = outputShape[1]
    let pooledSize = ph * pw * f
    if source.count < batch * pooledSize {
      source = [Int32](repeating: 0, count: batch * pooledSize)
    }
    if direct && pool == 2 {
      convolvePool2x2SingleChannel(input, into: output, batch: batch, parameters: parameters)
      return
    }
    let rows = batch * oh * ow
    if preActivation.count < rows * f { preActivation = FloatBuffer(count: rows * f) }
    conv.linear(input, into: preActivation.pointer, batch: batch, parameters: parameters)
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

  /// Convolution, bias, ReLU and 2x2 pooling for one input channel and stride 1, all in
  /// registers: each pass computes two convolution rows 32 lanes wide for one filter, then
  /// pools them with the same tie order as MaxPool2D (top-left, top-right, bottom-left,
  /// bottom-right; the first maximum wins). The convolution output is never stored.
  private func convolvePool2x2SingleChannel(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>
  ) {
    let w = conv.window
    let f = conv.filters
    let kh = w.kernelHeight
    let kw = w.kernelWidth
    let oh = convHeight
    let ow = convWidth
    let ph = outputShape[0]
    let pw = outputShape[1]
    let groups = (ow + 31) / 32
    let rowLength = paddedRowLength
    let bias = parameters + f * w.patchSize
    source.withUnsafeMutableBufferPointer { sourceBuffer in
      let src = sourceBuffer.baseAddress!
      for b in 0..<batch {
        fillPadded(input, image: b)
        let image = UnsafePointer(padded.pointer)
        for py in 0..<ph {
          let topRow = image + (2 &* py) &* rowLength
          for c in 0..<f {
            let kernel = parameters + c &* kh &* kw
            for g in 0..<groups {
              var t0 = SIMD8<Float>()
              var t1 = SIMD8<Float>()
              var t2 = SIMD8<Float>()
              var t3 = SIMD8<Float>()
              var u0 = SIMD8<Float>()
              var u1 = SIMD8<Float>()
              var u2 = SIMD8<Float>()
              var u3 = SIMD8<Float>()
              // Image row r feeds the top output row through kernel row r and the bottom one
              // through kernel row r - 1.
              for r in 0...kh {
                let row = topRow + (r &* rowLength &+ g &* 32)
                for kx in 0..<kw {
                  let at = row + kx
                  let x0 = load8(at)
                  let x1 = load8(at + 8)
                  let x2 = load8(at + 16)
                  let x3 = load8(at + 24)
                  if r < kh {
                    let weight = SIMD8<Float>(repeating: kernel[r &* kw &+ kx])
                    t0 = t0.addingProduct(weight, x0)
                    t1 = t1.addingProduct(weight, x1)
                    t2 = t2.addingProduct(weight, x2)
                    t3 = t3.addingProduct(weight, x3)
                  }
                  if r > 0 {
                    let weight = SIMD8<Float>(repeating: kernel[(r &- 1) &* kw &+ kx])
                    u0 = u0.addingProduct(weight, x0)
                    u1 = u1.addingProduct(weight, x1)
                    u2 = u2.addingProduct(weight, x2)
                    u3 = u3.addingProduct(weight, x3)
                  }
                }
              }
              let biasValue = SIMD4<Float>(repeating: bias[c])
              let rowIndex = (b &* oh &+ 2 &* py) &* ow &+ g &* 32
              let out = ((b &* ph &+ py) &* pw &+ g &* 16) &* f &+ c
              let lanes = pw &- g &* 16
              pool2x2Lanes(
                t0, u0, bias: biasValue, row: rowIndex, ow: ow, lanes: lanes, output + out,
                src + out, stride: f)
              pool2x2Lanes(
                t1, u1, bias: biasValue, row: rowIndex &+ 8, ow: ow, lanes: lanes &- 4,
                output + (out &+ 4 &* f), src + (out &+ 4 &* f), stride: f)
              pool2x2Lanes(
                t2, u2, bias: biasValue, row: rowIndex &+ 16, ow: ow, lanes: lanes &- 8,
                output + (out &+ 8 &* f), src + (out &+ 8 &* f), stride: f)
              pool2x2Lanes(
                t3, u3, bias: biasValue, row: rowIndex &+ 24, ow: ow, lanes: lanes &- 12,
                output + (out &+ 12 &* f), src + (out &+ 12 &* f), stride: f)
            }
          }
        }
      }
    }
  }

  /// Pools eight adjacent convolution outputs of two rows (`top`, `bottom`) into four values:
  /// bias, then ReLU; writes up to `lanes` of them `stride` apart, with the winning batch row
  /// (`row` is the batch row of the first top lane) or -1 where ReLU cut the value.
  @inline(__always)
  private func pool2x2Lanes(
    _ top: SIMD8<Float>, _ bottom: SIMD8<Float>, bias: SIMD4<Float>, row: Int, ow: Int,
    lanes: Int, _ output: UnsafeMutablePointer<Float>, _ src: UnsafeMutablePointer<Int32>,
    stride: Int
  ) {
    guard lanes > 0 else { return }
    let base = SIMD4<Int32>(repeating: Int32(truncatingIfNeeded: row)) &+ SIMD4(0, 2, 4, 6)
    var best = top.evenHalf
    var index = base
    let topRight = top.oddHalf .> best
    best.replace(with: top.oddHalf, where: topRight)
    index.replace(with: base &+ 1, where: topRight)
    let bottomLeft = bottom.evenHalf .> best
    best.replace(with: bottom.evenHalf, where: bottomLeft)
    index.replace(with: base &+ Int32(truncatingIfNeeded: ow), where: bottomLeft)
    let bottomRight = bottom.oddHalf .> best
    best.replace(with: bottom.oddHalf, where: bottomRight)
    index.replace(with: base &+ Int32(truncatingIfNeeded: ow &+ 1), where: bottomRight)
    best += bias
    let inactive = best .<= 0
    best.replace(with: 0, where: inactive)
    index.replace(with: -1, where: inactive)
    for l in 0..<min(4, lanes) {
      output[l &* stride] = best[l]
      src[l &* stride] = index[l]
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
    if direct && inputGradient == nil {
      accumulateSingleChannelGradients(
        input, outputGradient: outputGradient, batch: batch, gradients: gradients)
    } else if !direct && conv.patchMajor {
      sparseBackward(
        input, outputGradient: outputGradient, inputGradient: inputGradient, batch: batch,
        parameters: parameters, gradients: gradients)
    } else {
      denseBackward(
        input, output: output, outputGradient: outputGradient, inputGradient: inputGradient,
        batch: batch, parameters: parameters, gradients: gradients)
    }
  }

  /// Where, in its image, the convolution output at batch row `row` lies, given that it won
  /// the pooling window (py, px): no division for 2x2 windows.
  @inline(__always)
  private func winnerPosition(_ row: Int, image b: Int, py: Int, px: Int) -> (oy: Int, ox: Int) {
    let ow = convWidth
    let p = pool
    let firstRow = (b &* convHeight &+ py &* p) &* ow &+ px &* p
    let offset = row &- firstRow
    let dy = p == 2 ? (offset >= ow ? 1 : 0) : offset / ow
    return (py &* p &+ dy, px &* p &+ offset &- dy &* ow)
  }

  /// Calls `body(c, g, row, oy, ox)` for every pooled value with a non-zero gradient that
  /// ReLU let through: channel, gradient, and the convolution output (row of the batch, and
  /// its position in the image) that won the pooling window. No divisions on the way.
  @inline(__always)
  private func forEachWinner(
    batch: Int, outputGradient: UnsafePointer<Float>,
    _ body: (_ b: Int, _ c: Int, _ g: Float, _ row: Int, _ oy: Int, _ ox: Int) -> Void
  ) {
    let f = conv.filters
    let ph = outputShape[0]
    let pw = outputShape[1]
    source.withUnsafeBufferPointer { src in
      var j = 0
      for b in 0..<batch {
        for py in 0..<ph {
          for px in 0..<pw {
            for c in 0..<f {
              let row = Int(src[j])
              let g = outputGradient[j]
              j &+= 1
              guard row >= 0 else { continue }
              let (oy, ox) = winnerPosition(row, image: b, py: py, px: px)
              body(b, c, g, row, oy, ox)
            }
          }
        }
      }
    }
  }

  /// Weight and bias gradients of a direct (single-channel, stride-1) convolution, visiting
  /// only the outputs that won their pooling window. Each contributes kernelHeight row
  /// segments of the padded image, loaded eight lanes wide into register accumulators (one per
  /// kernel row, kernels up to 8x8); the lanes past kernelWidth collect values never read.
  private func accumulateSingleChannelGradients(
    _ input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, batch: Int,
    gradients: UnsafeMutablePointer<Float>
  ) {
    let w = conv.window
    let f = conv.filters
    let kh = w.kernelHeight
    let kw = w.kernelWidth
    let ph = outputShape[0]
    let pw = outputShape[1]
    let rowLength = paddedRowLength
    let biasGradient = gradients + f * w.patchSize
    var sums = [SIMD8<Float>](repeating: .zero, count: f * 8)
    source.withUnsafeBufferPointer { src in
      for b in 0..<batch {
        fillPadded(input, image: b)
        let image = UnsafePointer(padded.pointer)
        for c in 0..<f {
          var a0 = sums[c &* 8]
          var a1 = sums[c &* 8 &+ 1]
          var a2 = sums[c &* 8 &+ 2]
          var a3 = sums[c &* 8 &+ 3]
          var a4 = sums[c &* 8 &+ 4]
          var a5 = sums[c &* 8 &+ 5]
          var a6 = sums[c &* 8 &+ 6]
          var a7 = sums[c &* 8 &+ 7]
          var bias: Float = 0
          for py in 0..<ph {
            for px in 0..<pw {
              let j = ((b &* ph &+ py) &* pw &+ px) &* f &+ c
              let row = Int(src[j])
              guard row >= 0 else { continue }
              let g = outputGradient[j]
              bias += g
              let (oy, ox) = winnerPosition(row, image: b, py: py, px: px)
              let at = image + (oy &* rowLength &+ ox)
              let gs = SIMD8<Float>(repeating: g)
              a0 = a0.addingProduct(gs, load8(at))
              if kh > 1 { a1 = a1.addingProduct(gs, load8(at + rowLength)) }
              if kh > 2 { a2 = a2.addingProduct(gs, load8(at + 2 &* rowLength)) }
              if kh > 3 { a3 = a3.addingProduct(gs, load8(at + 3 &* rowLength)) }
              if kh > 4 { a4 = a4.addingProduct(gs, load8(at + 4 &* rowLength)) }
              if kh > 5 { a5 = a5.addingProduct(gs, load8(at + 5 &* rowLength)) }
              if kh > 6 { a6 = a6.addingProduct(gs, load8(at + 6 &* rowLength)) }
              if kh > 7 { a7 = a7.addingProduct(gs, load8(at + 7 &* rowLength)) }
            }
          }
          biasGradient[c] += bias
          sums[c &* 8] = a0
          sums[c &* 8 &+ 1] = a1
          sums[c &* 8 &+ 2] = a2
          sums[c &* 8 &+ 3] = a3
          sums[c &* 8 &+ 4] = a4
          sums[c &* 8 &+ 5] = a5
          sums[c &* 8 &+ 6] = a6
          sums[c &* 8 &+ 7] = a7
        }
      }
    }
    for c in 0..<f {
      for ky in 0..<kh {
        let sum = sums[c &* 8 &+ ky]
        let row = gradients + (c &* kh &+ ky) &* kw
        for kx in 0..<kw { row[kx] += sum[kx] }
      }
    }
  }

  /// Gradients when the forward pass left one patch per row in the convolution's columns:
  /// each winning output adds g times its patch to its filter's weight gradient, and g times
  /// the filter to the input positions the patch came from.
  private func sparseBackward(
    _ input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
    inputGradient: UnsafeMutablePointer<Float>?, batch: Int,
    parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    let w = conv.window
    let k = w.patchSize
    let ch = w.channels
    let imageSize = w.height * w.width * ch
    let cols = UnsafePointer(conv.columnsPointer)
    let biasGradient = gradients + conv.filters * k
    inputGradient?.update(repeating: 0, count: batch * imageSize)
    forEachWinner(batch: batch, outputGradient: outputGradient) { b, c, g, row, oy, ox in
      biasGradient[c] += g
      let patch = cols + row &* k
      let dw = gradients + c &* k
      for t in 0..<k { dw[t] += g * patch[t] }
      guard let inputGradient else { return }
      let x0 = ox &* w.stride &- w.padding
      let kx0 = max(0, -x0)
      let kx1 = min(w.kernelWidth, w.width &- x0)
      guard kx0 < kx1 else { return }
      let span = (kx1 &- kx0) &* ch
      let dxImage = inputGradient + b &* imageSize
      let filter = parameters + c &* k
      for ky in 0..<w.kernelHeight {
        let iy = oy &* w.stride &- w.padding &+ ky
        guard iy >= 0 && iy < w.height else { continue }
        let dx = dxImage + (iy &* w.width &+ x0 &+ kx0) &* ch
        let wk = filter + (ky &* w.kernelWidth &+ kx0) &* ch
        for t in 0..<span { dx[t] += g * wk[t] }
      }
    }
  }

  /// The general case: scatter the pooled gradient back to the convolution outputs that won
  /// their window (zero elsewhere) and let the convolution do the rest with its GEMMs.
  private func denseBackward(
    _ input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    let f = conv.filters
    let rows = batch * conv.window.outputHeight * conv.window.outputWidth
    if gradientMap.count < rows * f { gradientMap = FloatBuffer(count: rows * f) }
    let dz = gradientMap.pointer
    dz.update(repeating: 0, count: rows * f)
    forEachWinner(batch: batch, outputGradient: outputGradient) { _, c, g, row, _, _ in
      dz[row &* f &+ c] = g
    }
    // The register path of the forward pass leaves no columns behind.
    if direct && pool == 2 { conv.prepareColumns(input, batch: batch) }
    conv.backward(
      input: input, output: output, outputGradient: dz, inputGradient: inputGradient,
      batch: batch, parameters: parameters, gradients: gradients)
  }
}

@inline(__always)
func load8(_ pointer: UnsafePointer<Float>) -> SIMD8<Float> {
  UnsafeRawPointer(pointer).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always)
func store8(_ value: SIMD8<Float>, _ pointer: UnsafeMutablePointer<Float>) {
  UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: SIMD8<Float>.self)
}
