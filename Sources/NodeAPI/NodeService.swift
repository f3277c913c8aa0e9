import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import Records
import TransportIdentity
import X509

/// The gRPC face of a ledger node, to register with a `GRPCServer`: it checks who calls
/// (`PeerDirectory`), bounds what it takes, and hands the rest to `backend`.
public func nodeService(
  backend: any NodeBackend, peers: PeerDirectory, maximumTransactionBytes: Int = 1 << 20,
  maximumBlobBytes: Int = 64 << 20
) -> any RegistrableRPCService {
  NodeService(
    backend: backend, peers: peers, maximumTransactionBytes: maximumTransactionBytes,
    maximumBlobBytes: maximumBlobBytes)
}

struct NodeService: Fedledger_V1_Node.SimpleServiceProtocol {
  let backend: any NodeBackend
  let peers: PeerDirectory
  /// The largest transaction and blob a call may carry.
  let maximumTransactionBytes: Int
  let maximumBlobBytes: Int

  func peer(_ context: ServerContext) throws -> Peer {
    guard let tls = context.transportSpecific as? HTTP2ServerTransport.Posix.Context,
      let certificate = tls.peerCertificate
    else {
      throw RPCError(code: .unauthenticated, message: "a client certificate is required")
    }
    do {
      return try peers.identify(certificate, address: context.remotePeer)
    } catch {
      throw RPCError(code: .permissionDenied, message: "\(error)")
    }
  }

  func status(request: Fedledger_V1_StatusRequest, context: ServerContext) async throws
    -> Fedledger_V1_StatusResponse
  {
    _ = try peer(context)
    let s = await backend.status()
    var r = Fedledger_V1_StatusResponse()
    r.node = s.node
    r.network = Data(s.network.bytes)
    r.hasBlocks_p = s.height != nil
    r.height = s.height ?? 0
    r.head = Data(s.head.bytes)
    r.round = s.round
    r.enrolledClusters = UInt64(s.enrolledClusters)
    r.ordering = s.ordering
    return r
  }

  func submit(request: Fedledger_V1_SubmitRequest, context: ServerContext) async throws
    -> Fedledger_V1_SubmitResponse
  {
    let from = try peer(context)
    guard !request.transaction.isEmpty, request.transaction.count <= maximumTransactionBytes else {
      throw RPCError(
        code: .invalidArgument,
        message:
          "a transaction is 1 to \(maximumTransactionBytes) bytes; this one is \(request.transaction.count)"
      )
    }
    guard request.blob.count <= maximumBlobBytes else {
      throw RPCError(
        code: .resourceExhausted,
        message: "a blob is at most \(maximumBlobBytes) bytes; this one is \(request.blob.count)")
    }
    var r = Fedledger_V1_SubmitResponse()
    do {
      r.appended = try await backend.submit(
        transaction: Array(request.transaction),
        blob: request.blob.isEmpty ? nil : Array(request.blob), from: from)
    } catch let error as RPCError {
      throw error
    } catch {
      // The caller learns why: a refused transaction says what the ledger found.
      throw RPCError(code: .failedPrecondition, message: "\(error)")
    }
    return r
  }

  func block(request: Fedledger_V1_BlockRequest, context: ServerContext) async throws
    -> Fedledger_V1_BlockResponse
  {
    _ = try peer(context)
    guard let block = try await backend.block(at: request.height) else {
      throw RPCError(code: .notFound, message: "no block at height \(request.height) here")
    }
    return Self.message(block)
  }

  func blob(request: Fedledger_V1_BlobRequest, context: ServerContext) async throws
    -> Fedledger_V1_BlobResponse
  {
    _ = try peer(context)
    guard let hash = Hash256(bytes: Array(request.hash)) else {
      throw RPCError(code: .invalidArgument, message: "a blob is named by 32 bytes of SHA-256")
    }
    guard let blob = try await backend.blob(hash) else {
      throw RPCError(code: .notFound, message: "no blob \(hash.short) here")
    }
    var r = Fedledger_V1_BlobResponse()
    r.blob = Data(blob)
    return r
  }

  func hold(request: Fedledger_V1_HoldRequest, context: ServerContext) async throws
    -> Fedledger_V1_HoldResponse
  {
    try nodeOnly(context)
    let from = try peer(context)
    guard !request.transaction.isEmpty, request.transaction.count <= maximumTransactionBytes,
      !request.blob.isEmpty, request.blob.count <= maximumBlobBytes
    else {
      throw RPCError(
        code: .invalidArgument,
        message:
          "a payload to hold is 1 to \(maximumBlobBytes) bytes with a transaction of 1 to \(maximumTransactionBytes)"
      )
    }
    do {
      try await backend.hold(
        transaction: Array(request.transaction), blob: Array(request.blob), from: from)
    } catch let error as RPCError {
      throw error
    } catch {
      throw RPCError(code: .failedPrecondition, message: "\(error)")
    }
    return Fedledger_V1_HoldResponse()
  }

