import Foundation
import Records
import TransportIdentity
import X509

/// Who may call a node, by the ledger key that vouches for their TLS certificate: genesis's
/// nodes and members, and the clusters enrolled on the ledger so far (the node adds each as
/// its block is stored).
public final class PeerDirectory: Sendable {
  private let lock = NSLock()
  private nonisolated(unsafe) var roles: [PublicKey: (Peer.Role, String)] = [:]
  /// Certificates whose binding verified, with the key that vouches for each: every call
  /// names its caller's certificate, and the binding is checked once (the expiry each time).
  private nonisolated(unsafe) var vouched: [Certificate: PublicKey] = [:]
  /// The network whose certificates count (a binding names its network).
  public let network: Hash256

  public init(
    network: Hash256, nodes: [(name: String, key: PublicKey)],
    members: [(name: String, key: PublicKey)]
  ) {
    self.network = network
    for m in members { roles[m.key] = (.member, m.name) }
    for n in nodes { roles[n.key] = (.node, n.name) }
  }

  /// Lets an enrolled cluster call.
  public func enrol(cluster name: String, key: PublicKey) {
    lock.withLock { roles[key] = roles[key] ?? (.cluster, name) }
  }

  /// The peer whose certificate this is, or why it is no one this node serves.
  public func identify(_ certificate: Certificate, address: String, at now: Date = Date())
    throws(TransportIdentityError) -> Peer
  {
    let key: PublicKey
    let cached = lock.withLock { vouched[certificate] }
    if let cached {
      guard certificate.notValidBefore <= now, now <= certificate.notValidAfter else {
        throw .expired(subject: "\(certificate.subject)")
      }
      key = cached
    } else {
      key = try TransportCertificate.vouchingKey(of: certificate, network: network, at: now)
    }
    guard let (role, name) = lock.withLock({ roles[key] }) else {
      throw .unknownKey(
        subject: "\(certificate.subject)", key: key,
        expected: "a genesis node's or member's key, or an enrolled cluster's")
    }
    // Only certificates of someone this node serves are kept: a stranger's, however many,
    // take no room.
    if cached == nil {
      lock.withLock {
        if vouched.count >= 10_000 { vouched = [:] }
        vouched[certificate] = key
      }
    }
    return Peer(key: key, role: role, name: name, address: address)
  }

  /// As `identify`, from the DER bytes a TLS handshake presents.
  public func identify(der: [UInt8], address: String) throws(TransportIdentityError) -> Peer {
    let certificate: Certificate
    do {
      certificate = try Certificate(derEncoded: der)
    } catch {
      throw .unreadable("\(error)")
    }
    return try identify(certificate, address: address)
  }
}
