/// Why an enclave refused a request. Each says what failed, never what a secret holds.
public enum EnclaveError: Error, Equatable, CustomStringConvertible {
  case evidence(String)
  /// The platform cannot give what the enclave needs (no quote, no /dev/attestation).
  case platform(String)
  case groupKey(String)
  case sealed(String)
  case request(String)
  /// The round's updates are as the ledger closed them, but too few pass validation and the
  /// rule for its minimum cohort: it cannot commit, and every enclave says the same.
  case tooFewUpdates(String)

  public var description: String {
    switch self {
    case .evidence(let why): "attestation refused: \(why)"
    case .platform(let why): "platform: \(why)"
    case .groupKey(let why): "group key: \(why)"
    case .sealed(let why): "sealed state: \(why)"
    case .request(let why): "request refused: \(why)"
    case .tooFewUpdates(let why): "the round cannot commit: \(why)"
    }
  }
}
