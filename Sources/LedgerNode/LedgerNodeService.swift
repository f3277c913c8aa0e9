import Etcd
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import NodeAPI
import ServiceLifecycle
import TransportIdentity

/// A ledger node process's long-running parts as one `Service`: its connections to etcd, its
/// ordering (retried with backoff while etcd is unreachable), and its gRPC server. A graceful
/// shutdown (SIGTERM) stops taking calls, lets the calls in flight end, and stops following
/// the log; what is stored stays stored.
public struct LedgerNodeService: Service {
  public let node: LedgerNode
  /// The node's part in the rounds (nil: it orders and serves only).
  public let driver: RoundDriver?
  let etcd: EtcdClient
  let server: GRPCServer<HTTP2ServerTransport.Posix>
  let logger: Logger

  /// A node serving on `host`:`port` (0: any free port) with `identity` as its certificate.
  public init(
    node: LedgerNode, etcd: EtcdClient, identity: TransportCertificate, host: String, port: Int,
    driver: RoundDriver? = nil, serving backend: (any NodeBackend)? = nil, logger: Logger
  ) {
    self.node = node
    self.driver = driver
    self.etcd = etcd
    self.logger = logger
    server = GRPCServer(
      transport: .http2NIOPosix(
        address: .ipv4(host: host, port: port),
        transportSecurity: PeerTLS.server(identity, peers: node.peers, logger: logger),
        config: .defaults { $0.rpc.maxRequestPayloadSize = 80 << 20 }),
      services: [nodeService(backend: backend ?? node, peers: node.peers)])
  }

  /// The port the server listens on, once it does.
  public var port: Int? {
    get async { try? await server.listeningAddress?.ipv4?.port }
  }

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await withThrowingDiscardingTaskGroup { group in
        group.addTask { try await etcd.run() }
        group.addTask {
          // Cancelled (another part failed): long-lived calls end too, so serving stops.
          try await withTaskCancellationHandler {
            try await server.serveGracefully()
          } onCancel: {
            node.stop()
          }
        }
        group.addTask {
          do {
            try await cancelWhenGracefulShutdown { try await follow() }
          } catch is CancellationError {
            // Shutting down: the log is followed again from what is stored on the next start.
          }
        }
        if let driver {
          group.addTask {
            do {
              try await cancelWhenGracefulShutdown { try await driver.run() }
            } catch is CancellationError {
              // Every step is decided from the ledger again on the next start.
            }
          }
        }
      }
    } onGracefulShutdown: {
      node.stop()
      server.beginGracefulShutdown()
      etcd.close()
    }
  }

  /// Follows the log until shut down, starting again (0.5 s, doubling to 10 s) whenever it
  /// stops: etcd unreachable, the watch ended, a block that could not be stored (a full disk:
  /// nothing half-written stays, and it goes on once there is space).
  private func follow() async throws {
    var delay = Duration.milliseconds(500)
    while !Task.isCancelled {
      do {
        try await node.orderer.run()
        logger.warning("\(node.name): the watch of the log ended; following it again in \(delay)")
      } catch is CancellationError {
        return
      } catch {
        logger.warning("\(node.name): \(error); following the log again in \(delay)")
      }
      try await Task.sleep(for: delay)
      delay = min(delay * 2, .seconds(10))
    }
  }
}
