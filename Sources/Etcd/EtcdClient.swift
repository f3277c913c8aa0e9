import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// A client of an etcd cluster (v3 API over gRPC), for what FedLedger asks of it: write a key
/// only if it does not exist yet, read a prefix, and watch a prefix from a revision on.
///
/// Its `run()` keeps the connections; it fails over between the members it was given (any
/// member forwards writes to the leader).
public final class EtcdClient: Sendable {
  let grpc: GRPCClient<HTTP2ClientTransport.Posix>
  let kv: Etcdserverpb_KV.Client<HTTP2ClientTransport.Posix>
  let watcher: Etcdserverpb_Watch.Client<HTTP2ClientTransport.Posix>
  let maintenance: Etcdserverpb_Maintenance.Client<HTTP2ClientTransport.Posix>
  /// Each call but a watch gives up after this long.
  public let timeout: Duration
  public let endpoints: [EtcdEndpoint]

  /// A client of the members at `endpoints`, with mutual TLS when `tls` is given.
  public init(endpoints: [EtcdEndpoint], tls: EtcdTLS? = nil, timeout: Duration = .seconds(5))
    throws
  {
    precondition(!endpoints.isEmpty, "an etcd client needs at least one member")
    self.endpoints = endpoints
    self.timeout = timeout
    let security: HTTP2ClientTransport.Posix.TransportSecurity =
      if let tls {
        .mTLS(
          certificateChain: [.bytes(tls.certificate, format: .pem)],
          privateKey: .bytes(tls.privateKey, format: .pem)
        ) {
          $0.trustRoots = .certificates([.bytes(tls.trustRoots, format: .pem)])
          $0.serverCertificateVerification = .fullVerification
        }
      } else {
        .plaintext
      }
    let transport = try HTTP2ClientTransport.Posix(
      target: .ipv4(pairs: endpoints.map { (host: $0.host, port: $0.port) }),
      transportSecurity: security,
      config: .defaults {
        // etcd closes connections that ping more often than every 5 s or while idle.
        $0.connection.keepalive = .init(
          time: .seconds(30), timeout: .seconds(10), allowWithoutCalls: false)
        $0.backoff = .init(
          initial: .milliseconds(100), max: .seconds(2), multiplier: 1.6, jitter: 0.2)
      },
      // A connection to each member, calls spread over those that answer: one that dies is
      // left at once (pick-first stayed on a dead member's address, waiting).
      serviceConfig: ServiceConfig(loadBalancingConfig: [.roundRobin]))
    grpc = GRPCClient(transport: transport)
    kv = .init(wrapping: grpc)
    watcher = .init(wrapping: grpc)
    maintenance = .init(wrapping: grpc)
  }

  /// Keeps the connections until `close()`; run it in a task of its own.
  public func run() async throws { try await grpc.runConnections() }

  /// Stops taking calls and closes the connections once the calls in flight end.
  public func close() { grpc.beginGracefulShutdown() }

  var options: CallOptions {
    var o = CallOptions.defaults
    o.timeout = timeout
    // Wait for a member to be reachable rather than failing at once while one elects a leader.
    o.waitForReady = true
    o.maxRequestMessageBytes = 64 << 20
    o.maxResponseMessageBytes = 64 << 20
    return o
  }

  /// Writes `value` at `key` unless the key exists. Returns the revision of the write, or nil
  /// when the key existed (nothing was written).
  public func create(key: [UInt8], value: [UInt8]) async throws(EtcdError) -> Int64? {
    try await create([(key, value)])
  }

  /// Writes every entry in one transaction (one Raft commit, one revision, in this order)
  /// unless any of their keys exists: all or nothing. Returns the revision of the write, or
  /// nil when a key existed. At most `maximumEntries` (etcd's default limit of operations in
  /// a transaction).
  public func create(_ entries: [(key: [UInt8], value: [UInt8])]) async throws(EtcdError)
    -> Int64?
  {
    precondition(!entries.isEmpty && entries.count <= Self.maximumEntries)
    var request = Etcdserverpb_TxnRequest()
    for (key, value) in entries {
      var absent = Etcdserverpb_Compare()
      absent.key = Data(key)
      absent.target = .create
      absent.result = .equal
      absent.createRevision = 0
      request.compare.append(absent)
      var put = Etcdserverpb_PutRequest()
      put.key = Data(key)
      put.value = Data(value)
      var op = Etcdserverpb_RequestOp()
      op.requestPut = put
      request.success.append(op)
    }
    let txn = request
    let what =
      entries.count == 1
      ? "a guarded write of \(EtcdKey.describe(entries[0].key))"
      : "a guarded write of \(entries.count) keys from \(EtcdKey.describe(entries[0].key))"
    let response = try await call(what) {
      try await self.kv.txn(txn, options: self.options)
    }
    return response.succeeded ? response.header.revision : nil
  }

  /// The most entries one `create` writes (etcd's `--max-txn-ops` default).
  public static let maximumEntries = 128

