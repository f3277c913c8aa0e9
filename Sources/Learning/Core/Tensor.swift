/// An n-dimensional array of Float32 values in contiguous row-major storage.
public struct Tensor: Equatable, Sendable {
  /// The extent of each dimension, outermost first.
  public var shape: [Int]
  /// The values, row-major; `scalars.count` equals the product of `shape`.
  public var scalars: [Float]

  public init(shape: [Int], scalars: [Float]) {
    precondition(
      shape.reduce(1, *) == scalars.count,
      "shape \(shape) needs \(shape.reduce(1, *)) values, got \(scalars.count)")
    self.shape = shape
    self.scalars = scalars
  }

  public init(zeros shape: [Int]) {
    self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
  }

  public var count: Int { scalars.count }
}
