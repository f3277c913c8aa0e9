/// The enclave program's interface: one request, one response, each a length-prefixed frame.
///
/// A frame is a 4-byte big-endian length, then that many bytes: the protocol version, a kind
/// tag, and the body in the canonical encoding. The host may send only these requests; the
/// enclave answers each with the matching response or a failure that says why (and never what
/// a secret holds). docs/enclave.md documents every message.
public enum EnclaveProtocol {
  public static let version: UInt8 = 5
  /// The largest frame either side accepts (a round of 100 LeNet-5 updates is about 25 MB).
  public static let maximumFrame = 1 << 30
}
