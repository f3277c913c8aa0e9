import Crypto
import Privacy
import Protection
import Records
import XCTest

/// Privacy mode tee, cluster side: only the group key's holder opens an update, and only as
/// the round, cluster and base model it was sealed for.
final class SealedUpdatesTests: XCTestCase {
  func testOnlyTheGroupKeyOpensItAndOnlyAsBound() throws {
    let group = Curve25519.KeyAgreement.PrivateKey()
    let cluster = SigningKey()
    let binding = UpdateBinding(
      network: Hash256.of([1]), round: 7, cluster: "cluster-3", baseModel: Hash256.of([2]))
    let payload = Array("an update".utf8)
    let sealed = try SealedUpdates(groupKey: group.publicKey).protect(
      payload, binding: binding, signer: cluster)
    XCTAssertNil(
      sealed.firstRange(of: payload), "the update's bytes do not appear in what leaves")
    let envelope = try UpdateEnvelope(canonical: sealed)
    let clusterKey = try Curve25519.Signing.PublicKey(rawRepresentation: cluster.publicKey.bytes)
    XCTAssertEqual(
      try envelope.open(
        with: group, network: binding.network.bytes, round: 7, baseModel: binding.baseModel.bytes,
        clusterKey: clusterKey), payload)
    XCTAssertThrowsError(
      try envelope.open(
        with: group, network: binding.network.bytes, round: 8, baseModel: binding.baseModel.bytes,
        clusterKey: clusterKey))
    XCTAssertThrowsError(
      try envelope.open(
        with: Curve25519.KeyAgreement.PrivateKey(), network: binding.network.bytes, round: 7,
        baseModel: binding.baseModel.bytes, clusterKey: clusterKey))
    XCTAssertEqual(
      ClearUpdates().protect(payload, binding: binding, signer: cluster), payload,
      "mode none sends the update as it is")
  }
}