  func receipt(request: Fedledger_V1_ReceiptRequest, context: ServerContext) async throws
    -> Fedledger_V1_ReceiptResponse
  {
    _ = try peer(context)
    guard let receipt = try await backend.receipt(round: request.round) else {
      throw RPCError(code: .notFound, message: "no model committed in round \(request.round) here")
    }
    var r = Fedledger_V1_ReceiptResponse()
    r.receipt = Data(receipt)
    return r
  }

  func enclaveEvidence(
    request: Fedledger_V1_EnclaveEvidenceRequest, context: ServerContext
  ) async throws -> Fedledger_V1_EnclaveEvidenceResponse {
    _ = try peer(context)
    guard (16...64).contains(request.nonce.count) else {
      throw RPCError(code: .invalidArgument, message: "a nonce is 16 to 64 bytes")
    }
    guard let evidence = try await backend.enclaveEvidence(nonce: Array(request.nonce)) else {
      throw RPCError(code: .unimplemented, message: "this node runs no enclave")
    }
    var r = Fedledger_V1_EnclaveEvidenceResponse()
    r.evidence = Data(evidence)
    return r
  }

  func enclaveChallenge(
    request: Fedledger_V1_EnclaveChallengeRequest, context: ServerContext
  ) async throws -> Fedledger_V1_EnclaveChallengeResponse {
    try nodeOnly(context)
    guard let nonce = try await backend.enclaveChallenge() else {
      throw RPCError(code: .unimplemented, message: "this node runs no enclave")
    }
    var r = Fedledger_V1_EnclaveChallengeResponse()
    r.nonce = Data(nonce)
    return r
  }

  func enclaveAdmit(
    request: Fedledger_V1_EnclaveAdmitRequest, context: ServerContext
  ) async throws -> Fedledger_V1_EnclaveAdmitResponse {
    try nodeOnly(context)
    guard request.evidence.count <= maximumTransactionBytes, request.challenge.count <= 64 else {
      throw RPCError(code: .invalidArgument, message: "evidence or challenge too large")
    }
    let grant: [UInt8]?
    do {
      grant = try await backend.enclaveAdmit(
        evidence: Array(request.evidence), challenge: Array(request.challenge))
    } catch {
      throw RPCError(code: .failedPrecondition, message: "\(error)")
    }
    guard let grant else {
      throw RPCError(code: .unimplemented, message: "this node runs no enclave")
    }
    var r = Fedledger_V1_EnclaveAdmitResponse()
    r.grant = Data(grant)
    return r
  }

  /// Only genesis nodes may ask for what admits an enclave into the group.
  private func nodeOnly(_ context: ServerContext) throws {
    let caller = try peer(context)
    guard caller.role == .node else {
      throw RPCError(
        code: .permissionDenied, message: "\(caller) is not a node: only nodes admit enclaves")
    }
  }

  func blocks(
    request: Fedledger_V1_BlocksRequest, response: RPCWriter<Fedledger_V1_BlockResponse>,
    context: ServerContext
  ) async throws {
    _ = try peer(context)
    // Attack: a height at the top of UInt64 must not overflow (a trap would end the node).
    let (after, overflow) = request.afterHeight.addingReportingOverflow(1)
    guard request.fromStart || !overflow else {
      throw RPCError(code: .invalidArgument, message: "no block follows height \(UInt64.max)")
    }
    var next: UInt64? = request.fromStart ? 0 : after
    // Ends when the caller goes away or the node shuts down (a stream would otherwise keep a
    // graceful shutdown waiting for ever).
    while !Task.isCancelled && !context.cancellation.isCancelled && !backend.isStopping {
      let top = await backend.height()
      if let top, let n = next, n <= top {
        for h in n...top {
          guard let block = try await backend.block(at: h) else { break }
          try await response.write(Self.message(block))
        }
        next = top + 1
      }
      await backend.waitForBlock(after: top, timeout: .seconds(1))
    }
  }

  static func message(_ block: WireBlock) -> Fedledger_V1_BlockResponse {
    var r = Fedledger_V1_BlockResponse()
    r.height = block.height
    r.header = Data(block.header)
    r.transactions = block.transactions.map { Data($0) }
    r.signatures = Data(block.signatures)
    r.valid = block.valid
    return r
  }
}
