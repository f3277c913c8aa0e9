/// Geometry of a 2-D convolution or pooling window over NHWC samples.
public struct Window: Sendable, Equatable {
  public var height: Int, width: Int, channels: Int
  public var kernelHeight: Int, kernelWidth: Int
  public var stride: Int, padding: Int

  public var outputHeight: Int { (height + 2 * padding - kernelHeight) / stride + 1 }
  public var outputWidth: Int { (width + 2 * padding - kernelWidth) / stride + 1 }
  /// Values in one patch: kernelHeight * kernelWidth * channels.
  public var patchSize: Int { kernelHeight * kernelWidth * channels }
}

/// A 2-D convolution over NHWC samples, computed as im2col followed by one GEMM for the batch.
///
/// Weights are stored [filters, kernelHeight, kernelWidth, channels], then one bias per filter.
public final class Conv2D: Layer {
  public let window: Window
  public let filters: Int
  public let inputShape: [Int]
  public let outputShape: [Int]
  private var columns: FloatBuffer?
  private var columnGradient: FloatBuffer?

  public init(input: [Int], filters: Int, kernel: Int, stride: Int = 1, padding: Int = 0) {
    precondition(input.count == 3, "Conv2D needs [height, width, channels] input")
    window = Window(
      height: input[0], width: input[1], channels: input[2], kernelHeight: kernel,
      kernelWidth: kernel, stride: stride, padding: padding)
    self.filters = filters
    inputShape = input
    outputShape = [window.outputHeight, window.outputWidth, filters]
  }

  public var parameterShapes: [[Int]] {
    [[filters, window.kernelHeight, window.kernelWidth, window.channels], [filters]]
  }

  public func initialize(
    _ parameters: UnsafeMutableBufferPointer<Float>, using rng: inout SeededGenerator
  ) {
    let weightCount = filters * window.patchSize
    heUniform(.init(rebasing: parameters[0..<weightCount]), fanIn: window.patchSize, using: &rng)
    for i in weightCount..<parameters.count { parameters[i] = 0 }
  }

  private func scratch(_ buffer: inout FloatBuffer?, count: Int) -> UnsafeMutablePointer<Float> {
    if let existing = buffer, existing.count >= count { return existing.pointer }
    let fresh = FloatBuffer(count: count)
    buffer = fresh
    return fresh.pointer
  }

  public func forward(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>, mode: PassMode, rng: inout SeededGenerator
  ) {
    linear(input, into: output, batch: batch, parameters: parameters)
    let rows = batch * window.outputHeight * window.outputWidth
    addBias(parameters + filters * window.patchSize, to: output, rows: rows, columns: filters)
  }

  /// The convolution without its bias: [rows, filters] = columns x weights^T.
  func linear(
    _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>, batch: Int,
    parameters: UnsafePointer<Float>
  ) {
    let rows = batch * window.outputHeight * window.outputWidth
    let k = window.patchSize
    let cols = prepareColumns(input, batch: batch)
    if patchMajor {
      BLAS.gemm(
        transposeB: true, m: rows, n: filters, k: k, a: cols, lda: k, b: parameters, ldb: k,
        c: output, ldc: filters)
    } else {
      BLAS.gemm(
        transposeA: true, transposeB: true, m: rows, n: filters, k: k, a: cols, lda: rows,
        b: parameters, ldb: k, c: output, ldc: filters)
    }
  }

  /// The columns of the last `prepareColumns`.
  var columnsPointer: UnsafeMutablePointer<Float> { columns!.pointer }

  /// Lays out the batch's patches for the GEMMs (forward, and the weight gradient after it).
  @discardableResult
  func prepareColumns(_ input: UnsafePointer<Float>, batch: Int) -> UnsafeMutablePointer<Float> {
    let cols = scratch(
      &columns, count: batch * window.outputHeight * window.outputWidth * window.patchSize)
    if patchMajor {
      im2col(input, window: window, batch: batch, into: cols)
    } else {
      im2colKMajor(input, window: window, batch: batch, into: cols)
    }
    return cols
  }

  /// Whether the columns are stored one patch per row (long contiguous runs when there are
  /// several channels) or one kernel tap per row (contiguous runs along the image rows, which
  /// is far faster for 1- or 3-channel inputs).
  var patchMajor: Bool { window.kernelWidth * window.channels >= 16 }

  public func backward(
    input: UnsafePointer<Float>, output: UnsafePointer<Float>,
    outputGradient: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?,
    batch: Int, parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>
  ) {
    let rows = batch * window.outputHeight * window.outputWidth
    let k = window.patchSize
    let cols = columns!.pointer
    BLAS.gemm(
      transposeA: true, transposeB: !patchMajor, m: filters, n: k, k: rows, a: outputGradient,
      lda: filters, b: cols, ldb: patchMajor ? k : rows, beta: 1, c: gradients, ldc: k)
    addColumnSums(outputGradient, rows: rows, columns: filters, into: gradients + filters * k)
    guard let inputGradient else { return }
    let dcols = scratch(&columnGradient, count: rows * k)
    BLAS.gemm(
      m: rows, n: k, k: filters, a: outputGradient, lda: filters, b: parameters, ldb: k,
      c: dcols, ldc: k)
    col2im(dcols, window: window, batch: batch, into: inputGradient)
  }
}

