import Attestation
import CollateralFiles

extension FuzzTargets {
  /// Intel's collateral: the first byte picks PCCS JSON (what a host reads from disk or a
  /// PCCS, with its DER CRLs and PEM chains) or the canonical form (what an enclave gets
  /// from its host); either is then checked as an enclave checks it.
  static let collateral = FuzzTarget(
    "collateral", "DCAP collateral: PCCS JSON (first byte even) or canonical (odd), then checked"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let selector = input.first else { return false }
    let rest = Array(input.dropFirst())
    let c: Collateral
    if selector % 2 == 0 {
      guard let parsed = try? Collateral.pccsJSON(rest, source: "fuzz") else { return false }
      c = parsed
    } else {
      guard let decoded = try? Collateral(canonical: rest) else { return false }
      guard decoded.canonicalBytes == rest else {
        throw FuzzFinding(
          target: "collateral", problem: "accepted collateral re-encodes to other bytes")
      }
      c = decoded
    }
    _ = try? DCAPVerifier(policy: FuzzFixtures.permissive).checkCollateralWaiting(
      c, at: FuzzFixtures.dcapTime)
    return true
  }
}
