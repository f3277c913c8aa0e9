import Canonical

/// One decoder that reads bytes from outside, as a fuzz target. `check` takes any bytes; it
/// must not crash, hang or allocate without bound, and it throws a `FuzzFinding` when what
/// the decoder accepted breaks an invariant (a value with two encodings, a response the
/// other side cannot read). It returns true when the input got past the decoder, which is
/// what a seed must do.
public struct FuzzTarget: Sendable {
  public let name: String
  /// What the target feeds and to what, for `--help` and docs/fuzzing.md.
  public let summary: String
  let body: @Sendable ([UInt8]) throws(FuzzFinding) -> Bool

  init(
    _ name: String, _ summary: String,
    _ body: @escaping @Sendable ([UInt8]) throws(FuzzFinding) -> Bool
  ) {
    self.name = name
    self.summary = summary
    self.body = body
  }

  @discardableResult
  public func check(_ input: [UInt8]) throws(FuzzFinding) -> Bool { try body(input) }
}

/// An invariant a decoder broke on some input: a bug, to be fixed with the input kept as a
/// regression (Fuzz/regressions/<target>/).
public struct FuzzFinding: Error, CustomStringConvertible {
  public let target: String
  public let problem: String
  public var description: String { "\(target): \(problem)" }
}

/// Every target, by name.
public enum FuzzTargets {
  public static let all: [FuzzTarget] = [
    envelope, payload, transaction, block, enclaveFrames, enclaveRequest, quote, collateral,
    evidence, model, receipt, genesis, nodeMessages, secagg,
  ]

  public static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Decodes `input` as `T`; a value it accepts must re-encode to exactly `input` (one value,
/// one encoding: hashes and signatures are over bytes) and decode again to itself.
func canonicalRoundTrip<T: CanonicalCodable & Equatable>(
  _: T.Type, _ input: [UInt8], target: String
) throws(FuzzFinding) -> T? {
  guard let value = try? T(canonical: input) else { return nil }
  let again = value.canonicalBytes
  guard again == input else {
    throw FuzzFinding(
      target: target,
      problem:
        "\(T.self) accepted \(input.count) bytes that re-encode to \(again.count) other bytes")
  }
  guard (try? T(canonical: again)) == value else {
    throw FuzzFinding(target: target, problem: "\(T.self) does not decode its own encoding")
  }
  return value
}

/// Splits a seed of several parts (a block sequence, enclave frames): a canonical list of
/// byte strings.
func parts(_ input: [UInt8]) -> [[UInt8]]? {
  var r = CanonicalReader(input)
  guard
    let list = try? r.list(
      "parts", limit: 64,
      { (r: inout CanonicalReader) throws(CanonicalDecodingError) in
        try r.bytes("part", limit: 8 << 20)
      }),
    (try? r.finish()) != nil
  else { return nil }
  return list
}

/// The encoding `parts` reads.
public func joinParts(_ list: [[UInt8]]) -> [UInt8] {
  var w = CanonicalWriter()
  w.list(list) { $0.bytes($1) }
  return w.bytes
}
