import Foundation

/// A TCP proxy on loopback that a fault trial controls, in front of one port: it forwards
/// every connection until `sever()`, then moves no byte either way (connections stay open,
/// new ones are taken and left waiting: a partition, not a refusal, so only timeouts tell),
/// until `heal()`.
final class LoopbackProxy: @unchecked Sendable {
  /// The port it listens on, and the one it forwards to.
  let port: Int
  let target: Int
  private let listener: Int32
  private let lock = NSLock()
  private var severed = false
  private var stopped = false
  private var sockets: [Int32] = []

  /// Listens on `port` (0: a free one) and forwards to `target`.
  init(port requested: Int = 0, to target: Int) throws {
    self.target = target
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw ProxyError.socket("socket: \(String(cString: strerror(errno)))") }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = Self.loopback(requested)
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(fd, 64) == 0 else {
      close(fd)
      throw ProxyError.socket(
        "cannot listen on 127.0.0.1:\(requested): \(String(cString: strerror(errno)))")
    }
    var actual = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &actual) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    listener = fd
    port = Int(UInt16(bigEndian: actual.sin_port))
    Thread.detachNewThread { [self] in accepting() }
  }

  enum ProxyError: Error, CustomStringConvertible {
    case socket(String)
    var description: String {
      switch self {
      case .socket(let why): "loopback proxy: \(why)"
      }
    }
  }

  /// Stops every byte, both ways, on every connection, until `heal()`.
  func sever() { lock.withLock { severed = true } }
  func heal() { lock.withLock { severed = false } }

  /// Closes the listener and every connection.
  func stop() {
    let open = lock.withLock { () -> [Int32] in
      stopped = true
      return sockets
    }
    shutdown(listener, Int32(SHUT_RDWR))
    close(listener)
    for s in open { shutdown(s, Int32(SHUT_RDWR)) }
  }

  private var isSevered: Bool { lock.withLock { severed } }
  private var isStopped: Bool { lock.withLock { stopped } }

  private static func loopback(_ port: Int) -> sockaddr_in {
    var a = sockaddr_in()
    a.sin_family = sa_family_t(AF_INET)
    a.sin_port = UInt16(port).bigEndian
    a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return a
  }

  private func accepting() {
    while !isStopped {
      let client = accept(listener, nil, nil)
      if client < 0 {
        if errno == EINTR { continue }
        return
      }
      Thread.detachNewThread { [self] in connect(client) }
    }
  }

  /// Waits out a partition, connects to the target, and pumps both ways.
  private func connect(_ client: Int32) {
    while isSevered && !isStopped { usleep(50_000) }
    let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = Self.loopback(target)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard upstream >= 0, connected == 0, !isStopped else {
      close(client)
      if upstream >= 0 { close(upstream) }
      return
    }
    lock.withLock { sockets += [client, upstream] }
    Thread.detachNewThread { [self] in pump(from: upstream, to: client) }
    pump(from: client, to: upstream)
  }

  /// Copies `from` to `to` while not severed, until either side ends; then ends both.
  private func pump(from: Int32, to: Int32) {
    var buffer = [UInt8](repeating: 0, count: 64 << 10)
    loop: while !isStopped {
      if isSevered {
        usleep(50_000)
        continue
      }
      var p = pollfd(fd: from, events: Int16(POLLIN), revents: 0)
      let ready = poll(&p, 1, 100)
      if ready < 0 && errno != EINTR { break }
      if ready <= 0 { continue }
      let n = buffer.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      // A partition that begins now holds what was read until it heals.
      while isSevered && !isStopped { usleep(50_000) }
      var offset = 0
      while offset < n {
        let w = buffer.withUnsafeBytes { write(to, $0.baseAddress! + offset, n - offset) }
        if w <= 0 { break loop }
        offset += w
      }
    }
    shutdown(from, Int32(SHUT_RDWR))
    shutdown(to, Int32(SHUT_RDWR))
    lock.withLock { sockets.removeAll { $0 == from || $0 == to } }
    close(from)
  }
}
