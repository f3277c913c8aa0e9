import Foundation
import Learning
import XCTest

/// End-to-end behaviour of training: it learns, and it is reproducible.
final class TrainingTests: XCTestCase {
  static func quadrants(count: Int, seed: UInt64) -> Dataset {
    SyntheticData.quadrants(count: count, seed: seed)
  }

  func train(
    _ architecture: Architecture, epochs: Int, threads: Int = 1, seed: UInt64 = 1,
    optimizer: OptimizerConfig = .default, data: Dataset
  ) throws -> Trainer {
    let trainer = try Trainer(
      model: Model(architecture: architecture, seed: seed),
      options: TrainingOptions(batchSize: 16, optimizer: optimizer, seed: seed, threads: threads))
    for epoch in 1...epochs { trainer.trainEpoch(on: data, epoch: epoch) }
    return trainer
  }

  func testLeNetLearnsSyntheticTask() throws {
    let trainer = try train(
      Zoo.lenet5(classes: 4), epochs: 2, data: Self.quadrants(count: 1200, seed: 1))
    let result = trainer.evaluate(on: Self.quadrants(count: 400, seed: 2))
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.95, "LeNet-5 should solve the quadrant task")
    XCTAssertEqual(result.confusion.flatMap { $0 }.reduce(0, +), 400)
  }

  func testMLPWithAdamLearnsSyntheticTask() throws {
    let trainer = try train(
      Zoo.mlp(classes: 4), epochs: 3,
      optimizer: .adam(
        learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0),
      data: Self.quadrants(count: 1200, seed: 3))
    XCTAssertGreaterThanOrEqual(
      trainer.evaluate(on: Self.quadrants(count: 400, seed: 4)).accuracy, 0.9)
  }

  func testCIFARStyleNetworkTrains() throws {
    // 32x32x3 input through the CIFAR-style CNN (with dropout): the loss must fall.
    var rng = SeededGenerator(seed: 8)
    let count = 64
    var pixels = [UInt8](repeating: 0, count: count * 3072)
    var labels = [Int32](repeating: 0, count: count)
    for n in 0..<count {
      labels[n] = Int32(n % 2)
      for i in 0..<3072 {
        let channel = i % 3
        let base: UInt8 = (n % 2 == 0) == (channel == 0) ? 180 : 40
        pixels[n * 3072 + i] = base &+ UInt8(rng.next() % 40)
      }
    }
    let data = Dataset(
      name: "colours", sampleShape: [32, 32, 3], classCount: 2, labels: labels,
      storage: .bytes(pixels), mean: 0.4, std: 0.3)
    let trainer = try Trainer(
      model: Model(architecture: Zoo.cifarCNN(classes: 2), seed: 1),
      options: TrainingOptions(batchSize: 16, threads: 2))
    let first = trainer.trainEpoch(on: data, epoch: 1)
    var last = first
    for epoch in 2...4 { last = trainer.trainEpoch(on: data, epoch: epoch) }
    XCTAssertLessThan(last.loss, first.loss)
    XCTAssertEqual(trainer.evaluate(on: data).accuracy, 1.0)
  }

  func testSameSeedGivesSameModelHash() throws {
    let data = Self.quadrants(count: 300, seed: 5)
    for threads in [1, 2] {
      let a = try train(Zoo.lenet5(classes: 4), epochs: 1, threads: threads, seed: 42, data: data)
      let b = try train(Zoo.lenet5(classes: 4), epochs: 1, threads: threads, seed: 42, data: data)
      XCTAssertEqual(a.model.hash, b.model.hash, "\(threads) thread(s)")
      let c = try train(Zoo.lenet5(classes: 4), epochs: 1, threads: threads, seed: 43, data: data)
      XCTAssertNotEqual(a.model.hash, c.model.hash)
    }
  }

  func testIdleWorkersAddNoStaleGradients() throws {
    // 13 samples in batches of 8 on 4 workers: the last batch leaves two workers idle.
    let data = Self.quadrants(count: 13, seed: 6)
    func run(threads: Int) throws -> [Float] {
      let trainer = try Trainer(
        model: Model(architecture: Zoo.mlp(classes: 4), seed: 1),
        options: TrainingOptions(batchSize: 8, threads: threads))
      for epoch in 1...3 { trainer.trainEpoch(on: data, epoch: epoch) }
      return trainer.model.parameters
    }
    let one = try run(threads: 1)
    let four = try run(threads: 4)
    let largest = zip(one, four).map { abs($0 - $1) }.max()!
    XCTAssertLessThan(largest, 1e-4)
  }

  func testInitialisationIsSeeded() throws {
    let a = try Model(architecture: Zoo.lenet5(), seed: 1)
    let b = try Model(architecture: Zoo.lenet5(), seed: 1)
    let c = try Model(architecture: Zoo.lenet5(), seed: 2)
    XCTAssertEqual(a, b)
    XCTAssertNotEqual(a.parameters, c.parameters)
    XCTAssertEqual(a.parameters.count, 61_706)
    XCTAssertEqual(try Model(architecture: Zoo.mlp(), seed: 1).parameters.count, 199_210)
  }

  func testParametersRoundTripAsFlatVector() throws {
    let trainer = try Trainer(model: Model(architecture: Zoo.mlp(classes: 4), seed: 1))
    var vector = trainer.model.parameters
    for i in vector.indices { vector[i] = Float(i % 13) * 0.01 }
    trainer.load(parameters: vector)
    XCTAssertEqual(trainer.model.parameters, vector)
  }

  func testOptimisersMatchReferenceSteps() {
    // One parameter, gradient 2, lr 0.1: values worked out from PyTorch's update rules.
    var p: [Float] = [1]
    let g: [Float] = [2]
    let sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.5)
    sgd.step(parameters: &p, gradients: g, count: 1)  // d = 2 + 0.5 = 2.5, v = 2.5
    XCTAssertEqual(p[0], 0.75, accuracy: 1e-6)
    sgd.step(parameters: &p, gradients: g, count: 1)  // d = 2.375, v = 0.9 * 2.5 + 2.375
    XCTAssertEqual(p[0], 0.75 - 0.1 * 4.625, accuracy: 1e-6)
    var q: [Float] = [1]
    let adam = Adam(learningRate: 0.1)
    adam.step(parameters: &q, gradients: g, count: 1)  // first Adam step moves by lr
    XCTAssertEqual(q[0], 0.9, accuracy: 1e-5)
  }

  func testArchitectureErrorsNameTheLayer() {
    let bad = Architecture(name: "bad", inputShape: [28, 28, 1], layers: [.dense(units: 10)])
    XCTAssertThrowsError(try bad.makeLayers()) { error in
      XCTAssertTrue("\(error)".contains("layer 0 (dense(10))"), "\(error)")
    }
    XCTAssertThrowsError(
      try Zoo.architecture(named: "resnet", inputShape: [28, 28, 1], classes: 10))
  }
}

