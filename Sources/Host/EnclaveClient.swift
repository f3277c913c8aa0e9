import Attestation
import EnclaveMessages
import Foundation
import Records

/// Why the host could not get an answer from its enclave.
public enum EnclaveHostError: Error, CustomStringConvertible {
  /// The path is not an executable enclave program.
  case notAProgram(path: String)
  case transport(node: String, String)
  case refused(node: String, request: String, String)
  case unexpected(node: String, request: String)
  /// The enclave aggregated the round as the ledger closed it and found too few updates pass
  /// for its minimum cohort.
  case tooFewUpdates(node: String, String)

  public var description: String {
    switch self {
    case .notAProgram(let path): "\(path): not an executable enclave program"
    case .transport(let node, let why): "the enclave of \(node): \(why)"
    case .refused(let node, let request, let why):
      "the enclave of \(node) refused \(request): \(why)"
    case .unexpected(let node, let request):
      "the enclave of \(node) answered \(request) with the wrong kind of response"
    case .tooFewUpdates(let node, let why):
      "the enclave of \(node): the round cannot commit: \(why)"
    }
  }
}

/// A node's host talking to its enclave: typed requests over a transport. `tap`, if set, sees
/// every frame in both directions (tests use it to check that no plaintext update passes).
///
/// One request at a time: callers on several threads (the round driver, the gRPC service
/// answering peers) take turns, so frames never interleave on the transport.
public final class EnclaveClient: @unchecked Sendable {
  public let node: String
  let transport: any EnclaveTransport
  public var tap: (@Sendable ([UInt8]) -> Void)?
  private let turn = NSLock()

  public init(node: String, transport: any EnclaveTransport) {
    self.node = node
    self.transport = transport
  }

  public func call(_ request: EnclaveRequest) throws -> EnclaveResponse {
    let bytes = request.canonicalBytes
    tap?(bytes)
    let answer: [UInt8]
    do {
      answer = try turn.withLock { try transport.exchange(bytes) }
    } catch {
      throw EnclaveHostError.transport(node: node, "\(error)")
    }
    tap?(answer)
    let response: EnclaveResponse
    do {
      response = try EnclaveResponse(canonical: answer)
    } catch {
      throw EnclaveHostError.transport(node: node, "unreadable response: \(error)")
    }
    if case .failure(let why) = response {
      throw EnclaveHostError.refused(node: node, request: request.name, why)
    }
    if case .tooFewUpdates(let why) = response {
      throw EnclaveHostError.tooFewUpdates(node: node, why)
    }
    return response
  }

  public func start(sealed: [UInt8]?, policy: EnclavePolicy) throws -> EnclaveInfo {
    guard case .info(let info) = try call(.start(sealed: sealed, policy: policy)) else {
      throw EnclaveHostError.unexpected(node: node, request: "start")
    }
    return info
  }

  public func createGroupKey() throws -> EnclaveInfo {
    guard case .info(let info) = try call(.createGroupKey) else {
      throw EnclaveHostError.unexpected(node: node, request: "create-group-key")
    }
    return info
  }

  public func challenge() throws -> [UInt8] {
    guard case .nonce(let n) = try call(.challenge) else {
      throw EnclaveHostError.unexpected(node: node, request: "challenge")
    }
    return n
  }

  public func evidence(nonce: [UInt8]) throws -> EnclaveEvidence {
    guard case .evidence(let e) = try call(.evidence(nonce: nonce)) else {
      throw EnclaveHostError.unexpected(node: node, request: "evidence")
    }
    return e
  }

  /// This enclave's grant of the group key to a joining enclave whose `evidence` answers this
  /// enclave's last challenge (checked inside the enclave against the policy).
  public func admit(evidence: EnclaveEvidence, joinerChallenge: [UInt8], network: [UInt8])
    throws -> GroupKeyGrant
  {
    guard
      case .grant(let grant) = try call(
        .admit(joiner: evidence, joinerChallenge: joinerChallenge, network: network))
    else { throw EnclaveHostError.unexpected(node: node, request: "admit") }
    return grant
  }

  /// Takes the group key from an admitting enclave's `grant`.
  public func accept(_ grant: GroupKeyGrant, network: [UInt8]) throws -> EnclaveInfo {
    guard case .info(let info) = try call(.accept(grant: grant, network: network)) else {
      throw EnclaveHostError.unexpected(node: node, request: "accept")
    }
    return info
  }

  /// Brings `joiner` into the group: mutual attestation, then the key grant.
  public func admit(_ joiner: EnclaveClient, network: [UInt8]) throws {
    let mine = try challenge()
    let theirs = try joiner.challenge()
    let evidence = try joiner.evidence(nonce: mine)
    guard
      case .grant(let grant) = try call(
        .admit(joiner: evidence, joinerChallenge: theirs, network: network))
    else { throw EnclaveHostError.unexpected(node: node, request: "admit") }
    guard case .info = try joiner.call(.accept(grant: grant, network: network)) else {
      throw EnclaveHostError.unexpected(node: joiner.node, request: "accept")
    }
  }

  /// Gives the enclave Intel's DCAP collateral for checking SGX evidence.
  public func supply(_ collateral: Collateral) throws -> EnclaveInfo {
    guard case .info(let info) = try call(.collateral(collateral)) else {
      throw EnclaveHostError.unexpected(node: node, request: "collateral")
    }
    return info
  }

  public func aggregate(_ request: AggregateRequest) throws -> AggregateResponse {
    guard case .aggregated(let r) = try call(.aggregate(request)) else {
      throw EnclaveHostError.unexpected(node: node, request: "aggregate")
    }
    return r
  }

  public func combine(_ request: CombineRequest) throws -> AggregateResponse {
    guard case .combined(let r) = try call(.combine(request)) else {
      throw EnclaveHostError.unexpected(node: node, request: "combine")
    }
    return r
  }

  /// The model of the round this enclave last aggregated, against the proof of its commit.
  public func release(_ proof: InclusionProof) throws -> [UInt8] {
    guard case .model(let file) = try call(.release(proof)) else {
      throw EnclaveHostError.unexpected(node: node, request: "release")
    }
    return file
  }

  public func seal() throws -> [UInt8] {
    guard case .sealed(let s) = try call(.seal) else {
      throw EnclaveHostError.unexpected(node: node, request: "seal")
    }
    return s
  }

  public func close() { transport.close() }
}
