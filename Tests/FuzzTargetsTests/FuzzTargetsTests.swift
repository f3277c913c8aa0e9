import Foundation
import FuzzTargets
import XCTest

/// Every fuzz target over its committed seeds (each must get past its decoder, or the target
/// fuzzes nothing) and over every input a fuzzer once found (Fuzz/regressions/<target>/),
/// which must now pass. CI's fuzz smoke runs libFuzzer itself.
final class FuzzTargetsTests: XCTestCase {
  static let fuzz = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fuzz").path

  func inputs(_ kind: String, _ target: String) throws -> [(String, [UInt8])] {
    let dir = "\(Self.fuzz)/\(kind)/\(target)"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
    return try names.sorted().map { name in
      (name, Array(try XCTUnwrap(FileManager.default.contents(atPath: "\(dir)/\(name)"))))
    }
  }

  func testEverySeedGetsPastItsDecoder() throws {
    for t in FuzzTargets.all {
      let seeds = try inputs("seeds", t.name)
      XCTAssertFalse(seeds.isEmpty, "\(t.name) has no seeds in Fuzz/seeds/\(t.name)")
      for (name, bytes) in seeds {
        XCTAssertTrue(try t.check(bytes), "\(t.name)'s seed \(name) is refused by its decoder")
      }
    }
  }

  func testEveryFoundInputNowPasses() throws {
    for t in FuzzTargets.all {
      for (name, bytes) in try inputs("regressions", t.name) {
        XCTAssertNoThrow(try t.check(bytes), "\(t.name): Fuzz/regressions/\(t.name)/\(name)")
      }
    }
  }

  /// Truncations and bit flips of every seed: the cheap part of what the fuzzers do, on every
  /// test run.
  func testMutatedSeedsBreakNoInvariant() throws {
    for t in FuzzTargets.all {
      for (name, bytes) in try inputs("seeds", t.name) {
        var variants: [[UInt8]] = [[], Array(bytes.prefix(bytes.count / 2))]
        for i in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 64)) {
          var v = bytes
          v[i] ^= 0x01
          variants.append(v)
        }
        for v in variants {
          XCTAssertNoThrow(try t.check(v), "\(t.name): a mutation of \(name)")
        }
      }
    }
  }
}
