import ArgumentParser
import Foundation
import Learning

/// Options shared by commands that pick a dataset.
struct DatasetOptions: ParsableArguments {
  @Option(
    help: """
      Dataset: fashion-mnist (Debian's dataset-fashion-mnist), mnist, a directory of \
      MNIST-format IDX files, cifar10:DIR, or csv:TRAIN[,TEST].
      """)
  var dataset = "fashion-mnist"

  func load(_ split: Split) throws -> Dataset {
    try DatasetLoader.load(dataset, split: split)
  }
}

struct Train: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Train a model centrally on one dataset and save it.",
    discussion: """
      Prints progress (epoch, batch, loss, images/s, time left) and the test accuracy after \
      every epoch, then writes the model file (see docs/model-format.md) and its hash.
      """)

  @OptionGroup var data: DatasetOptions
  @Option(help: "Architecture: \(Zoo.names.joined(separator: ", ")).") var model = "lenet5"
  @Option(help: "Passes over the training set.") var epochs = 10
  @Option(name: .customLong("batch-size"), help: "Samples per optimisation step.") var batchSize =
    32
  @Option(help: "Optimiser: sgd or adam.") var optimizer = "sgd"
  @Option(name: .customLong("lr"), help: "Learning rate (default 0.01 for sgd, 0.001 for adam).")
  var learningRate: Float?
  @Option(help: "SGD momentum.") var momentum: Float = 0.9
  @Option(name: .customLong("weight-decay"), help: "L2 weight decay.") var weightDecay: Float = 5e-4
  @Option(help: "Learning-rate schedule over the epochs: cosine or constant.")
  var schedule: LearningRateSchedule = .cosine
  @Option(help: "Seed for initialisation, shuffling and dropout.") var seed: UInt64 = 1
  @Option(help: "Worker threads (default: all cores).") var threads: Int?
  @Option(help: "Train on only the first N training samples.") var limit: Int?
  @Option(name: .shortAndLong, help: "Where to save the model (default: models/MODEL-DATASET.flm).")
  var output: String?

  func validate() throws {
    guard epochs > 0 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
    guard batchSize > 0 else {
      throw ValidationError("--batch-size must be at least 1, got \(batchSize)")
    }
    guard ["sgd", "adam"].contains(optimizer) else {
      throw ValidationError("--optimizer must be sgd or adam, got '\(optimizer)'")
    }
    if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    if let learningRate, !(learningRate > 0) { throw ValidationError("--lr must be positive") }
    guard momentum >= 0 && momentum < 1 else {
      throw ValidationError("--momentum must be in [0, 1)")
    }
    guard weightDecay >= 0 else { throw ValidationError("--weight-decay must not be negative") }
    if let limit, limit < 1 { throw ValidationError("--limit must be at least 1, got \(limit)") }
  }

  func run() async throws {
    do {
      try train()
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  private func train() throws {
    var trainSet = try data.load(.train)
    let testSet = try data.load(.test)
    if let limit, limit < trainSet.count { trainSet = trainSet.subset(Array(0..<limit)) }
    let architecture = try Zoo.architecture(
      named: model, inputShape: trainSet.sampleShape, classes: trainSet.classCount)
    let initial = try Model(architecture: architecture, seed: seed)
    let optimizerConfig: OptimizerConfig =
      optimizer == "adam"
      ? .adam(
        learningRate: learningRate ?? 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
        weightDecay: weightDecay)
      : .sgd(
        learningRate: learningRate ?? 0.01, momentum: momentum, weightDecay: weightDecay,
        nesterov: false)
    let workerThreads = min(threads ?? ProcessInfo.processInfo.activeProcessorCount, 256)
    let batchSize = min(self.batchSize, trainSet.count)
    let trainer = try Trainer(
      model: initial,
      options: TrainingOptions(
        batchSize: batchSize, optimizer: optimizerConfig, seed: seed, threads: workerThreads))
    print(
      "training \(architecture.name) (\(trainer.parameterCount) parameters) on \(trainSet.name): "
        + "\(trainSet.count) train / \(testSet.count) test samples, batch \(batchSize), "
        + "\(optimizerConfig), \(schedule) schedule, \(workerThreads) thread(s), seed \(seed)")
    var lastDraw = 0.0
    let baseRate = trainer.optimizer.learningRate
    for epoch in 1...epochs {
      trainer.optimizer.learningRate = schedule.rate(base: baseRate, epoch: epoch, epochs: epochs)
      let result = trainer.trainEpoch(on: trainSet, epoch: epoch) { p in
        guard p.elapsed - lastDraw >= 0.1 || p.batch == p.batches else { return }
        lastDraw = p.elapsed
        Terminal.status(
          "epoch \(epoch)/\(epochs)  batch \(p.batch)/\(p.batches)  loss \(String(format: "%.4f", p.loss))  "
            + "\(Int(p.samplesPerSecond)) img/s  \(Terminal.duration(p.remaining)) left")
      }
      lastDraw = 0
      Terminal.clearStatus()
      let test = trainer.evaluate(on: testSet)
      print(
        String(
          format:
            "epoch %d/%d  lr %.5f  train loss %.4f  train acc %.2f%%  test loss %.4f  test acc %.2f%%  %.1fs  %.0f img/s",
          epoch, epochs, trainer.optimizer.learningRate, result.loss, result.accuracy * 100,
          test.loss, test.accuracy * 100,
          result.seconds, result.samplesPerSecond))
    }
    let path =
      output
      ?? "models/\(architecture.name)-\(data.dataset.replacingOccurrences(of: "/", with: "_")).flm"
    let hash = try ModelFile.write(trainer.model, to: path)
    print("saved \(path)\nmodel hash sha256:\(hash)")
  }
}

extension LearningRateSchedule: ExpressibleByArgument {}
