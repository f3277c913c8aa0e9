import Enclave
import EnclaveMessages

extension FuzzTargets {
  /// What a host can send its enclave: a sequence of request frames to a fresh enclave on the
  /// fixture's simulated platform. Whatever comes in, each answer must be a response the host
  /// can read.
  static let enclaveFrames = FuzzTarget(
    "enclave-frames", "EnclaveRequest frames, in sequence, to a fresh simulated enclave"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let frames = parts(input) else { return false }
    let service = freshEnclave()
    var answered = false
    for f in frames where try answer(service, f, target: "enclave-frames") { answered = true }
    return answered
  }

  /// One request to an enclave started from the fixture network's sealed state (it holds the
  /// group key), as its host can send at any time.
  static let enclaveRequest = FuzzTarget(
    "enclave-request", "one EnclaveRequest to an enclave started from the fixture's sealed state"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    let service = freshEnclave()
    let started = service.handle(
      EnclaveRequest.start(
        sealed: FuzzFixtures.sealed, policy: FuzzFixtures.genesis.enclavePolicy()
      )
      .canonicalBytes)
    guard case .info? = try? EnclaveResponse(canonical: started) else {
      fatalError(
        "the enclave does not start from Fuzz/fixtures/sealed.bin: make the fixtures again")
    }
    return try answer(service, input, target: "enclave-request")
  }

  private static func freshEnclave() -> EnclaveService {
    guard let platform = try? SimulatedPlatform(secret: FuzzFixtures.platformSecret) else {
      fatalError("Fuzz/fixtures/platform.key is not a simulated platform's secret")
    }
    return EnclaveService(
      measurement: FuzzFixtures.genesis.enclaveMeasurements.first?.bytes ?? [], platform: platform)
  }

  /// Hands `frame` to `service`; true when the frame was a request (got past the decoder),
  /// whatever the enclave made of it.
  private static func answer(_ service: EnclaveService, _ frame: [UInt8], target: String)
    throws(FuzzFinding) -> Bool
  {
    guard (try? EnclaveResponse(canonical: service.handle(frame))) != nil else {
      throw FuzzFinding(target: target, problem: "the enclave answered bytes the host cannot read")
    }
    return (try? EnclaveRequest(canonical: frame)) != nil
  }
}
