import Protection
import UpdateSealing

extension FuzzTargets {
  /// What an enclave reads once it opened an envelope: a cluster controls every byte.
  static let payload = FuzzTarget(
    "payload", "UpdatePayload, the opened update an enclave reads"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let p = try? UpdatePayload(decoding: input) else { return false }
    guard p.encode() == input else {
      throw FuzzFinding(target: "payload", problem: "an accepted payload re-encodes differently")
    }
    return true
  }
}
