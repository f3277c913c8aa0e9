import ArgumentParser
import Dispatch
import Foundation
import Learning

struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure the engine's speed.", subcommands: [BenchTrain.self])
}

struct BenchTrain: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "train",
    abstract: "Training throughput: forward, backward and SGD update, data already in memory.",
    discussion: """
      Trains on synthetic in-memory samples of the model's input shape, so the number is the \
      engine's alone (no file I/O). Prints images/s after a warm-up.
      """)

  @Option(help: "Architecture: \(Zoo.names.joined(separator: ", ")).") var model = "lenet5"
  @Option(help: "Worker threads.") var threads = 1
  @Option(name: .customLong("batch-size"), help: "Samples per step.") var batchSize = 32
  @Option(help: "Seconds to measure (after a 1 s warm-up).") var seconds: Double = 5

  func run() async throws {
    let shape = model.lowercased().hasPrefix("cifar") ? [32, 32, 3] : [28, 28, 1]
    let architecture = try Zoo.architecture(named: model, inputShape: shape, classes: 10)
    let samples = 4096
    var rng = SeededGenerator(seed: 7, domain: "bench")
    let size = shape.reduce(1, *)
    let pixels = (0..<(samples * size)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let labels = (0..<samples).map { _ in Int32(rng.next() % 10) }
    let dataset = Dataset(
      name: "synthetic", sampleShape: shape, classCount: 10, labels: labels, storage: .bytes(pixels),
      mean: 0.5, std: 0.3)
    let trainer = try Trainer(
      model: Model(architecture: architecture, seed: 1),
      options: TrainingOptions(batchSize: batchSize, threads: threads))
    let order = Array(0..<samples)
    func run(for duration: Double) -> (images: Int, seconds: Double) {
      let start = DispatchTime.now().uptimeNanoseconds
      var images = 0
      var cursor = 0
      while true {
        if cursor + batchSize > samples { cursor = 0 }
        trainer.step(on: dataset, indices: order[cursor..<(cursor + batchSize)])
        cursor += batchSize
        images += batchSize
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if elapsed >= duration { return (images, elapsed) }
      }
    }
    _ = run(for: 1)
    let result = run(for: seconds)
    let rate = Double(result.images) / result.seconds
    print(
      "bench train: model \(architecture.name) (\(trainer.parameterCount) parameters), batch \(batchSize), "
        + "\(threads) thread(s): \(Int(rate)) images/s (\(result.images) images in "
        + String(format: "%.2f s", result.seconds) + ")")
  }
}
