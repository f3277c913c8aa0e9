import Foundation

/// Updates a flat parameter vector from its gradient; keeps whatever state it needs.
public protocol Optimizer: AnyObject {
  /// Applies one step to `count` parameters.
  func step(
    parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int)
  /// The learning rate, which schedules may change between steps.
  var learningRate: Float { get set }
  /// Forgets accumulated state (momentum, moments), as a fresh optimiser would start.
  func reset()
}

/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay,
/// matching PyTorch's `torch.optim.SGD`.
public final class SGD: Optimizer {
  public var learningRate: Float
  public let momentum: Float
  public let weightDecay: Float
  public let nesterov: Bool
  private var velocity: [Float] = []

  public init(
    learningRate: Float, momentum: Float = 0, weightDecay: Float = 0, nesterov: Bool = false
  ) {
    self.learningRate = learningRate
    self.momentum = momentum
    self.weightDecay = weightDecay
    self.nesterov = nesterov
  }

  public func reset() { velocity = [] }

  public func step(
    parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int
  ) {
    let lr = learningRate
    let wd = weightDecay
    guard momentum != 0 else {
      for i in 0..<count { p[i] -= lr * (g[i] + wd * p[i]) }
      return
    }
    let mu = momentum
    if velocity.count != count {
      // PyTorch starts the buffer at the first gradient.
      velocity = (0..<count).map { g[$0] + wd * p[$0] }
      for i in 0..<count {
        p[i] -= lr * (nesterov ? (g[i] + wd * p[i]) + mu * velocity[i] : velocity[i])
      }
      return
    }
    let nesterov = self.nesterov
    velocity.withUnsafeMutableBufferPointer { v in
      for i in 0..<count {
        let d = g[i] + wd * p[i]
        v[i] = mu * v[i] + d
        p[i] -= lr * (nesterov ? d + mu * v[i] : v[i])
      }
    }
  }
}

/// Adam (Kingma & Ba) with optional decoupled weight decay (AdamW), as in PyTorch.
public final class Adam: Optimizer {
  public var learningRate: Float
  public let beta1: Float
  public let beta2: Float
  public let epsilon: Float
  public let weightDecay: Float
  private var m: [Float] = []
  private var v: [Float] = []
  private var t = 0

  public init(
    learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999,
    epsilon: Float = 1e-8, weightDecay: Float = 0
  ) {
    self.learningRate = learningRate
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.weightDecay = weightDecay
  }

  public func reset() {
    m = []
    v = []
    t = 0
  }

  public func step(
    parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>, count: Int
  ) {
    if m.count != count {
      m = [Float](repeating: 0, count: count)
      v = [Float](repeating: 0, count: count)
      t = 0
    }
    t += 1
    let b1 = beta1
    let b2 = beta2
    let correction1 = 1 - Float(pow(Double(b1), Double(t)))
    let correction2 = 1 - Float(pow(Double(b2), Double(t)))
    let stepSize = learningRate / correction1
    let inverseRoot2 = 1 / correction2.squareRoot()
    let eps = epsilon
    let decay = 1 - learningRate * weightDecay
    m.withUnsafeMutableBufferPointer { m in
      v.withUnsafeMutableBufferPointer { v in
        for i in 0..<count {
          m[i] = b1 * m[i] + (1 - b1) * g[i]
          v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
          p[i] = p[i] * decay - stepSize * m[i] / ((v[i]).squareRoot() * inverseRoot2 + eps)
        }
      }
    }
  }
}

/// A serialisable choice of optimiser and its hyper-parameters.
public enum OptimizerConfig: Codable, Equatable, Sendable, CustomStringConvertible {
  case sgd(learningRate: Float, momentum: Float, weightDecay: Float, nesterov: Bool)
  case adam(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float)

  /// SGD, learning rate 0.01, momentum 0.9: the default for every built-in model.
  public static let `default` = OptimizerConfig.sgd(
    learningRate: 0.01, momentum: 0.9, weightDecay: 0, nesterov: false)

  public var description: String {
    switch self {
    case .sgd(let lr, let momentum, let wd, let nesterov):
      "sgd lr \(lr) momentum \(momentum) weight decay \(wd)\(nesterov ? " nesterov" : "")"
    case .adam(let lr, let b1, let b2, let eps, let wd):
      "adam lr \(lr) betas (\(b1), \(b2)) eps \(eps) weight decay \(wd)"
    }
  }

  public func make() -> any Optimizer {
    switch self {
    case .sgd(let lr, let momentum, let wd, let nesterov):
      SGD(learningRate: lr, momentum: momentum, weightDecay: wd, nesterov: nesterov)
    case .adam(let lr, let b1, let b2, let eps, let wd):
      Adam(learningRate: lr, beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd)
    }
  }
}
