import Crypto
import Protection
import Records
import UpdateSealing

/// Privacy mode tee, cluster side: the update is sealed (HPKE) to the enclaves' group key,
/// which the cluster checked in an enclave's evidence and on the ledger, and the envelope is
/// signed with the cluster's enrolled key. Only an attested enclave can open it.
public struct SealedUpdates: UpdateProtection {
  public let groupKey: Curve25519.KeyAgreement.PublicKey

  public init(groupKey: Curve25519.KeyAgreement.PublicKey) { self.groupKey = groupKey }

  public func protect(_ payload: [UInt8], binding: UpdateBinding, signer: SigningKey) throws
    -> [UInt8]
  {
    try UpdateEnvelope.seal(
      payload, network: binding.network.bytes, round: binding.round, cluster: binding.cluster,
      baseModel: binding.baseModel.bytes, to: groupKey, signedWith: signer.key,
      purpose: binding.purpose
    ).canonicalBytes
  }
}
