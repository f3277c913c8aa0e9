import Canonical
import EnclaveMessages

/// The enclave side of the protocol: decodes a request, runs it, encodes the response. The
/// `fedledger-enclave` program wraps it in a loop over stdin and stdout; `simulate` may call it
/// in process, through the same bytes.
public final class EnclaveService {
  public let measurement: [UInt8]
  let platform: any EnclavePlatform
  public private(set) var enclave: Enclave?
  /// `simulated` (NO HARDWARE PROTECTION) or `sgx`.
  public var backend: EnclaveBackend { platform.backend }

  public init(measurement: [UInt8], platform: any EnclavePlatform) {
    self.measurement = measurement
    self.platform = platform
  }

  /// Answers one request frame body with one response frame body.
  public func handle(_ body: [UInt8]) -> [UInt8] {
    let response: EnclaveResponse
    do {
      let request = try EnclaveRequest(canonical: body)
      response = try run(request)
    } catch EnclaveError.tooFewUpdates(let why) {
      response = .tooFewUpdates(why)
    } catch let error as EnclaveError {
      response = .failure("\(error)")
    } catch {
      response = .failure("malformed request: \(error)")
    }
    return response.canonicalBytes
  }

  func run(_ request: EnclaveRequest) throws(EnclaveError) -> EnclaveResponse {
    if case .start(let sealed, let policy) = request {
      guard enclave == nil else { throw .outOfOrder(request: "start") }
      let e =
        if let sealed {
          try Enclave(
            unsealing: sealed, measurement: measurement, platform: platform, policy: policy)
        } else {
          Enclave(measurement: measurement, platform: platform, policy: policy)
        }
      enclave = e
      return .info(info(e))
    }
    guard let e = enclave else { throw .outOfOrder(request: request.name) }
    switch request {
    case .start: fatalError("handled above")
    case .createGroupKey:
      try e.createGroupKey()
      return .info(info(e))
    case .challenge: return .nonce(e.challenge())
    case .evidence(let nonce): return .evidence(try e.evidence(nonce: nonce))
    case .admit(let joiner, let challenge, let network):
      return .grant(try e.admit(joiner, joinerChallenge: challenge, network: network))
    case .accept(let grant, let network):
      try e.accept(grant, network: network)
      return .info(info(e))
    case .aggregate(let request): return .aggregated(try e.aggregate(request))
    case .seal: return .sealed(try e.seal())
    case .collateral(let collateral):
      try e.supply(collateral)
      return .info(info(e))
    case .release(let proof): return .model(try e.release(proof))
    case .combine(let request): return .combined(try e.combine(request))
    }
  }

  private func info(_ e: Enclave) -> EnclaveInfo {
    EnclaveInfo(
      backend: backend, measurement: measurement, signingKey: e.signingPublicKey,
      groupKey: e.groupPublicKey, lastEndorsedRound: e.lastEndorsedRound)
  }
}
