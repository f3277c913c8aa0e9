import Enclave
import EnclaveMessages
import Foundation
import XCTest

/// The enclave's frame reader against a peer that lies about a frame's length: the declared
/// length is the peer's word only, and must cost the reader nothing until bytes arrive.
final class FramesTests: XCTestCase {
  /// A new pipe: [read end, write end].
  func makePipe(file: StaticString = #filePath, line: UInt = #line) -> [Int32] {
    var fds: [Int32] = [-1, -1]
    XCTAssertEqual(pipe(&fds), 0, "pipe failed", file: file, line: line)
    return fds
  }

  /// Writes all of `bytes` to `fd`.
  func writeAll(_ bytes: [UInt8], to fd: Int32) {
    var offset = 0
    while offset < bytes.count {
      let n = bytes.withUnsafeBytes {
        Foundation.write(fd, $0.baseAddress! + offset, $0.count - offset)
      }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else { return XCTFail("write failed: \(String(cString: strerror(errno)))") }
      offset += n
    }
  }

  /// A frame header: `length` as 4 bytes, big-endian.
  func header(_ length: Int) -> [UInt8] {
    [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: length >> $0) }
  }

  /// The process's peak resident set size, in bytes.
  func peakResidentBytes() -> Int {
    var usage = rusage()
    #if canImport(Darwin)
      guard getrusage(RUSAGE_SELF, &usage) == 0 else { return 0 }
      return Int(usage.ru_maxrss)  // bytes on Darwin
    #else
      // Glibc imports RUSAGE_SELF as an enum constant; getrusage takes its typedef.
      guard getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage) == 0 else { return 0 }
      return Int(usage.ru_maxrss) * 1024  // KiB on Linux
    #endif
  }

  func testADeclaredGigabyteFollowedByFourBytesCostsNoGigabyte() throws {
    let fds = makePipe()
    defer { close(fds[0]) }
    // The largest length the reader accepts, then 4 bytes, then the end.
    writeAll(header(EnclaveProtocol.maximumFrame) + [1, 2, 3, 4], to: fds[1])
    close(fds[1])
    let before = peakResidentBytes()
    XCTAssertThrowsError(try Frames.read(from: fds[0])) {
      guard case .closed? = $0 as? Frames.Failure else { return XCTFail("\($0)") }
    }
    let growth = peakResidentBytes() - before
    XCTAssertLessThan(growth, 64 << 20, "peak memory grew by \(growth) bytes")
  }

  func testMultiMegabyteFramesRoundTripByteForByte() throws {
    for count in [(1 << 20) - 1, 1 << 20, (5 << 20) + 3] {
      let body = (0..<count).map { UInt8(truncatingIfNeeded: $0 ^ ($0 >> 8) ^ ($0 >> 17)) }
      let fds = makePipe()
      defer { close(fds[0]) }
      // The pipe holds far less than a frame: the writer runs beside the reader.
      let writer = fds[1]
      let written = DispatchSemaphore(value: 0)
      DispatchQueue.global().async {
        try? Frames.write(body, to: writer)
        close(writer)
        written.signal()
      }
      let received = try Frames.read(from: fds[0])
      written.wait()
      XCTAssertEqual(received?.count, count)
      XCTAssertTrue(received == body, "a frame of \(count) bytes came back changed")
      // Nothing follows it: a clean end between frames.
      XCTAssertNil(try Frames.read(from: fds[0]))
    }
  }

  func testAFrameOverTheLimitIsRefusedBeforeItsBodyIsRead() throws {
    for length in [EnclaveProtocol.maximumFrame + 1, Int(UInt32.max)] {
      let fds = makePipe()
      defer {
        close(fds[0])
        close(fds[1])
      }
      // Non-blocking, so a reader that went on to read the body fails (EAGAIN) instead of
      // waiting forever; the write end stays open.
      XCTAssertEqual(fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK), 0)
      writeAll(header(length) + [7, 8, 9], to: fds[1])
      let before = peakResidentBytes()
      XCTAssertThrowsError(try Frames.read(from: fds[0])) {
        guard case .tooLarge(let n)? = $0 as? Frames.Failure else { return XCTFail("\($0)") }
        XCTAssertEqual(n, length)
        XCTAssertTrue("\($0)".contains("larger than the limit"), "\($0)")
      }
      XCTAssertLessThan(peakResidentBytes() - before, 64 << 20)
      // The body is still in the pipe: not a byte of it was read.
      var rest = [UInt8](repeating: 0, count: 8)
      let got = rest.withUnsafeMutableBytes { Foundation.read(fds[0], $0.baseAddress!, $0.count) }
      XCTAssertEqual(got, 3)
      XCTAssertEqual(Array(rest.prefix(3)), [7, 8, 9])
    }
  }
}
