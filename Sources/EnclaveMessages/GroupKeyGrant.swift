import Attestation
import Canonical

/// The group key, sealed by an admitting enclave to a joining one after checking its evidence,
/// with the admitting enclave's own evidence and its signature, so the joiner can check in turn
/// who sealed it (HPKE base mode alone does not say).
public struct GroupKeyGrant: CanonicalCodable, Equatable {
  public var network: [UInt8]
  public var granter: EnclaveEvidence
  public var groupPublicKey: [UInt8]
  public var encapsulatedKey: [UInt8]
  public var ciphertext: [UInt8]
  /// The granter's attested Ed25519 signature over everything above and the joiner's keys.
  public var signature: [UInt8]

  public func encode(to w: inout CanonicalWriter) {
    w.fixed(network)
    granter.encode(to: &w)
    w.fixed(groupPublicKey)
    w.bytes(encapsulatedKey)
    w.bytes(ciphertext)
    w.fixed(signature)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    network = try r.fixed(32, "grant network")
    granter = try EnclaveEvidence(from: &r)
    groupPublicKey = try r.fixed(32, "grant group key")
    encapsulatedKey = try r.bytes("grant encapsulated key", limit: 256)
    ciphertext = try r.bytes("grant ciphertext", limit: 256)
    signature = try r.fixed(64, "grant signature")
  }

  package init(
    network: [UInt8], granter: EnclaveEvidence, groupPublicKey: [UInt8],
    encapsulatedKey: [UInt8], ciphertext: [UInt8], signature: [UInt8]
  ) {
    self.network = network
    self.granter = granter
    self.groupPublicKey = groupPublicKey
    self.encapsulatedKey = encapsulatedKey
    self.ciphertext = ciphertext
    self.signature = signature
  }

  /// HPKE context: the network, the joiner's keys and the group's public key.
  package static func context(
    network: [UInt8], joinerSigning: [UInt8], joinerEncryption: [UInt8], groupPublicKey: [UInt8]
  )
    -> [UInt8]
  {
    Array("fedledger/group-key-grant/v1".utf8) + [0] + network + joinerSigning + joinerEncryption
      + groupPublicKey
  }

  /// What the granter signs.
  package func signedBytes(joinerSigning: [UInt8], joinerEncryption: [UInt8]) -> [UInt8] {
    var w = CanonicalWriter()
    w.fixed(
      Self.context(
        network: network, joinerSigning: joinerSigning, joinerEncryption: joinerEncryption,
        groupPublicKey: groupPublicKey))
    granter.encode(to: &w)
    w.bytes(encapsulatedKey)
    w.bytes(ciphertext)
    return w.bytes
  }
}
