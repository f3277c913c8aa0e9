/// A fixed-size, 64-byte aligned block of Float32 scratch memory owned by one worker.
///
/// Layers keep their activations and scratch in these so the hot loops work on raw pointers
/// without copy-on-write or exclusivity checks.
final class FloatBuffer {
  let count: Int
  let pointer: UnsafeMutablePointer<Float>

  init(count: Int) {
    self.count = count
    let raw = UnsafeMutableRawPointer.allocate(
      byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
    pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    pointer.initialize(repeating: 0, count: max(count, 1))
  }

  deinit { pointer.deallocate() }

  func zero() { pointer.update(repeating: 0, count: count) }
}
