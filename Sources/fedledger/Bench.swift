import ArgumentParser
import Dispatch
import Foundation
import Learning

struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure training, aggregation and ledger speed.",
    subcommands: [
      BenchTrain.self, BenchAggregate.self, BenchLedger.self, BenchNetwork.self, BenchSecAgg.self,
    ])
}

struct BenchTrain: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Training throughput: forward, backward and SGD update, data already in memory.",
    discussion: """
      Trains on the first 8,192 Fashion-MNIST training images, loaded into memory before the \
      clock starts (synthetic images for other input shapes, or with --synthetic), so the \
      number is the engine's alone, and prints images/s after a warm-up. For convolutional \
      models it also measures, in the same run, the baseline in which every layer runs on its \
      own through im2col + GEMM, and prints the ratio.
      """)

  @Option(help: "Architecture: \(Zoo.names.joined(separator: ", ")).") var model = "lenet5"
  @Option(help: "Worker threads.") var threads = 1
  @Option(name: .customLong("batch-size"), help: "Samples per step.") var batchSize = 32
  @Option(help: "Seconds to measure each variant (after a 1 s warm-up).") var seconds: Double = 5
  @Flag(help: "Skip the unfused im2col + GEMM baseline.") var noBaseline = false
  @Flag(help: "Use random images instead of Fashion-MNIST.") var synthetic = false

  /// Real images where the model takes 28x28x1 input: the speed of the sparse backward pass
  /// depends on how many units are active, which random pixels do not show faithfully.
  private func benchData(shape: [Int]) throws -> Dataset {
    let samples = 8192
    if shape == [28, 28, 1] && !synthetic {
      let train = try DatasetLoader.load("fashion-mnist", split: .train)
      return train.subset(Array(0..<min(samples, train.count)))
    }
    var rng = SeededGenerator(seed: 7, domain: "bench")
    let size = shape.reduce(1, *)
    let pixels = (0..<(samples * size)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let labels = (0..<samples).map { _ in Int32(rng.next() % 10) }
    return Dataset(
      name: "synthetic", sampleShape: shape, classCount: 10, labels: labels,
      storage: .bytes(pixels), mean: 0.5, std: 0.3)
  }

  func validate() throws {
    guard (1...256).contains(threads), (1...4096).contains(batchSize), seconds > 0 else {
      throw ValidationError(
        "--threads must be in 1...256, --batch-size in 1...4096 and --seconds positive")
    }
  }

  func run() async throws {
    let shape = model.lowercased().hasPrefix("cifar") ? [32, 32, 3] : [28, 28, 1]
    let architecture = try Zoo.architecture(named: model, inputShape: shape, classes: 10)
    let dataset = try benchData(shape: shape)
    let samples = dataset.count
    let hasFusableBlocks = architecture.layers.contains {
      if case .conv2d = $0 { true } else { false }
    }

    func measure(fused: Bool) throws -> Double {
      let trainer = try Trainer(
        model: Model(architecture: architecture, seed: 1),
        options: TrainingOptions(batchSize: batchSize, threads: threads, fusedKernels: fused))
      let order = Array(0..<samples)
      func loop(for duration: Double) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        var images = 0
        var cursor = 0
        while true {
          if cursor + batchSize > samples { cursor = 0 }
          trainer.step(on: dataset, indices: order[cursor..<(cursor + batchSize)])
          cursor += batchSize
          images += batchSize
          let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
          if elapsed >= duration { return Double(images) / elapsed }
        }
      }
      _ = loop(for: 1)
      return loop(for: seconds)
    }

    print(
      "bench train: \(architecture.name) on \(dataset.name) (\(try Network(architecture, batchCapacity: 1).parameterCount) "
        + "parameters), batch \(batchSize), \(threads) thread(s), SGD momentum, \(Int(seconds)) s each"
    )
    let engine = try measure(fused: true)
    print("  engine:                      \(Int(engine)) images/s")
    if hasFusableBlocks && !noBaseline {
      let baseline = try measure(fused: false)
      print("  baseline (im2col+GEMM each): \(Int(baseline)) images/s")
      print(String(format: "  speed-up over baseline:      %.2fx", engine / baseline))
    }
  }
}
