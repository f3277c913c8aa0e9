import ArgumentParser
import Foundation
import Learning

struct Evaluate: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Report a saved model's accuracy, loss and confusion matrix on a dataset.")

  @Option(help: "The model file to evaluate.") var model: String
  @OptionGroup var data: DatasetOptions
  @Option(help: "Which split to evaluate: test or train.") var split: Split = .test

  func run() async throws {
    do {
      let loaded = try ModelFile.read(from: model)
      let dataset = try data.load(split)
      let classes = try Network(loaded.architecture, batchCapacity: 1).classCount
      guard dataset.classCount <= classes else {
        throw ModelFileError.architectureMismatch(
          path: model, expected: "at least \(dataset.classCount) classes for \(dataset.name)",
          found: "\(classes) classes")
      }
      guard loaded.architecture.inputShape == dataset.sampleShape else {
        throw ModelFileError.architectureMismatch(
          path: model, expected: "input \(dataset.sampleShape) for \(dataset.name)",
          found: "input \(loaded.architecture.inputShape)")
      }
      let trainer = try Trainer(model: loaded)
      let result = trainer.evaluate(on: dataset)
      print("model \(model) (\(loaded.architecture.name), sha256:\(loaded.hash))")
      print("dataset \(dataset.name): \(result.count) samples")
      print(String(format: "accuracy %.2f%%  loss %.4f", result.accuracy * 100, result.loss))
      print(ConfusionTable.render(result.confusion, names: dataset.classNames))
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }
}

extension Split: ExpressibleByArgument {}

/// Renders a confusion matrix as a text table with per-class recall.
enum ConfusionTable {
  static func render(_ matrix: [[Int]], names: [String]?) -> String {
    let n = matrix.count
    let labels = (0..<n).map { i in names.flatMap { i < $0.count ? $0[i] : nil } ?? "\(i)" }
    let width = max(6, matrix.flatMap { $0 }.map { String($0).count }.max() ?? 1)
    let labelWidth = min(14, labels.map(\.count).max() ?? 1)
    var lines = ["confusion matrix (rows: true class, columns: predicted)"]
    lines.append(
      pad("", labelWidth) + (0..<n).map { pad("\($0)", width + 1) }.joined() + "  recall")
    for i in 0..<n {
      let total = matrix[i].reduce(0, +)
      let recall = total > 0 ? Double(matrix[i][i]) / Double(total) * 100 : 0
      lines.append(
        pad(labels[i], labelWidth) + matrix[i].map { pad("\($0)", width + 1) }.joined()
          + String(format: "  %5.1f%%", recall))
    }
    return lines.joined(separator: "\n")
  }
}

/// Right-aligns `s` in `width` columns, cutting it if it is longer.
func pad(_ s: String, _ width: Int) -> String {
  s.count >= width ? String(s.prefix(width)) : String(repeating: " ", count: width - s.count) + s
}
