import Attestation
import Crypto
import EnclaveMessages
import Foundation

/// The simulated hardware of one machine: a platform signing key (which genesis lists as
/// trusted) and a sealing secret. NO HARDWARE PROTECTION: anyone with this file can forge
/// evidence and unseal state; SGX keeps both in the CPU.
public struct SimulatedPlatform: EnclavePlatform {
  public var backend: EnclaveBackend { .simulated }

  public let key: Curve25519.Signing.PrivateKey
  private let sealing: SymmetricKey

  public init() {
    key = Curve25519.Signing.PrivateKey()
    sealing = SymmetricKey(size: .bits256)
  }

  /// Restores a platform from its 64 secret bytes (key seed, then sealing secret).
  public init(secret: [UInt8]) throws(EnclaveError) {
    guard secret.count == 64,
      let k = try? Curve25519.Signing.PrivateKey(
        rawRepresentation: secret.prefix(32))
    else { throw .sealed("a platform secret is 64 bytes") }
    key = k
    sealing = SymmetricKey(data: secret.suffix(32))
  }

  public var secret: [UInt8] {
    Array(key.rawRepresentation) + sealing.withUnsafeBytes { Array($0) }
  }

  public var publicKey: [UInt8] { Array(key.publicKey.rawRepresentation) }

  public func report(measurement: [UInt8], reportData: [UInt8]) throws(EnclaveError)
    -> EnclaveReport
  {
    .simulated(SimulatedReport(measurement: measurement, reportData: reportData, platform: key))
  }

  public func sealingSecret() throws(EnclaveError) -> SymmetricKey { sealing }

  /// Reads the platform secret from `path`, or makes one and writes it there (owner-only).
  public static func loadOrCreate(path: String) throws -> SimulatedPlatform {
    let fm = FileManager.default
    if fm.fileExists(atPath: path) {
      return try SimulatedPlatform(secret: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }
    let platform = SimulatedPlatform()
    let directory = (path as NSString).deletingLastPathComponent
    if !directory.isEmpty {
      try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }
    guard
      fm.createFile(
        atPath: path, contents: Data(platform.secret), attributes: [.posixPermissions: 0o600])
    else { throw EnclaveError.sealed("cannot write the platform secret to \(path)") }
    return platform
  }
}
