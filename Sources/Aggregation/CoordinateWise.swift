// The coordinate-wise rules (median, trimmed mean), in one place for the plaintext strategy
// (floats) and the enclaves' fixed-point aggregation (integers): each coordinate's values
// across the updates, sorted, reduced to one by the rule; only the arithmetic differs.

/// How many values a trimmed mean cuts at each end of `n`: the `beta` fraction of them, but
/// always leaving at least one.
public func trimCount(_ n: Int, beta: Double) -> Int { min(Int(beta * Double(n)), (n - 1) / 2) }

/// For each of the `count` coordinates, `combine` of that coordinate's values across
/// `updates`, sorted ascending.
public func coordinateWise<T: Comparable, R>(
  _ updates: [[T]], count: Int, zero: T, _ combine: (ArraySlice<T>) -> R
) -> [R] {
  var column = [T](repeating: zero, count: updates.count)
  return (0..<count).map { j in
    for i in updates.indices { column[i] = updates[i][j] }
    column.sort()
    return combine(column[...])
  }
}

/// The middle of `sorted`, or `midpoint` of its two middle values.
public func median<T>(_ sorted: ArraySlice<T>, midpoint: (T, T) -> T) -> T {
  let n = sorted.count
  let s = sorted.startIndex
  return n % 2 == 1 ? sorted[s + n / 2] : midpoint(sorted[s + n / 2 - 1], sorted[s + n / 2])
}
