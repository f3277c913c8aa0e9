import Foundation

/// Ports and processes of a network run on one machine (`fedledger devnet`, tests).
public enum LoopbackPort {
  /// A loopback TCP port nothing listens on now (bound, read and released; a process started
  /// right after takes it).
  public static func free() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
      }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}

/// The members of an etcd cluster on loopback: ports and each member's command line.
public struct LoopbackEtcd: Sendable {
  public let clientPorts: [Int]
  public let peerPorts: [Int]
  public let token: String

  /// `members` members on free loopback ports.
  public init(members: Int, token: String) throws {
    clientPorts = try (0..<members).map { _ in try LoopbackPort.free() }
    peerPorts = try (0..<members).map { _ in try LoopbackPort.free() }
    self.token = token
  }

  /// The client addresses, `127.0.0.1:PORT`.
  public var endpoints: [String] { clientPorts.map { "127.0.0.1:\($0)" } }

  /// Files of a member's TLS: its certificate and key, and the CA it checks peers and
  /// clients against (PEM).
  public struct TLSFiles: Sendable {
    public var certificate: String
    public var key: String
    public var authority: String
    public init(certificate: String, key: String, authority: String) {
      self.certificate = certificate
      self.key = key
      self.authority = authority
    }
  }

  /// Member `i`'s arguments: a new cluster, data in `dataDirectory`, logs as `logOutput` says
  /// (`stderr` or a file). With `tls`, clients and peers speak TLS and must present a
  /// certificate the CA issued.
  public func arguments(
    member i: Int, dataDirectory: String, logOutput: String = "stderr", tls: TLSFiles? = nil
  ) -> [String] {
    let scheme = tls == nil ? "http" : "https"
    let cluster = peerPorts.indices.map { "m\($0)=\(scheme)://127.0.0.1:\(peerPorts[$0])" }
      .joined(separator: ",")
    var arguments = [
      "--name", "m\(i)", "--data-dir", dataDirectory,
      "--listen-client-urls", "\(scheme)://127.0.0.1:\(clientPorts[i])",
      "--advertise-client-urls", "\(scheme)://127.0.0.1:\(clientPorts[i])",
      "--listen-peer-urls", "\(scheme)://127.0.0.1:\(peerPorts[i])",
      "--initial-advertise-peer-urls", "\(scheme)://127.0.0.1:\(peerPorts[i])",
      "--initial-cluster", cluster, "--initial-cluster-state", "new",
      "--initial-cluster-token", token, "--logger", "zap", "--log-outputs", logOutput,
    ]
    if let tls {
      arguments += [
        "--cert-file", tls.certificate, "--key-file", tls.key, "--trusted-ca-file", tls.authority,
        "--client-cert-auth", "--peer-cert-file", tls.certificate, "--peer-key-file", tls.key,
        "--peer-trusted-ca-file", tls.authority, "--peer-client-cert-auth",
      ]
    }
    return arguments
  }
}
