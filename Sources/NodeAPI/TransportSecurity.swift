import GRPCNIOTransportHTTP2
import Logging
import NIOCore
import NIOSSL
import TransportIdentity

/// Mutual TLS between FedLedger peers with no certificate authority: each side presents its
/// `TransportCertificate`, and each accepts the other only if a key it knows vouches for it.
public enum PeerTLS {
  /// A node's server side: it takes callers `peers` knows, and refuses the rest at the
  /// handshake, logging who was refused and why.
  public static func server(
    _ identity: TransportCertificate, peers: PeerDirectory, logger: Logger
  ) -> HTTP2ServerTransport.Posix.TransportSecurity {
    .mTLS(
      certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
      privateKey: .bytes(Array(identity.privateKeyPEM.utf8), format: .pem)
    ) { tls in
      tls.requireALPN = true
      tls.customVerificationCallback = { certificates, promise in
        promise.succeed(
          check(certificates, logger: logger) { try peers.identify(der: $0, address: "") })
      }
    }
  }

  /// A client's side: it trusts a server only if `accept` says its vouching key is the one
  /// it meant to reach (a genesis node's).
  public static func client(
    _ identity: TransportCertificate, logger: Logger,
    accept: @escaping @Sendable ([UInt8]) throws -> Void
  ) -> HTTP2ClientTransport.Posix.TransportSecurity {
    .mTLS(
      certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
      privateKey: .bytes(Array(identity.privateKeyPEM.utf8), format: .pem)
    ) { tls in
      // The binding, not a host name, identifies the server.
      tls.serverCertificateVerification = .noHostnameVerification
      tls.customVerificationCallback = { certificates, promise in
        promise.succeed(check(certificates, logger: logger, accept))
      }
    }
  }

  private static func check<T>(
    _ certificates: [NIOSSLCertificate], logger: Logger, _ accept: ([UInt8]) throws -> T
  ) -> NIOSSLVerificationResultWithMetadata {
    guard let leaf = certificates.first, let der = try? leaf.toDERBytes() else {
      logger.warning("refused a TLS peer: it presented no readable certificate")
      return .failed
    }
    do {
      _ = try accept(der)
      return .certificateVerified(VerificationMetadata(nil))
    } catch {
      logger.warning("refused a TLS peer: \(error)")
      return .failed
    }
  }
}
