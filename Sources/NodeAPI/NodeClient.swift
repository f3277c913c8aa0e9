import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Logging
import Records
import TransportIdentity

/// A client of one ledger node, over mutual TLS: it checks that the server's certificate is
/// vouched for by one of `expected` (genesis nodes' keys) in `network` before it sends anything.
public final class NodeClient: Sendable {
  let grpc: GRPCClient<HTTP2ClientTransport.Posix>
  let node: Fedledger_V1_Node.Client<HTTP2ClientTransport.Posix>
  public let address: String
  public let timeout: Duration

  public init(
    host: String, port: Int, identity: TransportCertificate, network: Hash256,
    expected: Set<PublicKey>,
    logger: Logger = Logger(label: "fedledger.client"), timeout: Duration = .seconds(10),
    maximumMessageBytes: Int = 64 << 20
  ) throws {
    address = "\(host):\(port)"
    self.timeout = timeout
    let security = PeerTLS.client(identity, logger: logger) { der in
      let key = try TransportCertificate.vouchingKey(ofDER: der, network: network)
      guard expected.contains(key) else {
        throw TransportIdentityError.unknownKey(
          subject: "the node at \(host):\(port)", key: key, expected: "the node's genesis key")
      }
    }
    grpc = GRPCClient(
      transport: try .http2NIOPosix(
        target: .ipv4(address: host, port: port), transportSecurity: security))
    node = .init(wrapping: grpc)
    self.maximumMessageBytes = maximumMessageBytes
  }

  let maximumMessageBytes: Int

  /// Keeps the connection until `close()`; run it in a task of its own.
  public func run() async throws { try await grpc.runConnections() }
  public func close() { grpc.beginGracefulShutdown() }

  var options: CallOptions {
    var o = CallOptions.defaults
    o.timeout = timeout
    o.maxRequestMessageBytes = maximumMessageBytes
    o.maxResponseMessageBytes = maximumMessageBytes
    return o
  }

  public func status() async throws -> NodeStatus {
    let r = try await node.status(Fedledger_V1_StatusRequest(), options: options)
    return NodeStatus(
      node: r.node, network: Hash256(bytes: Array(r.network)) ?? .zero,
      height: r.hasBlocks_p ? r.height : nil, head: Hash256(bytes: Array(r.head)) ?? .zero,
      round: r.round, enrolledClusters: Int(r.enrolledClusters), ordering: r.ordering)
  }

  /// Orders a transaction through this node; false when the log already held it.
  @discardableResult
  public func submit(_ transaction: [UInt8], blob: [UInt8]? = nil) async throws -> Bool {
    var request = Fedledger_V1_SubmitRequest()
    request.transaction = Data(transaction)
    if let blob { request.blob = Data(blob) }
    return try await node.submit(request, options: options).appended
  }

  public func block(at height: UInt64) async throws -> WireBlock {
    var request = Fedledger_V1_BlockRequest()
    request.height = height
    return try Self.wireBlock(try await node.block(request, options: options), from: address)
  }

  /// A block as the node sent it, with one verdict per transaction (the caller indexes one by
  /// the other; a node sending otherwise is refused, not trusted to be consistent).
  package static func wireBlock(_ r: Fedledger_V1_BlockResponse, from address: String) throws
    -> WireBlock
  {
    guard r.valid.count == r.transactions.count else {
      throw RPCError(
        code: .dataLoss,
        message:
          "the node at \(address) sent block \(r.height) with \(r.transactions.count) transactions and \(r.valid.count) verdicts"
      )
    }
    return WireBlock(
      height: r.height, header: Array(r.header), transactions: r.transactions.map { Array($0) },
      signatures: Array(r.signatures), valid: r.valid)
  }

  /// Calls `handle` with each block the node stores after `height` (nil: from the first),
  /// until `handle` returns false.
  public func blocks(after height: UInt64?, _ handle: @escaping @Sendable (WireBlock) -> Bool)
    async throws
  {
    var request = Fedledger_V1_BlocksRequest()
    request.fromStart = height == nil
    request.afterHeight = height ?? 0
    var o = options
    o.timeout = nil
    try await node.blocks(request, options: o) { response in
      for try await r in response.messages {
        if !handle(try Self.wireBlock(r, from: self.address)) { return }
      }
    }
  }

  /// The receipt (JSON) of the model committed in `round`, as the node sends it: the caller
  /// checks it against genesis.
  public func receipt(round: UInt64) async throws -> [UInt8] {
    var request = Fedledger_V1_ReceiptRequest()
    request.round = round
    return Array(try await node.receipt(request, options: options).receipt)
  }

  /// The node's enclave's evidence for `nonce` (canonical bytes; the caller checks them).
  public func enclaveEvidence(nonce: [UInt8]) async throws -> [UInt8] {
    var request = Fedledger_V1_EnclaveEvidenceRequest()
    request.nonce = Data(nonce)
    return Array(try await node.enclaveEvidence(request, options: options).evidence)
  }

  /// A fresh challenge from the node's enclave.
  public func enclaveChallenge() async throws -> [UInt8] {
    Array(
      try await node.enclaveChallenge(Fedledger_V1_EnclaveChallengeRequest(), options: options)
        .nonce)
  }

  /// The group key grant for a joining enclave, from the node's enclave.
  public func enclaveAdmit(evidence: [UInt8], challenge: [UInt8]) async throws -> [UInt8] {
    var request = Fedledger_V1_EnclaveAdmitRequest()
    request.evidence = Data(evidence)
    request.challenge = Data(challenge)
    return Array(try await node.enclaveAdmit(request, options: options).grant)
  }

  /// Asks the node (a peer; nodes only) to keep `blob`, which the commitment `transaction`
  /// names, before this node orders it.
  public func hold(transaction: [UInt8], blob: [UInt8]) async throws {
    var request = Fedledger_V1_HoldRequest()
    request.transaction = Data(transaction)
    request.blob = Data(blob)
    _ = try await node.hold(request, options: options)
  }

  /// The blob named `hash`, checked against it; an answer larger than `atMost` bytes (plus
  /// the message's framing) is refused before it is read whole.
  public func blob(_ hash: Hash256, atMost: Int? = nil) async throws -> [UInt8] {
    var request = Fedledger_V1_BlobRequest()
    request.hash = Data(hash.bytes)
    var o = options
    if let atMost { o.maxResponseMessageBytes = min(maximumMessageBytes, atMost + 64) }
    let bytes = Array(try await node.blob(request, options: o).blob)
    guard Hash256.of(bytes) == hash else {
      throw RPCError(
        code: .dataLoss, message: "the node at \(address) sent a blob that is not \(hash.short)")
    }
    return bytes
  }
}
