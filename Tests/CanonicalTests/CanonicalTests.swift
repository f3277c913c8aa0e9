import Canonical
import XCTest

/// The canonical encoding: one encoding per value, and decoders that refuse what is not one.
final class CanonicalTests: XCTestCase {
  func testValuesRoundTripBigEndianWithLengthsAndCounts() throws {
    var w = CanonicalWriter()
    w.u8(1)
    w.u16(0x0203)
    w.u32(0x0405_0607)
    w.u64(1)
    w.f64(-0.5)
    w.bool(true)
    w.string("é")
    w.bytes([9, 9])
    w.list([UInt8(1), 2]) { $0.u8($1) }
    w.optional(UInt32?.none) { $0.u32($1) }
    w.optional(UInt32(7)) { $0.u32($1) }
    XCTAssertEqual(Array(w.bytes[0..<7]), [1, 2, 3, 4, 5, 6, 7])
    var r = CanonicalReader(w.bytes)
    XCTAssertEqual(try r.u8("a"), 1)
    XCTAssertEqual(try r.u16("b"), 0x0203)
    XCTAssertEqual(try r.u32("c"), 0x0405_0607)
    XCTAssertEqual(try r.u64("d"), 1)
    XCTAssertEqual(try r.f64("e"), -0.5)
    XCTAssertEqual(try r.bool("f"), true)
    XCTAssertEqual(try r.string("g"), "é")
    XCTAssertEqual(try r.bytes("h"), [9, 9])
    XCTAssertEqual(try r.list("i") { r throws(CanonicalDecodingError) in try r.u8("i") }, [1, 2])
    XCTAssertNil(try r.optional("j") { r throws(CanonicalDecodingError) in try r.u32("j") })
    XCTAssertEqual(try r.optional("k") { r throws(CanonicalDecodingError) in try r.u32("k") }, 7)
    XCTAssertNoThrow(try r.finish())
  }

  func testDecodersRefuseWhatIsNotOneEncodingNamingTheField() {
    // A length past the limit is refused before anything is allocated.
    var huge = CanonicalReader([0xff, 0xff, 0xff, 0xff])
    XCTAssertThrowsError(try huge.bytes("payload")) {
      XCTAssertEqual(
        $0 as? CanonicalDecodingError,
        .oversized(field: "payload", length: 4_294_967_295, limit: EncodingLimits.bytes))
    }
    // Truncated, trailing bytes, a boolean or optional tag that is not 0 or 1, bad UTF-8.
    var short = CanonicalReader([0, 0])
    XCTAssertThrowsError(try short.u32("count")) {
      XCTAssertEqual($0 as? CanonicalDecodingError, .truncated(field: "count"))
    }
    var trailing = CanonicalReader([1, 2])
    _ = try? trailing.u8("x")
    XCTAssertThrowsError(try trailing.finish()) {
      XCTAssertEqual($0 as? CanonicalDecodingError, .trailingBytes(count: 1))
    }
    var flag = CanonicalReader([2])
    XCTAssertThrowsError(try flag.bool("flag"))
    var text = CanonicalReader([0, 0, 0, 1, 0xff])
    XCTAssertThrowsError(try text.string("name"))
  }
}
