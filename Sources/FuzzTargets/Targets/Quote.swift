import Attestation

extension FuzzTargets {
  /// An SGX quote as evidence carries it, verified against Intel's real collateral: the quote
  /// layout, the PCK chain in its certification data, the signatures, the TCB levels.
  static let quote = FuzzTarget(
    "quote", "SGX DCAP quote, parsed and verified against the fixture's real collateral"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let q = try? SGXQuote(input) else { return false }
    _ = try? DCAPVerifier(policy: FuzzFixtures.permissive).verifyWaiting(
      q, collateral: FuzzFixtures.collateral, at: FuzzFixtures.dcapTime)
    return true
  }
}
