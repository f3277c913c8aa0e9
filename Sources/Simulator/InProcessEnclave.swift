import Enclave
import Host
import Records

/// The enclave code in this process, reached through the same request and response bytes.
/// Used where the enclave program is not built; it offers no isolation at all.
public final class InProcessEnclave: EnclaveTransport {
  let service: EnclaveService
  public init(service: EnclaveService) { self.service = service }
  public func exchange(_ request: [UInt8]) throws -> [UInt8] { service.handle(request) }
  public func close() {}
}

/// How a node runs its enclave.
public enum EnclaveLaunch: Sendable {
  /// The enclave program next to this executable if it is there, else in process.
  case automatic
  /// This enclave program, one process per node.
  case program(String)
  /// The enclave code in this process, through the same messages (no isolation at all).
  case inProcess
}
