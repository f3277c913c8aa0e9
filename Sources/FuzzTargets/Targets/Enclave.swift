import Enclave
import EnclaveMessages

extension FuzzTargets {
  /// What a host can send its enclave: a sequence of request frames to a fresh enclave on the
  /// fixture's simulated platform. Whatever comes in, each answer must be a response the host
  /// can read.
  static let enclave = FuzzTarget(
    "enclave", "EnclaveRequest frames, in sequence, to a fresh simulated enclave"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let frames = parts(input),
      let platform = try? SimulatedPlatform(secret: FuzzFixtures.platformSecret)
    else {
      return false
    }
    let service = EnclaveService(
      measurement: FuzzFixtures.genesis.enclaveMeasurements.first?.bytes ?? [], platform: platform)
    var answered = false
    for f in frames {
      let answer = service.handle(f)
      guard let response = try? EnclaveResponse(canonical: answer) else {
        throw FuzzFinding(
          target: "enclave", problem: "the enclave answered bytes the host cannot read")
      }
      if case .failure = response { continue }
      answered = true
    }
    return answered
  }
}
