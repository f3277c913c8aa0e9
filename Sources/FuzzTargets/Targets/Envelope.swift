import Protection

extension FuzzTargets {
  /// A cluster's sealed update, as a node takes it from a submission or a peer's blob.
  static let envelope = FuzzTarget(
    "envelope", "UpdateEnvelope (canonical) from a submission or a peer's blob"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    try canonicalRoundTrip(UpdateEnvelope.self, input, target: "envelope") != nil
  }
}
