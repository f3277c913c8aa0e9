import Canonical
import Crypto
import Foundation
import Protection

// What a cluster does to send its update: encodes the payload and seals it, signed, to the
// group key. An enclave only opens and decodes updates (`Protection`), so none of this is in
// its trusted code.

extension UpdateEnvelope {
  /// Encrypts `payload` to `groupKey` and signs the envelope with `clusterKey`.
  public static func seal(
    _ payload: [UInt8], network: [UInt8], round: UInt64, cluster: String, baseModel: [UInt8],
    to groupKey: Curve25519.KeyAgreement.PublicKey,
    signedWith clusterKey: Curve25519.Signing.PrivateKey, purpose: EnvelopePurpose = .update
  ) throws -> UpdateEnvelope {
    precondition(network.count == 32 && baseModel.count == 32, "hashes are 32 bytes")
    var sender = try HPKE.Sender(recipientKey: groupKey, ciphersuite: ciphersuite, info: info)
    var e = UpdateEnvelope(
      network: network, round: round, cluster: cluster, baseModel: baseModel,
      encapsulatedKey: Array(sender.encapsulatedKey), ciphertext: [], signature: [])
    e.ciphertext = Array(try sender.seal(payload, authenticating: e.associatedData(purpose)))
    e.signature = Array(try clusterKey.signature(for: e.signedBytes(purpose)))
    return e
  }
}

extension UpdatePayload {
  /// The payload's bytes, in the layout `UpdatePayload` describes.
  public func encode() -> [UInt8] {
    var w = CanonicalWriter()
    w.fixed(Self.magic)
    w.u8(Self.version)
    w.u32(cluster)
    w.u64(round)
    w.fixed(baseModel)
    w.u64(sampleCount)
    w.u32(devices)
    w.f64(trainLoss)
    w.f64(simulatedSeconds)
    w.u32(UInt32(values.count))
    var bytes = w.bytes
    bytes.reserveCapacity(bytes.count + values.count * 4)
    #if _endian(little)
      // The values' memory already is float32 little-endian: copy it whole.
      values.withUnsafeBytes { bytes.append(contentsOf: $0) }
    #else
      for v in values {
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
      }
    #endif
    return bytes
  }
}
