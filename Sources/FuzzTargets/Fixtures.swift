import Attestation
import Foundation
import Ledger

/// Files the targets check against, from the repository: a simulated network's genesis and
/// its first enclave's platform secret (Fuzz/fixtures), and Intel's collateral from the
/// attestation tests' fixtures.
enum FuzzFixtures {
  static let repository = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

  static func bytes(_ relative: String) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: "\(repository)/\(relative)") else {
      fatalError("the fuzz fixture \(repository)/\(relative) cannot be read")
    }
    return Array(data)
  }

  static let genesis: Genesis = {
    do { return try Genesis.parse(bytes("Fuzz/fixtures/genesis.json"), path: "genesis.json") } catch
    {
      fatalError("Fuzz/fixtures/genesis.json: \(error)")
    }
  }()

  /// The nonce the evidence seeds answer.
  public static let nonce = [UInt8](repeating: 7, count: 32)

  static let platformSecret = bytes("Fuzz/fixtures/platform.key")
  /// Node-0's enclave state, sealed to that platform.
  static let sealed = bytes("Fuzz/fixtures/sealed.bin")

  static let dcap = "Tests/AttestationTests/Fixtures/phala-dcap-qvl"
  /// The time the phala fixture's collateral is valid at.
  static let dcapTime = Date(timeIntervalSince1970: 1_750_377_600)  // 2025-06-20T00:00:00Z

  static let collateral: Collateral = {
    do {
      return try Collateral.pccsJSON(bytes("\(dcap)/sgx_quote_collateral.json"), source: "fixture")
    } catch { fatalError("\(dcap)/sgx_quote_collateral.json: \(error)") }
  }()

  /// Accepts any enclave and every TCB status: the target is the parsing and the signature
  /// checks, not the policy.
  static let permissive: AttestationPolicy = {
    var p = AttestationPolicy()
    p.allowAnyEnclave = true
    p.allowDebug = true
    p.acceptedTCBStatuses = [
      "UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded",
      "OutOfDate", "OutOfDateConfigurationNeeded",
    ]
    p.acceptStaleCRLs = true
    return p
  }()
}
