import Canonical
import Records
import XCTest

final class StatementTests: XCTestCase {
  /// Attack: a reason that quotes what a cluster chose (a long name) must not make a statement
  /// that no reader accepts, or no round with that cluster could commit. A reason is cut to its
  /// maximum, at a character; a stored statement decodes to the very bytes it was signed as.
  func testALongReasonIsCutAndEveryStatementReadsBack() throws {
    let long = String(repeating: "é", count: 3000)  // 6000 bytes of UTF-8
    let r = AggregationStatement.Rejected(update: Hash256.of([1]), reason: "from \(long)")
    XCTAssertLessThanOrEqual(r.reason.utf8.count, AggregationStatement.Rejected.maximumReason)
    XCTAssertTrue(r.reason.hasPrefix("from éé"))
    XCTAssertTrue(r.reason.hasSuffix("…"))
    let short = AggregationStatement.Rejected(update: Hash256.of([2]), reason: "bad signature")
    XCTAssertEqual(short.reason, "bad signature")
    let statement = AggregationStatement(
      round: 1, baseModel: .zero, accepted: [], rejected: [r, short], rule: "mean", parameters: [],
      newModel: Hash256.of([3]), newModelBlob: Hash256.of([4]), newModelSize: 10)
    let again = try AggregationStatement(canonical: statement.canonicalBytes)
    XCTAssertEqual(again, statement)
    XCTAssertEqual(again.canonicalBytes, statement.canonicalBytes)
  }
}
