import Attestation
import Crypto
import EnclaveMessages

/// What an enclave runs on: what vouches for its evidence and what its sealing key derives
/// from. `SimulatedPlatform` and `SGXPlatform` are the two.
public protocol EnclavePlatform: Sendable {
  /// `simulated` (NO HARDWARE PROTECTION) or `sgx`.
  var backend: EnclaveBackend { get }
  /// A report binding `reportData` to the enclave with `measurement`.
  func report(measurement: [UInt8], reportData: [UInt8]) throws(EnclaveError) -> EnclaveReport
  /// Secret key material only this platform gives this enclave; sealing keys derive from it.
  func sealingSecret() throws(EnclaveError) -> SymmetricKey
}
