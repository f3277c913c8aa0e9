/// Why an enclave refused a request. Each says what failed, never what a secret holds.
public enum EnclaveError: Error, Equatable, CustomStringConvertible {
  case evidence(String)
  /// The platform cannot give what the enclave needs (no quote, no /dev/attestation).
  case platform(String)
  case groupKey(String)
  case sealed(String)
  /// A request other than start before start, or start twice.
  case outOfOrder(request: String)
  /// The round the host gave is not the one the ledger proves (its close or open, the group
  /// key the open names, the base model, the envelopes or their order).
  case notTheProvenRound(String)
  /// The round is before the last this enclave endorsed, or it endorsed another statement for
  /// it: it endorses a round once.
  case alreadyEndorsed(String)
  /// The round closed with fewer updates than its minimum cohort, or more than its capacity.
  case cohort(String)
  /// The fixed-point aggregation failed (sizes out of its range).
  case aggregation(String)
  /// The base model's file is not one the enclave can read.
  case baseModel(String)
  /// A release without the ledger's proof of a commit of this enclave's model.
  case notCommitted(String)
  /// An SGX enclave asked to endorse before the host sent DCAP collateral.
  case noCollateral
  /// The round's updates are as the ledger closed them, but too few pass validation and the
  /// rule for its minimum cohort: it cannot commit, and every enclave says the same.
  case tooFewUpdates(String)

  public var description: String {
    switch self {
    case .evidence(let why): "attestation refused: \(why)"
    case .platform(let why): "platform: \(why)"
    case .groupKey(let why): "group key: \(why)"
    case .sealed(let why): "sealed state: \(why)"
    case .outOfOrder(let request):
      request == "start"
        ? "request refused: the enclave has already started"
        : "request refused: \(request) before start"
    case .notTheProvenRound(let why), .alreadyEndorsed(let why), .cohort(let why),
      .aggregation(let why), .notCommitted(let why):
      "request refused: \(why)"
    case .baseModel(let why): "request refused: the base model file \(why)"
    case .noCollateral:
      "request refused: an SGX enclave endorses only with DCAP collateral: send it first"
    case .tooFewUpdates(let why): "the round cannot commit: \(why)"
    }
  }
}
