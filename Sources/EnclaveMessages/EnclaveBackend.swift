/// What protects an enclave: nothing (`simulated`, NO HARDWARE PROTECTION) or Intel SGX.
public enum EnclaveBackend: String, Sendable, CaseIterable {
  case simulated
  case sgx
}
