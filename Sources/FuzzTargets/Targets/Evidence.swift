import Attestation
import Ledger

extension FuzzTargets {
  /// An enclave's evidence with its collateral, as a cluster gets it from a node and a
  /// joining enclave's host relays it: decoded, then verified under the fixture genesis's
  /// policy for a fixed nonce.
  static let evidence = FuzzTarget(
    "evidence", "CollateralizedEvidence (canonical), verified under the genesis policy"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let e = try? canonicalRoundTrip(CollateralizedEvidence.self, input, target: "evidence")
    else { return false }
    _ = try? e.evidence.verify(
      nonce: FuzzFixtures.nonce, policy: FuzzFixtures.genesis.enclavePolicy(),
      collateral: e.collateral, at: FuzzFixtures.dcapTime)
    return true
  }
}
