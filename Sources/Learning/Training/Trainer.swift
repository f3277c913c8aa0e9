import Dispatch
import Foundation

/// How a model is trained: batch size, optimiser, seed and worker threads.
public struct TrainingOptions: Sendable, Equatable {
  public var batchSize: Int
  public var optimizer: OptimizerConfig
  /// Seeds shuffling and dropout; initialisation is seeded by the model.
  public var seed: UInt64
  /// Worker threads; each takes an equal share of every batch and the gradients are summed.
  public var threads: Int
  /// Run Conv2D -> ReLU -> MaxPool2D as one fused layer (the default); off, every layer runs
  /// on its own through im2col + GEMM, the baseline that benchmarks compare against.
  public var fusedKernels: Bool

  public init(
    batchSize: Int = 32, optimizer: OptimizerConfig = .default, seed: UInt64 = 1, threads: Int = 1,
    fusedKernels: Bool = true
  ) {
    self.batchSize = batchSize
    self.optimizer = optimizer
    self.seed = seed
    self.threads = threads
    self.fusedKernels = fusedKernels
  }
}

/// Where an epoch stands, reported after every batch.
public struct TrainingProgress: Sendable {
  public var epoch: Int
  public var batch: Int
  public var batches: Int
  public var samples: Int
  /// Mean training loss so far this epoch.
  public var loss: Double
  public var elapsed: Double
  public var samplesPerSecond: Double { elapsed > 0 ? Double(samples) / elapsed : 0 }
  /// Estimated seconds left in this epoch.
  public var remaining: Double {
    batch > 0 ? elapsed / Double(batch) * Double(batches - batch) : 0
  }
}

/// One epoch's training statistics.
public struct EpochResult: Sendable {
  public var epoch: Int
  public var loss: Double
  public var accuracy: Double
  public var samples: Int
  public var seconds: Double
  public var samplesPerSecond: Double { seconds > 0 ? Double(samples) / seconds : 0 }
}

/// Accuracy, mean loss and confusion matrix of a model on a dataset.
public struct Evaluation: Sendable {
  public var accuracy: Double
  public var loss: Double
  public var count: Int
  /// confusion[true label][predicted label] = number of samples.
  public var confusion: [[Int]]
}

/// Wraps a value that is handed between worker threads under the trainer's own discipline:
/// each worker touches only its own network and gradient buffer.
struct WorkerShare<T>: @unchecked Sendable { let value: T }

/// Trains one model on one machine with data-parallel worker threads.
///
/// The trainer keeps the parameters in one flat buffer that all workers read; each worker runs
/// its share of a batch through its own `Network` and gradient buffer, and the gradients are
/// summed in worker order, so a given seed and thread count always give the same model.
public final class Trainer {
  public let architecture: Architecture
  public let options: TrainingOptions
  public let optimizer: any Optimizer
  let workers: [Network]
  let parameters: FloatBuffer
  let gradients: [FloatBuffer]
  let logitGradients: [FloatBuffer]
  private var shuffler: SeededGenerator
  public let parameterCount: Int
  /// FedProx: adds mu * (w - anchor) to every gradient, pulling local training towards the
  /// anchor (the round's global model). Nil trains without it.
  public var proximal: (mu: Float, anchor: [Float])? {
    didSet {
      if let proximal { precondition(proximal.anchor.count == parameterCount) }
    }
  }

  public init(model: Model, options: TrainingOptions = .init()) throws(ArchitectureError) {
    precondition(options.batchSize > 0 && options.threads > 0)
    BLAS.useSingleThread()
    architecture = model.architecture
    self.options = options
    let threads = min(options.threads, options.batchSize)
    let share = (options.batchSize + threads - 1) / threads
    var workers: [Network] = []
    for i in 0..<threads {
      workers.append(
        try Network(
          model.architecture, batchCapacity: share, seed: options.seed &+ UInt64(i),
          fused: options.fusedKernels))
    }
    self.workers = workers
    let parameterCount = workers[0].parameterCount
    self.parameterCount = parameterCount
    let parameters = FloatBuffer(count: parameterCount)
    model.parameters.withUnsafeBufferPointer {
      if let base = $0.baseAddress { parameters.pointer.update(from: base, count: parameterCount) }
    }
    self.parameters = parameters
    gradients = workers.map { _ in FloatBuffer(count: parameterCount) }
    logitGradients = workers.map { FloatBuffer(count: share * $0.classCount) }
    optimizer = options.optimizer.make()
    shuffler = SeededGenerator(seed: options.seed, domain: "shuffle")
  }

  /// The model with the current parameters.
  public var model: Model {
    let values = Array(UnsafeBufferPointer(start: parameters.pointer, count: parameterCount))
    return try! Model(architecture: architecture, parameters: values)
  }

  /// Replaces the parameters (for example with a new global model) without touching
  /// optimiser state; call `optimizer.reset()` to start that afresh too.
  public func load(parameters values: [Float]) {
    precondition(values.count == parameterCount, "expected \(parameterCount) parameters")
    values.withUnsafeBufferPointer {
      if let base = $0.baseAddress { parameters.pointer.update(from: base, count: parameterCount) }
    }
  }

  /// A seeded permutation of 0..<count.
  func permutation(_ count: Int) -> [Int] { shuffler.shuffled(Array(0..<count)) }

