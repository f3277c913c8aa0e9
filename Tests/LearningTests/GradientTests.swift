import Learning
import XCTest

/// Every layer's backward pass against central finite differences of its forward pass.
final class GradientTests: XCTestCase {
  /// Checks d(sum(y * r))/d(input) and d(...)/d(parameters) for random x, r and parameters.
  func check(
    _ layer: any Layer, batch: Int = 2, seed: UInt64 = 1, avoidKinks: Bool = false,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    var rng = SeededGenerator(seed: seed, domain: "test")
    let inSize = layer.inputShape.reduce(1, *) * batch
    let outSize = layer.outputShape.reduce(1, *) * batch
    var x = (0..<inSize).map { _ in rng.nextUniform() * 2 - 1 }
    if avoidKinks {
      // Keep values apart so that ReLU and max-pooling choices do not flip under the step.
      x = (0..<inSize).map { i in Float(i % 97) / 97 * 2 - 1 + 0.003 }
      for i in stride(from: inSize - 1, to: 0, by: -1) {
        x.swapAt(i, Int(rng.next() % UInt64(i + 1)))
      }
    }
    var params = [Float](repeating: 0, count: layer.parameterCount)
    params.withUnsafeMutableBufferPointer { layer.initialize($0, using: &rng) }
    for i in params.indices { params[i] += (rng.nextUniform() - 0.5) * 0.1 }
    let r = (0..<outSize).map { _ in rng.nextUniform() * 2 - 1 }

    func loss(_ x: [Float], _ p: [Float]) -> Double {
      var y = [Float](repeating: 0, count: outSize)
      var dropoutRNG = SeededGenerator(seed: 9)
      x.withUnsafeBufferPointer { xs in
        p.withUnsafeBufferPointer { ps in
          y.withUnsafeMutableBufferPointer { ys in
            layer.forward(
              xs.baseAddress!, into: ys.baseAddress!, batch: batch,
              parameters: ps.baseAddress ?? UnsafePointer(bitPattern: 8)!, mode: .training,
              rng: &dropoutRNG)
          }
        }
      }
      return zip(y, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }

    _ = loss(x, params)
    var y = [Float](repeating: 0, count: outSize)
    var dropoutRNG = SeededGenerator(seed: 9)
    var dx = [Float](repeating: 0, count: inSize)
    var dp = [Float](repeating: 0, count: params.count)
    x.withUnsafeBufferPointer { xs in
      params.withUnsafeBufferPointer { ps in
        let pp = ps.baseAddress ?? UnsafePointer(bitPattern: 8)!
        y.withUnsafeMutableBufferPointer { ys in
          layer.forward(
            xs.baseAddress!, into: ys.baseAddress!, batch: batch, parameters: pp,
            mode: .training, rng: &dropoutRNG)
          dx.withUnsafeMutableBufferPointer { dxs in
            dp.withUnsafeMutableBufferPointer { dps in
              r.withUnsafeBufferPointer { rs in
                layer.backward(
                  input: xs.baseAddress!, output: ys.baseAddress!, outputGradient: rs.baseAddress!,
                  inputGradient: dxs.baseAddress!, batch: batch, parameters: pp,
                  gradients: dps.baseAddress ?? UnsafeMutablePointer(bitPattern: 8)!)
              }
            }
          }
        }
      }
    }

    let eps: Float = 1e-3
    func compare(_ analytic: Float, _ numeric: Double, _ what: String) {
      let tolerance = 2e-2 * max(1, abs(numeric))
      XCTAssertEqual(
        Double(analytic), numeric, accuracy: tolerance, "\(type(of: layer)) \(what)", file: file,
        line: line)
    }
    for i in 0..<inSize {
      var plus = x
      plus[i] += eps
      var minus = x
      minus[i] -= eps
      compare(dx[i], (loss(plus, params) - loss(minus, params)) / Double(2 * eps), "d/dx[\(i)]")
    }
    for i in 0..<params.count {
      var plus = params
      plus[i] += eps
      var minus = params
      minus[i] -= eps
      compare(dp[i], (loss(x, plus) - loss(x, minus)) / Double(2 * eps), "d/dparam[\(i)]")
    }
  }

  func testDense() { check(Dense(inputs: 7, outputs: 5), batch: 3) }

  func testConv2DPadded() {
    check(Conv2D(input: [6, 5, 2], filters: 3, kernel: 3, stride: 1, padding: 1))
  }

  func testConv2DStridedSingleChannel() {
    check(Conv2D(input: [7, 7, 1], filters: 2, kernel: 3, stride: 2, padding: 1))
  }

  func testConv2DKernelLargerThanImage() {
    // Taps that fall wholly in the padding for some outputs (tap-major im2col, stride 2).
    check(Conv2D(input: [3, 3, 1], filters: 2, kernel: 5, stride: 2, padding: 2))
  }

  func testConv2DManyChannels() {
    // kernelWidth * channels >= 16 takes the patch-major im2col path.
    check(Conv2D(input: [5, 5, 6], filters: 4, kernel: 3, stride: 1, padding: 0))
  }

  func testMaxPool2D() { check(MaxPool2D(input: [4, 6, 3], size: 2), avoidKinks: true) }

  func testMaxPool2DOverlapping() {
    check(MaxPool2D(input: [5, 5, 2], size: 3, stride: 2), avoidKinks: true)
  }

  func testReLU() { check(ReLU(shape: [11]), batch: 3, avoidKinks: true) }

  func testFlatten() { check(Flatten(shape: [2, 3, 2])) }

  func testDropout() { check(Dropout(shape: [20], rate: 0.3), batch: 2) }

  /// A whole network, fused conv-ReLU-pool blocks included, against finite differences of the
  /// softmax cross-entropy loss.
  func testNetworkWithFusedBlocks() throws {
    // Covers the three backward paths of the fused block: a first single-channel layer, a
    // layer with few channels (dense GEMMs), and one with patch-major columns (sparse).
    try checkNetwork(
      Architecture(
        name: "tiny", inputShape: [10, 10, 1],
        layers: [
          .conv2d(filters: 3, kernel: 3, stride: 1, padding: 1), .relu,
          .maxPool2d(size: 2, stride: 2),
          .conv2d(filters: 4, kernel: 2, stride: 1, padding: 0), .relu,
          .maxPool2d(size: 2, stride: 2),
          .flatten, .dense(units: 6), .relu, .dense(units: 3),
        ]))
    try checkNetwork(
      Architecture(
        name: "wide", inputShape: [8, 8, 1],
        layers: [
          .conv2d(filters: 6, kernel: 3, stride: 1, padding: 1), .relu,
          .maxPool2d(size: 2, stride: 2),
          .conv2d(filters: 2, kernel: 3, stride: 1, padding: 1), .relu,
          .maxPool2d(size: 2, stride: 2),
          .flatten, .dense(units: 3),
        ]))
    // A single-channel convolution that is not the first layer needs its input gradient.
    try checkNetwork(
      Architecture(
        name: "narrow", inputShape: [8, 8, 1],
        layers: [
          .conv2d(filters: 1, kernel: 3, stride: 1, padding: 1), .relu,
          .maxPool2d(size: 2, stride: 2),
          .conv2d(filters: 2, kernel: 3, stride: 1, padding: 1), .relu,
          .maxPool2d(size: 2, stride: 2),
          .flatten, .dense(units: 3),
        ]))
  }

  func checkNetwork(_ architecture: Architecture) throws {
    let inputSize = architecture.inputShape.reduce(1, *)
    let batch = 3
    let network = try Network(architecture, batchCapacity: batch)
    var params = try Model(architecture: architecture, seed: 3).parameters
    var rng = SeededGenerator(seed: 5)
    let x = (0..<(batch * inputSize)).map { _ in rng.nextUniform() }
    let labels: [Int32] = [0, 2, 1]

    func loss(_ p: [Float]) -> Double {
      x.withUnsafeBufferPointer { network.input.update(from: $0.baseAddress!, count: $0.count) }
      return p.withUnsafeBufferPointer { ps in
        let logits = network.forward(batch: batch, parameters: ps.baseAddress!, mode: .training)
        return SoftmaxCrossEntropy.evaluate(logits: logits, labels: labels, classes: 3).loss
      }
    }
    _ = loss(params)
    var gradients = [Float](repeating: 0, count: params.count)
    var logitGradient = [Float](repeating: 0, count: batch * 3)
    x.withUnsafeBufferPointer { network.input.update(from: $0.baseAddress!, count: $0.count) }
    params.withUnsafeBufferPointer { ps in
      let logits = network.forward(batch: batch, parameters: ps.baseAddress!, mode: .training)
      logitGradient.withUnsafeMutableBufferPointer { g in
        SoftmaxCrossEntropy.evaluate(
          logits: logits, labels: labels, classes: 3, gradient: g.baseAddress!)
        gradients.withUnsafeMutableBufferPointer { d in
          network.backward(
            logitGradient: g.baseAddress!, batch: batch, parameters: ps.baseAddress!,
            gradients: d.baseAddress!)
        }
      }
    }
    // A step can move a ReLU or max-pool choice deep in the network (a kink); there the two
    // one-sided step sizes disagree and the difference quotient means nothing. Such parameters
    // are counted, and must be rare.
    func numeric(_ i: Int, _ eps: Float) -> Double {
      let original = params[i]
      params[i] = original + eps
      let plus = loss(params)
      params[i] = original - eps
      let minus = loss(params)
      params[i] = original
      return (plus - minus) / Double(2 * eps)
    }
    var checked = 0
    var kinks = 0
    for i in params.indices {
      let coarse = numeric(i, 1e-3)
      let fine = numeric(i, 5e-4)
      if abs(coarse - fine) > 5e-3 * max(1, abs(fine)) {
        kinks += 1
        continue
      }
      XCTAssertEqual(
        Double(gradients[i]), fine, accuracy: 1e-2 * max(1, abs(fine)),
        "\(architecture.name) param \(i)")
      checked += 1
    }
    XCTAssertLessThan(kinks, params.count / 20, "too many kinks to trust the check")
    checked += kinks
    XCTAssertEqual(checked, network.parameterCount)
  }

  /// The fused conv-ReLU-pool layer gives the same outputs and gradients as the three layers.
  func testFusedMatchesUnfused() throws {
    let architecture = Zoo.lenet5()
    let batch = 4
    let fused = try Network(architecture, batchCapacity: batch, fused: true)
    let plain = try Network(architecture, batchCapacity: batch, fused: false)
    XCTAssertLessThan(fused.layers.count, plain.layers.count)
    let params = try Model(architecture: architecture, seed: 11).parameters
    var rng = SeededGenerator(seed: 2)
    let x = (0..<(batch * 784)).map { _ in rng.nextUniform() }
    let labels: [Int32] = [1, 4, 9, 0]
    func run(_ network: Network) -> (logits: [Float], gradients: [Float]) {
      x.withUnsafeBufferPointer { network.input.update(from: $0.baseAddress!, count: $0.count) }
      var gradients = [Float](repeating: 0, count: params.count)
      var g = [Float](repeating: 0, count: batch * 10)
      var logits: [Float] = []
      params.withUnsafeBufferPointer { ps in
        let out = network.forward(batch: batch, parameters: ps.baseAddress!, mode: .training)
        logits = Array(UnsafeBufferPointer(start: out, count: batch * 10))
        g.withUnsafeMutableBufferPointer { gs in
          SoftmaxCrossEntropy.evaluate(
            logits: out, labels: labels, classes: 10, gradient: gs.baseAddress!,
            gradientScale: 0.25)
          gradients.withUnsafeMutableBufferPointer { d in
            network.backward(
              logitGradient: gs.baseAddress!, batch: batch, parameters: ps.baseAddress!,
              gradients: d.baseAddress!)
          }
        }
      }
      return (logits, gradients)
    }
    let a = run(fused)
    let b = run(plain)
    for i in a.logits.indices { XCTAssertEqual(a.logits[i], b.logits[i], accuracy: 1e-4) }
    for i in a.gradients.indices {
      XCTAssertEqual(a.gradients[i], b.gradients[i], accuracy: 1e-4 * max(1, abs(b.gradients[i])))
    }
  }
}
