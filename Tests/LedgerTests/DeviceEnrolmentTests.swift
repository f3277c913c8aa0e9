import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// A cluster enrols with its device count, which bounds what its updates may claim: the
/// round-close carries it to whoever aggregates.
final class DeviceEnrolmentTests: XCTestCase {
  let net = TestNetwork()

  func enrol(_ i: Int, devices: UInt32) -> Transaction {
    .enrolment(
      ClusterEnrolment(
        network: net.network, cluster: "cluster-\(i)", key: net.clusters[i].publicKey,
        member: "member-\(i)", devices: devices, memberKey: net.members[i]))
  }

  func testAClusterEnrolsWithOneToTheMostDevicesAndTheCloseCarriesThem() throws {
    let orderer = try net.open(temporaryDirectory())
    orderer.submit(enrol(0, devices: 0))
    orderer.submit(enrol(1, devices: UInt32(RoundRules.maximumDevices) + 1))
    // Attack: a host raising a cluster's device count after its member signed.
    var raised = ClusterEnrolment(
      network: net.network, cluster: "cluster-2", key: net.clusters[2].publicKey,
      member: "member-2", devices: 3, memberKey: net.members[2])
    raised.devices = 300
    orderer.submit(.enrolment(raised))
    let refused = try orderer.cut().flatMap(\.outcomes)
    XCTAssert(refused[1].reason?.contains("enrols 0 devices") ?? false, "\(refused)")
    XCTAssert(refused[2].reason?.contains("enrols 65537 devices") ?? false, "\(refused)")
    XCTAssert(refused[3].reason?.contains("does not verify") ?? false, "\(refused)")
    for (i, devices) in [(0, UInt32(1)), (1, 12), (2, 3)] {
      orderer.submit(enrol(i, devices: devices))
    }
    XCTAssert(try orderer.cut().flatMap(\.outcomes).allSatisfy(\.isValid))
    XCTAssertEqual(orderer.replicas[0].state.clusterDevices["cluster-1"], 12)
    // The round's commitments carry each cluster's enrolled devices into its close.
    let open = net.roundOpen(1, base: model(0))
    orderer.submit(open)
    for i in 0..<3 {
      let p = net.payload(round: 1, cluster: i)
      orderer.submit(net.commitment(round: 1, cluster: i, payload: p))
    }
    try orderer.cut()
    XCTAssertEqual(orderer.replicas[0].state.rounds[1]?.entries.map(\.devices), [1, 12, 3])
    // A close that lists another device count than the ledger's is refused.
    let entries = (0..<3).map { i in
      RoundClose.Entry(
        cluster: "cluster-\(i)", key: net.clusters[i].publicKey,
        payload: Hash256.of(net.payload(round: 1, cluster: i)),
        devices: i == 1 ? 99 : [1, 12, 3][i])
    }
    orderer.submit(net.roundClose(open, entries: entries))
    XCTAssert(
      try orderer.cut().flatMap(\.outcomes).first?.reason?.contains("lists 3 update(s)") ?? false)
  }

  /// Attack (a member enrolling one cluster with a huge device count, to dominate rounds
  /// weighted by device): genesis's device cap bounds every enrolment.
  func testGenesisDeviceCapBoundsEveryEnrolment() throws {
    let capped = TestNetwork(
      rules: RoundRules(weighting: .devices, minimumCohort: 2, deviceCap: 16))
    let orderer = try capped.open(temporaryDirectory())
    for (i, devices) in [(0, UInt32(17)), (1, 16)] {
      orderer.submit(
        .enrolment(
          ClusterEnrolment(
            network: capped.network, cluster: "cluster-\(i)", key: capped.clusters[i].publicKey,
            member: "member-\(i)", devices: devices, memberKey: capped.members[i])))
    }
    let outcomes = try orderer.cut().flatMap(\.outcomes)
    XCTAssert(
      outcomes[1].reason?.contains("1 to 16 (the rules' device cap)") ?? false, "\(outcomes)")
    XCTAssertEqual(outcomes[2], .valid)
    // Under weighting by device a round holds at most 2^31 / 16 updates.
    XCTAssertEqual(capped.genesis.rules.capacity, min(RoundRules.maximumUpdates, 1 << 27))
  }
}
