import Canonical
import Crypto

/// Evidence from a simulated enclave: NO HARDWARE PROTECTION. The host can read and change
/// everything such an enclave holds; this exists so the whole protocol runs where there is no
/// SGX, and every place that shows it says so.
///
/// The report is what SGX's would be, minus the hardware: the enclave's measurement (SHA-256 of
/// the enclave executable), 64 bytes of REPORTDATA (binding the enclave's keys and the
/// verifier's nonce), signed by a per-machine platform key that the network's genesis lists as
/// trusted.
public struct SimulatedReport: CanonicalCodable, Equatable, Sendable {
  public static let label = "fedledger simulated enclave: NO HARDWARE PROTECTION"
  public static let version: UInt8 = 1

  public var measurement: [UInt8]
  public var platformKey: [UInt8]
  public var reportData: [UInt8]
  public var signature: [UInt8]

  /// Signs a report as the simulated platform would.
  public init(
    measurement: [UInt8], reportData: [UInt8], platform: Curve25519.Signing.PrivateKey
  ) {
    precondition(measurement.count == 32 && reportData.count == 64)
    self.measurement = measurement
    self.reportData = reportData
    platformKey = Array(platform.publicKey.rawRepresentation)
    signature = []
    signature = Array(try! platform.signature(for: signedBytes))
  }

  /// What the platform signs: the label, then every field but the signature.
  var signedBytes: [UInt8] {
    var w = CanonicalWriter()
    w.string(Self.label)
    encodeUnsigned(to: &w)
    return w.bytes
  }

  private func encodeUnsigned(to w: inout CanonicalWriter) {
    w.u8(Self.version)
    w.fixed(measurement)
    w.fixed(platformKey)
    w.fixed(reportData)
  }

  public func encode(to w: inout CanonicalWriter) {
    encodeUnsigned(to: &w)
    w.fixed(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("simulated report version")
    guard v == Self.version else {
      throw .unknownVersion(field: "simulated report version", version: Int(v))
    }
    measurement = try r.fixed(32, "simulated report measurement")
    platformKey = try r.fixed(32, "simulated report platform key")
    reportData = try r.fixed(64, "simulated report data")
    signature = try r.fixed(64, "simulated report signature")
  }

  /// Checks the report against the platforms and measurements a network trusts and the
  /// REPORTDATA the verifier expects; returns the measurement.
  public func verify(
    trustedPlatforms: Set<[UInt8]>, measurements: Set<[UInt8]>, reportData expected: [UInt8]
  ) throws(QuoteError) -> [UInt8] {
    guard trustedPlatforms.contains(platformKey) else {
      throw .policy("simulated platform key \(hex(platformKey)) is not trusted")
    }
    guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: platformKey),
      key.isValidSignature(signature, for: signedBytes)
    else { throw .signature("the simulated report is not signed by its platform key") }
    guard measurements.contains(measurement) else {
      throw .policy("measurement \(hex(measurement)) is not allowed")
    }
    guard reportData == expected else {
      throw .binding(
        "REPORTDATA does not bind the enclave's keys, the verifier's policy and its nonce")
    }
    return measurement
  }
}