/// Copies every patch of NHWC `input` into one row of `columns` ([rows, patchSize]), zero
/// outside the image (padding).
func im2col(
  _ input: UnsafePointer<Float>, window w: Window, batch: Int,
  into columns: UnsafeMutablePointer<Float>
) {
  let oh = w.outputHeight
  let ow = w.outputWidth
  let c = w.channels
  let rowSpan = w.kernelWidth * c
  let imageSize = w.height * w.width * c
  var out = columns
  for b in 0..<batch {
    let image = input + b * imageSize
    for oy in 0..<oh {
      for ox in 0..<ow {
        let x0 = ox * w.stride - w.padding
        let fullRow = x0 >= 0 && x0 + w.kernelWidth <= w.width
        for ky in 0..<w.kernelHeight {
          let iy = oy * w.stride - w.padding + ky
          if iy < 0 || iy >= w.height {
            for t in 0..<rowSpan { out[t] = 0 }
          } else if fullRow {
            out.update(from: image + (iy * w.width + x0) * c, count: rowSpan)
          } else {
            for kx in 0..<w.kernelWidth {
              let ix = x0 + kx
              let to = out + kx * c
              if ix < 0 || ix >= w.width {
                for t in 0..<c { to[t] = 0 }
              } else {
                let from = image + (iy * w.width + ix) * c
                for t in 0..<c { to[t] = from[t] }
              }
            }
          }
          out += rowSpan
        }
      }
    }
  }
}

/// im2col transposed: row `(ky * kernelWidth + kx) * channels + c` of `columns` ([patchSize,
/// rows]) holds that tap's input value for every output position of the batch.
func im2colKMajor(
  _ input: UnsafePointer<Float>, window w: Window, batch: Int,
  into columns: UnsafeMutablePointer<Float>
) {
  let oh = w.outputHeight
  let ow = w.outputWidth
  let c = w.channels
  let rows = batch * oh * ow
  let imageSize = w.height * w.width * c
  let step = w.stride * c
  for ky in 0..<w.kernelHeight {
    for kx in 0..<w.kernelWidth {
      // Output columns whose input column x = ox * stride - padding + kx lies in the image.
      let shift = kx - w.padding
      let first = min(ow, max(0, (-shift + w.stride - 1) / w.stride))
      let span = w.width - 1 - shift
      let last = span < 0 ? first : min(ow, max(first, span / w.stride + 1))
      for ch in 0..<c {
        var out = columns + ((ky * w.kernelWidth + kx) * c + ch) * rows
        for b in 0..<batch {
          let image = input + b * imageSize
          for oy in 0..<oh {
            let iy = oy * w.stride - w.padding + ky
            if iy < 0 || iy >= w.height || first >= last {
              for t in 0..<ow { out[t] = 0 }
            } else {
              for t in 0..<first { out[t] = 0 }
              let base = image + ((iy &* w.width &+ shift) &* c &+ ch)
              if step == 1 {
                for t in first..<last { out[t] = base[t] }
              } else {
                for t in first..<last { out[t] = base[t &* step] }
              }
              for t in last..<ow { out[t] = 0 }
            }
            out += ow
          }
        }
      }
    }
  }
}

/// The adjoint of im2col: sums every row of `columns` back into the NHWC positions it came from.
func col2im(
  _ columns: UnsafePointer<Float>, window w: Window, batch: Int,
  into input: UnsafeMutablePointer<Float>
) {
  let oh = w.outputHeight
  let ow = w.outputWidth
  let c = w.channels
  let rowSpan = w.kernelWidth * c
  let imageSize = w.height * w.width * c
  input.update(repeating: 0, count: batch * imageSize)
  var row = columns
  for b in 0..<batch {
    let image = input + b * imageSize
    for oy in 0..<oh {
      for ox in 0..<ow {
        let x0 = ox * w.stride - w.padding
        let fullRow = x0 >= 0 && x0 + w.kernelWidth <= w.width
        for ky in 0..<w.kernelHeight {
          let iy = oy * w.stride - w.padding + ky
          guard iy >= 0 && iy < w.height else { continue }
          let src = row + ky * rowSpan
          if fullRow {
            let dst = image + (iy * w.width + x0) * c
            for t in 0..<rowSpan { dst[t] += src[t] }
            continue
          }
          for kx in 0..<w.kernelWidth {
            let ix = x0 + kx
            if ix >= 0 && ix < w.width {
              let dst = image + (iy * w.width + ix) * c
              for ch in 0..<c { dst[ch] += src[kx * c + ch] }
            }
          }
        }
        row += w.patchSize
      }
    }
  }
}