  /// Runs one optimisation step on the samples at `indices` and returns their summed loss and
  /// number of correct predictions.
  @discardableResult
  public func step<C: Collection<Int>>(on dataset: Dataset, indices: C) -> (
    loss: Double, correct: Int
  )
  where C.Index == Int, C: SendableMetatype {
    let batch = indices.count
    // Workers that would get no samples (a short last batch) sit the step out.
    let share = (batch + min(workers.count, batch) - 1) / min(workers.count, batch)
    let threads = (batch + share - 1) / share
    let scale = 1 / Float(batch)
    var results = [(loss: Double, correct: Int)](repeating: (0, 0), count: threads)
    let context = WorkerShare(value: (self, dataset, indices))
    results.withUnsafeMutableBufferPointer { out in
      let sink = WorkerShare(value: out)
      let work: @Sendable (Int) -> Void = { w in
        let (trainer, dataset, indices) = context.value
        let start = indices.startIndex + w * share
        let end = min(start + share, indices.endIndex)
        let slice = indices[start..<end]
        let network = trainer.workers[w]
        let gradient = trainer.gradients[w]
        gradient.zero()
        guard !slice.isEmpty else { return }
        dataset.fillBatch(slice, into: network.input)
        let logits = network.forward(
          batch: slice.count, parameters: trainer.parameters.pointer, mode: .training)
        let labels = slice.lazy.map { dataset.labels[$0] }
        let result = SoftmaxCrossEntropy.evaluate(
          logits: logits, labels: labels, classes: network.classCount,
          gradient: trainer.logitGradients[w].pointer, gradientScale: scale)
        network.backward(
          logitGradient: trainer.logitGradients[w].pointer, batch: slice.count,
          parameters: trainer.parameters.pointer, gradients: gradient.pointer)
        sink.value[w] = result
      }
      if threads == 1 {
        work(0)
      } else {
        DispatchQueue.concurrentPerform(iterations: threads, execute: work)
      }
    }
    let total = gradients[0].pointer
    for w in 1..<max(threads, 1) {
      let other = gradients[w].pointer
      for i in 0..<parameterCount { total[i] += other[i] }
    }
    if let (mu, anchor) = proximal {
      let p = parameters.pointer
      anchor.withUnsafeBufferPointer { a in
        for i in 0..<parameterCount { total[i] += mu * (p[i] - a[i]) }
      }
    }
    optimizer.step(parameters: parameters.pointer, gradients: total, count: parameterCount)
    return results.reduce((0, 0)) { ($0.0 + $1.loss, $0.1 + $1.correct) }
  }

  /// Trains one pass over `dataset` in a freshly shuffled order.
  @discardableResult
  public func trainEpoch(
    on dataset: Dataset, epoch: Int = 1, progress: ((TrainingProgress) -> Void)? = nil
  ) -> EpochResult {
    let order = permutation(dataset.count)
    let batchSize = options.batchSize
    let batches = (dataset.count + batchSize - 1) / batchSize
    let start = DispatchTime.now().uptimeNanoseconds
    var loss = 0.0
    var correct = 0
    var seen = 0
    for b in 0..<batches {
      let lower = b * batchSize
      let upper = min(lower + batchSize, order.count)
      let result = step(on: dataset, indices: order[lower..<upper])
      loss += result.loss
      correct += result.correct
      seen += upper - lower
      if let progress {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        progress(
          TrainingProgress(
            epoch: epoch, batch: b + 1, batches: batches, samples: seen,
            loss: loss / Double(seen), elapsed: elapsed))
      }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return EpochResult(
      epoch: epoch, loss: loss / Double(max(seen, 1)),
      accuracy: Double(correct) / Double(max(seen, 1)), samples: seen, seconds: seconds)
  }

  /// Accuracy, loss and confusion matrix on `dataset`, with dropout off.
  public func evaluate(on dataset: Dataset) -> Evaluation {
    let classes = workers[0].classCount
    let threads = min(workers.count, max(dataset.count / 256, 1))
    let share = (dataset.count + threads - 1) / threads
    var parts = [(loss: Double, confusion: [[Int]])](
      repeating: (0, [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)),
      count: threads)
    let context = WorkerShare(value: (self, dataset))
    parts.withUnsafeMutableBufferPointer { out in
      let sink = WorkerShare(value: out)
      let work: @Sendable (Int) -> Void = { w in
        let (trainer, dataset) = context.value
        sink.value[w] = trainer.evaluate(
          dataset, range: (w * share)..<min((w + 1) * share, dataset.count), worker: w)
      }
      if threads == 1 {
        work(0)
      } else {
        DispatchQueue.concurrentPerform(iterations: threads, execute: work)
      }
    }
    var confusion = parts[0].confusion
    var loss = parts[0].loss
    for part in parts.dropFirst() {
      loss += part.loss
      for i in 0..<classes { for j in 0..<classes { confusion[i][j] += part.confusion[i][j] } }
    }
    let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
    let n = max(dataset.count, 1)
    return Evaluation(
      accuracy: Double(correct) / Double(n), loss: loss / Double(n), count: dataset.count,
      confusion: confusion)
  }

  /// One worker's share of an evaluation: summed loss and confusion counts over `range`.
  private func evaluate(_ dataset: Dataset, range: Range<Int>, worker: Int)
    -> (loss: Double, confusion: [[Int]])
  {
    let classes = workers[worker].classCount
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    var loss = 0.0
    let network = workers[worker]
    network.reserve(batch: 256)
    var lower = range.lowerBound
    while lower < range.upperBound {
      let indices = lower..<min(lower + network.batchCapacity, range.upperBound)
      dataset.fillBatch(indices, into: network.input)
      let logits = network.forward(
        batch: indices.count, parameters: parameters.pointer, mode: .inference)
      loss +=
        SoftmaxCrossEntropy.evaluate(
          logits: logits, labels: dataset.labels[indices], classes: classes
        ).loss
      for (row, index) in indices.enumerated() {
        let z = logits + row * classes
        var best = 0
        for j in 1..<classes where z[j] > z[best] { best = j }
        confusion[Int(dataset.labels[index])][best] += 1
      }
      lower = indices.upperBound
    }
    return (loss, confusion)
  }
}