  /// The keys under `prefix` with their values, in key order, and the store's revision.
  /// `serializable` reads the member's own copy without asking the leader (faster, possibly a
  /// little behind).
  public func range(prefix: [UInt8], serializable: Bool = false) async throws(EtcdError) -> (
    entries: [EtcdEntry], revision: Int64
  ) {
    var request = Etcdserverpb_RangeRequest()
    request.key = Data(prefix)
    request.rangeEnd = Data(EtcdKey.end(of: prefix))
    request.serializable = serializable
    let read = request
    let response = try await call("a read of \(EtcdKey.describe(prefix))") {
      try await self.kv.range(read, options: self.options)
    }
    return (response.kvs.map(EtcdEntry.init), response.header.revision)
  }

  /// The member's view of the cluster: its version, leader and revision (a health check).
  public func status() async throws(EtcdError) -> EtcdStatus {
    let response = try await call("a status request") {
      try await self.maintenance.status(Etcdserverpb_StatusRequest(), options: self.options)
    }
    return EtcdStatus(
      version: response.version, leader: response.leader, member: response.header.memberID,
      revision: response.header.revision, raftTerm: response.raftTerm)
  }

  func call<T: Sendable>(_ what: String, _ body: @Sendable () async throws -> T)
    async throws(EtcdError) -> T
  {
    do {
      return try await body()
    } catch let error as RPCError {
      throw .unavailable(
        endpoints: endpoints.map(\.description).joined(separator: ","), doing: what,
        reason: "\(error.code): \(error.message)" + (error.cause.map { " (\($0))" } ?? ""))
    } catch {
      throw .unavailable(
        endpoints: endpoints.map(\.description).joined(separator: ","), doing: what,
        reason: "\(error)")
    }
  }
}

/// An etcd member's client address.
public struct EtcdEndpoint: Sendable, Hashable, CustomStringConvertible {
  public var host: String
  public var port: Int
  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  /// Reads `http://HOST:PORT`, `https://HOST:PORT` or `HOST:PORT`.
  public init(parsing text: String) throws(EtcdError) {
    var rest = Substring(text)
    for scheme in ["http://", "https://"] where rest.hasPrefix(scheme) {
      rest = rest.dropFirst(scheme.count)
    }
    guard let colon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: colon)...]),
      (1...65535).contains(port), colon > rest.startIndex
    else { throw .badEndpoint(text) }
    host = String(rest[..<colon])
    self.port = port
  }

  public var description: String { "\(host):\(port)" }
}

/// The certificate and key this client presents, and the CA it trusts etcd's certificates by
/// (all PEM).
public struct EtcdTLS: Sendable {
  public var certificate: [UInt8]
  public var privateKey: [UInt8]
  public var trustRoots: [UInt8]
  public init(certificate: [UInt8], privateKey: [UInt8], trustRoots: [UInt8]) {
    self.certificate = certificate
    self.privateKey = privateKey
    self.trustRoots = trustRoots
  }
}

/// A key and its value as etcd holds them.
public struct EtcdEntry: Sendable, Equatable {
  public var key: [UInt8]
  public var value: [UInt8]
  /// The revision that created the key, and the one that last wrote it.
  public var createRevision: Int64
  public var modRevision: Int64

  init(_ kv: Mvccpb_KeyValue) {
    key = Array(kv.key)
    value = Array(kv.value)
    createRevision = kv.createRevision
    modRevision = kv.modRevision
  }

  public init(key: [UInt8], value: [UInt8], createRevision: Int64, modRevision: Int64) {
    self.key = key
    self.value = value
    self.createRevision = createRevision
    self.modRevision = modRevision
  }
}

/// What a member said of itself.
public struct EtcdStatus: Sendable {
  public var version: String
  public var leader: UInt64
  public var member: UInt64
  public var revision: Int64
  public var raftTerm: UInt64
}

/// Key helpers.
public enum EtcdKey {
  /// The smallest key after every key starting with `prefix` (etcd's range end for a prefix).
  public static func end(of prefix: [UInt8]) -> [UInt8] {
    var end = prefix
    while let last = end.last {
      if last < 0xFF {
        end[end.count - 1] = last + 1
        return end
      }
      end.removeLast()
    }
    return [0]  // every key
  }

  static func describe(_ key: [UInt8]) -> String {
    String(decoding: key.prefix(80), as: UTF8.self)
  }
}

/// What went wrong talking to etcd.
public enum EtcdError: Error, Sendable, CustomStringConvertible {
  /// No member answered in time, or the call failed.
  case unavailable(endpoints: String, doing: String, reason: String)
  /// The history before `revision` was compacted: a watch cannot start before it.
  case compacted(revision: Int64)
  /// A watch was cancelled by the member.
  case watchCancelled(reason: String)
  /// An endpoint that is not HOST:PORT.
  case badEndpoint(String)

  public var description: String {
    switch self {
    case .unavailable(let endpoints, let doing, let reason):
      "etcd at \(endpoints) did not complete \(doing): \(reason)"
    case .compacted(let revision):
      "etcd compacted its history up to revision \(revision): the log before it is gone"
    case .watchCancelled(let reason): "etcd cancelled a watch: \(reason)"
    case .badEndpoint(let text): "'\(text)' is not an etcd endpoint (HOST:PORT or http://HOST:PORT)"
    }
  }
}
