import Foundation

/// Length-prefixed frames over file descriptors (pipes or a Unix socket).
public enum Frames {
  public enum Failure: Error, CustomStringConvertible {
    case closed
    case tooLarge(Int)
    case io(String)

    public var description: String {
      switch self {
      case .closed: "the other side closed the connection"
      case .tooLarge(let n):
        "a frame of \(n) bytes is larger than the limit of \(EnclaveProtocol.maximumFrame)"
      case .io(let why): why
      }
    }
  }

  /// Reads one frame; nil at a clean end of input (between frames).
  ///
  /// The declared length is the peer's word only, so the body is not allocated up front: its
  /// buffer grows as bytes arrive, never more than `readAhead` bytes past those received. A
  /// peer that declares 1 GiB and sends 4 bytes costs 1 MiB, not 1 GiB.
  public static func read(from fd: Int32) throws(Failure) -> [UInt8]? {
    var header = [UInt8](repeating: 0, count: 4)
    guard try readExactly(fd, &header, allowEnd: true) else { return nil }
    let n = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
    guard n <= EnclaveProtocol.maximumFrame else { throw .tooLarge(n) }
    // The body grows a chunk at a time, each read whole before the next is allocated (array
    // appends grow geometrically, so this stays linear).
    var body: [UInt8] = []
    while body.count < n {
      var chunk = [UInt8](repeating: 0, count: min(readAhead, n - body.count))
      _ = try readExactly(fd, &chunk, allowEnd: false)
      body.append(contentsOf: chunk)
    }
    return body
  }

  /// How far a frame's buffer may grow past the bytes received so far.
  static let readAhead = 1 << 20

  public static func write(_ body: [UInt8], to fd: Int32) throws(Failure) {
    guard body.count <= EnclaveProtocol.maximumFrame else { throw .tooLarge(body.count) }
    let n = UInt32(body.count)
    var frame = [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
    frame += body
    var offset = 0
    while offset < frame.count {
      let written = frame.withUnsafeBytes { raw in
        Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
      }
      if written < 0 {
        if errno == EINTR { continue }
        throw .io("write failed: \(String(cString: strerror(errno)))")
      }
      offset += written
    }
  }

  private static func readExactly(_ fd: Int32, _ buffer: inout [UInt8], allowEnd: Bool)
    throws(Failure) -> Bool
  {
    var offset = 0
    while offset < buffer.count {
      let got = buffer.withUnsafeMutableBytes { raw in
        Foundation.read(fd, raw.baseAddress! + offset, raw.count - offset)
      }
      if got < 0 {
        if errno == EINTR { continue }
        throw .io("read failed: \(String(cString: strerror(errno)))")
      }
      if got == 0 {
        if offset == 0 && allowEnd { return false }
        throw .closed
      }
      offset += got
    }
    return true
  }
}
