import Aggregation
import Crypto
import Enclave
import EnclaveMessages
import Foundation
import Protection
import Records
import UpdateSealing
import XCTest

/// Weighting by device inside the enclave: every device behind an update counts once, and no
/// gateway can claim more devices than its cluster enrolled with.
final class EnclaveDeviceTests: XCTestCase {
  let fixture = EnclaveEvaluationTests.Consortium()

  func sealed(
    _ i: Int, values: [Float], devices: UInt32, group: [UInt8], base: [UInt8],
    enrolled: UInt32
  ) throws -> (envelope: [UInt8], entry: RoundClose.Entry) {
    let key = fixture.clusterKeys[i]
    let payload = UpdatePayload(
      cluster: UInt32(i), round: 2, baseModel: base, sampleCount: 100, devices: devices,
      trainLoss: 0, simulatedSeconds: 0, values: values)
    let e = try UpdateEnvelope.seal(
      payload.encode(), network: fixture.network, round: 2, cluster: "cluster-\(i)",
      baseModel: base, to: try Curve25519.KeyAgreement.PublicKey(rawRepresentation: group),
      signedWith: key)
    return (
      e.canonicalBytes,
      RoundClose.Entry(
        cluster: "cluster-\(i)", key: PublicKey(bytes: Array(key.publicKey.rawRepresentation))!,
        payload: Hash256.of(e.canonicalBytes), devices: enrolled)
    )
  }

  func testEachDeviceCountsOnceAndNoClaimExceedsEnrolment() throws {
    let (a, _) = try fixture.pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let n = 4
    let header = Array("{\"test\":true}".utf8)
    let prefix = ModelBytes.magic + [1, 0, 0, 0] + [UInt8(header.count), 0, 0, 0] + header
    let baseFile = ModelBytes.file(prefix: prefix, parameters: [Float](repeating: 0, count: n))
    let base = Array(baseFile.suffix(32))
    // Clusters of 1, 3 and 4 devices, and one claiming 9 of the 2 it enrolled with.
    let updates = try [
      sealed(0, values: [8, 0, 0, 0], devices: 1, group: group, base: base, enrolled: 1),
      sealed(1, values: [0, 8, 0, 0], devices: 3, group: group, base: base, enrolled: 5),
      sealed(2, values: [0, 0, 8, 0], devices: 4, group: group, base: base, enrolled: 4),
      sealed(3, values: [0, 0, 0, 8], devices: 9, group: group, base: base, enrolled: 2),
    ]
    let rules = RoundRules(weighting: .devices, minimumCohort: 3)
    let open = RoundOpen(
      network: Hash256(bytes: fixture.network)!, round: 2, baseModel: Hash256(bytes: base)!,
      participants: [], rules: rules, groupKey: group, node: fixture.node)
    let close = RoundClose(
      network: Hash256(bytes: fixture.network)!, round: 2,
      open: Hash256.of(open.transactionBytes), updates: updates.map(\.entry), node: fixture.node)
    let response = try a.aggregate(
      AggregateRequest(
        closed: .lone(
          close.transactionBytes, network: Hash256(bytes: fixture.network)!, height: 2,
          signedBy: [fixture.node]),
        open: open.transactionBytes, baseModel: baseFile, envelopes: updates.map(\.envelope)))
    let statement = try Endorsement(canonical: response.endorsement).statement
    XCTAssertEqual(statement.accepted.count, 3)
    XCTAssertEqual(statement.rejected.count, 1)
    XCTAssert(
      statement.rejected[0].reason.contains(
        "claims more devices than the 2 its cluster enrolled with"),
      statement.rejected[0].reason)
    // By device: (1 x 8, 3 x 8, 4 x 8, 0) / 8 devices = (1, 3, 4, 0).
    let model = try a.committedModel(response, network: fixture.network, node: fixture.node)
    let values = try ModelBytes(model).parameters
    for (got, want) in zip(values, [Float(1), 3, 4, 0]) {
      XCTAssertEqual(got, want, accuracy: 1e-5)
    }
  }
}