/// A short run on real Fashion-MNIST data (Debian's dataset-fashion-mnist).
final class FashionMNISTSubsetTests: XCTestCase {
  func testLeNetOnSubsetReachesSetAccuracy() throws {
    let train = try DatasetLoader.load("fashion-mnist", split: .train).subset(Array(0..<6000))
    let test = try DatasetLoader.load("fashion-mnist", split: .test).subset(Array(0..<2000))
    let trainer = try Trainer(
      model: Model(architecture: Zoo.lenet5(), seed: 1), options: TrainingOptions(threads: 2))
    for epoch in 1...2 { trainer.trainEpoch(on: train, epoch: epoch) }
    let result = trainer.evaluate(on: test)
    XCTAssertGreaterThanOrEqual(result.accuracy, 0.78, "2 epochs on 6,000 images")
  }
}

final class TensorAPITests: XCTestCase {
  func testLogitsForTensorMatchEvaluation() throws {
    let data = TrainingTests.quadrants(count: 64, seed: 9)
    let trainer = try Trainer(model: Model(architecture: Zoo.lenet5(classes: 4), seed: 1))
    trainer.trainEpoch(on: data)
    let model = trainer.model
    var inputs = Tensor(zeros: [data.count, 28, 28, 1])
    inputs.scalars.withUnsafeMutableBufferPointer {
      data.fillBatch(0..<data.count, into: $0.baseAddress!)
    }
    let logits = try model.logits(for: inputs)
    XCTAssertEqual(logits.shape, [64, 4])
    var correct = 0
    for n in 0..<64 {
      let row = logits.scalars[(n * 4)..<(n * 4 + 4)]
      if row.firstIndex(of: row.max()!)! - n * 4 == Int(data.labels[n]) { correct += 1 }
    }
    XCTAssertEqual(Double(correct) / 64, trainer.evaluate(on: data).accuracy, accuracy: 1e-9)
    XCTAssertThrowsError(try model.logits(for: Tensor(zeros: [2, 28, 28])))
  }
}
