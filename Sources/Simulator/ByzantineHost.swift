import Attestation
import Crypto
import Enclave
import Ledger
import Records

/// The host of a Byzantine node, for tests of the endorsement quorum: instead of its enclave's
/// endorsement it submits one of a model nobody computed, signed by a key it made and vouched
/// for by its simulated platform, whose secret it holds (NO HARDWARE PROTECTION). The ledger
/// records it as evidence against the node; it can never count towards the honest statement.
struct ByzantineHost {
  let node: Int
  let platform: SimulatedPlatform
  let measurement: [UInt8]
  let policy: EnclavePolicy
  let network: Hash256

  func forge(_ statement: AggregationStatement) throws -> Endorsement {
    var forged = statement
    forged.newModel = Hash256.of(
      Array("forged by the host of node-\(node)".utf8) + statement.newModel.bytes)
    let key = SigningKey()
    let encryption = Curve25519.KeyAgreement.PrivateKey()
    let signing = key.publicKey.bytes
    let sealing = Array(encryption.publicKey.rawRepresentation)
    let report = try platform.report(
      measurement: measurement,
      reportData: EnclaveEvidence.reportData(
        signingKey: signing, encryptionKey: sealing, groupKey: nil, policy: policy.digest,
        nonce: EnclaveEvidence.ledgerNonce(network: network.bytes)))
    let evidence = EnclaveEvidence(
      signingKey: signing, encryptionKey: sealing, groupKey: nil, report: report)
    return Endorsement(
      network: network, statement: forged, key: key,
      evidence: Evidence(kind: .simulatedEnclave, bytes: evidence.canonicalBytes))
  }
}
