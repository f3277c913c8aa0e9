import GRPCCore
import Records

/// What a ledger node answers over the network, apart from the transport: `NodeService`
/// serves any backend, and tests or other deployments can supply their own.
public protocol NodeBackend: Sendable {
  func status() async -> NodeStatus
  /// Orders `transaction` (canonical bytes), keeping `blob` first if the transaction commits
  /// to one; `peer` is who sent it. False when the ledger already holds the bytes.
  func submit(transaction: [UInt8], blob: [UInt8]?, from peer: Peer) async throws -> Bool
  func block(at height: UInt64) async throws -> WireBlock?
  func blob(_ hash: Hash256) async throws -> [UInt8]?
  /// Keeps `blob`, which the commitment `transaction` names and a peer node is about to
  /// order (`peer` is that node).
  func hold(transaction: [UInt8], blob: [UInt8], from peer: Peer) async throws
  /// The receipt (JSON) of the model committed in `round`; nil if none is.
  func receipt(round: UInt64) async throws -> [UInt8]?
  /// The node's enclave (privacy tee) as its peers reach it: evidence for a nonce, a fresh
  /// challenge, the admission of a joining enclave (canonical bytes in and out); nil where the
  /// node runs no enclave.
  func enclaveEvidence(nonce: [UInt8]) async throws -> [UInt8]?
  func enclaveChallenge() async throws -> [UInt8]?
  func enclaveAdmit(evidence: [UInt8], challenge: [UInt8]) async throws -> [UInt8]?
  /// The newest stored height (nil before the genesis block).
  func height() async -> UInt64?
  /// Waits until a block above `height` is stored, at most `timeout`.
  func waitForBlock(after height: UInt64?, timeout: Duration) async
  /// True once the node is shutting down: long-lived calls end.
  var isStopping: Bool { get }
}

extension NodeBackend {
  public func hold(transaction: [UInt8], blob: [UInt8], from peer: Peer) async throws {
    throw RPCError(code: .unimplemented, message: "this node keeps no payloads for its peers")
  }
  public func enclaveEvidence(nonce: [UInt8]) async throws -> [UInt8]? { nil }
  public func enclaveChallenge() async throws -> [UInt8]? { nil }
  public func enclaveAdmit(evidence: [UInt8], challenge: [UInt8]) async throws -> [UInt8]? {
    nil
  }
}

/// A node's view of itself.
public struct NodeStatus: Sendable, Equatable {
  public var node: String
  public var network: Hash256
  public var height: UInt64?
  public var head: Hash256
  public var round: UInt64
  public var enrolledClusters: Int
  public var ordering: String

  public init(
    node: String, network: Hash256, height: UInt64?, head: Hash256, round: UInt64,
    enrolledClusters: Int, ordering: String
  ) {
    self.node = node
    self.network = network
    self.height = height
    self.head = head
    self.round = round
    self.enrolledClusters = enrolledClusters
    self.ordering = ordering
  }
}

/// A stored block as it travels: canonical parts and the sender's verdicts.
public struct WireBlock: Sendable, Equatable {
  public var height: UInt64
  public var header: [UInt8]
  public var transactions: [[UInt8]]
  public var signatures: [UInt8]
  public var valid: [Bool]

  public init(
    height: UInt64, header: [UInt8], transactions: [[UInt8]], signatures: [UInt8], valid: [Bool]
  ) {
    self.height = height
    self.header = header
    self.transactions = transactions
    self.signatures = signatures
    self.valid = valid
  }
}

/// Who is on the other end of a call: the ledger key its TLS certificate is vouched for by,
/// and what genesis or the ledger says that key is.
public struct Peer: Sendable, Equatable, CustomStringConvertible {
  public enum Role: String, Sendable { case node, member, cluster }
  public var key: PublicKey
  public var role: Role
  public var name: String
  public var address: String

  public init(key: PublicKey, role: Role, name: String, address: String) {
    self.key = key
    self.role = role
    self.name = name
    self.address = address
  }

  public var description: String { "\(role.rawValue) \(name) (\(address))" }
}
