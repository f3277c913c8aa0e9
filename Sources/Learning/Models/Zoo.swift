/// The built-in architectures.
public enum Zoo {
  /// Names accepted by `architecture(named:)`.
  public static let names = ["mlp", "lenet5", "cifar-cnn"]

  /// Looks up a built-in architecture for samples of `inputShape` and `classes` classes.
  public static func architecture(
    named name: String, inputShape: [Int], classes: Int
  ) throws(ArchitectureError) -> Architecture {
    switch name.lowercased() {
    case "mlp": mlp(inputShape: inputShape, classes: classes)
    case "lenet5", "lenet-5", "lenet": lenet5(inputShape: inputShape, classes: classes)
    case "cifar-cnn", "cifarcnn", "cnn": cifarCNN(inputShape: inputShape, classes: classes)
    default: throw .unknownModel(name: name, known: names)
    }
  }

  /// A multi-layer perceptron, 784-200-200-10 on MNIST-sized input.
  public static func mlp(inputShape: [Int] = [28, 28, 1], classes: Int = 10) -> Architecture {
    Architecture(
      name: "mlp", inputShape: inputShape,
      layers: [
        .flatten, .dense(units: 200), .relu, .dense(units: 200), .relu, .dense(units: classes),
      ])
  }

  /// LeNet-5 with ReLU and max pooling: 61,706 parameters on 28x28x1 input (padded to 32x32).
  public static func lenet5(inputShape: [Int] = [28, 28, 1], classes: Int = 10) -> Architecture {
    Architecture(
      name: "lenet5", inputShape: inputShape,
      layers: [
        .conv2d(filters: 6, kernel: 5, stride: 1, padding: inputShape.first == 28 ? 2 : 0), .relu,
        .maxPool2d(size: 2, stride: 2),
        .conv2d(filters: 16, kernel: 5, stride: 1, padding: 0), .relu,
        .maxPool2d(size: 2, stride: 2),
        .flatten, .dense(units: 120), .relu, .dense(units: 84), .relu, .dense(units: classes),
      ])
  }

  /// A small VGG-style network for 32x32x3 images (CIFAR-10): three conv blocks and a classifier.
  public static func cifarCNN(inputShape: [Int] = [32, 32, 3], classes: Int = 10) -> Architecture {
    Architecture(
      name: "cifar-cnn", inputShape: inputShape,
      layers: [
        .conv2d(filters: 32, kernel: 3, stride: 1, padding: 1), .relu,
        .maxPool2d(size: 2, stride: 2),
        .conv2d(filters: 64, kernel: 3, stride: 1, padding: 1), .relu,
        .maxPool2d(size: 2, stride: 2),
        .conv2d(filters: 128, kernel: 3, stride: 1, padding: 1), .relu,
        .maxPool2d(size: 2, stride: 2),
        .flatten, .dropout(rate: 0.25), .dense(units: 256), .relu, .dense(units: classes),
      ])
  }
}
