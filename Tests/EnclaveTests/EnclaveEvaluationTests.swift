import Aggregation
import Attestation
import Canonical
import Crypto
import Enclave
import EnclaveMessages
import Foundation
import Ledger
import Protection
import Records
import UpdateSealing
import XCTest

/// An enclave combining a committed model's evaluation: sealed reports in, a signed metric
/// out; and every way a host or a cluster might make it reveal or misstate one cluster's
/// figures.
final class EnclaveEvaluationTests: XCTestCase {
  let rounds = Consortium()

  /// Two simulated platforms under one policy, the ledger's one node and ten clusters' keys.
  final class Consortium {
    let measurement = Array(SHA256.hash(data: Array("fedledger-enclave build 1".utf8)))
    let platformA = SimulatedPlatform()
    let platformB = SimulatedPlatform()
    let clusterKeys = (0..<10).map { _ in Curve25519.Signing.PrivateKey() }
    let node = SigningKey()
    lazy var genesis = Genesis(
      network: "enclave-test", createdAt: "2026-11-26T12:00:00Z",
      members: [.init(name: "m", key: SigningKey().publicKey)],
      nodes: [.init(name: "node-0", member: "m", key: node.publicKey)],
      endorsers: [
        .init(
          name: "node-0", kind: .simulatedEnclave, key: PublicKey(bytes: platformA.publicKey)!),
        .init(
          name: "node-1", kind: .simulatedEnclave, key: PublicKey(bytes: platformB.publicKey)!),
      ],
      endorsementThreshold: 2, enclaveMeasurements: [Hash256(bytes: measurement)!])
    var network: [UInt8] { genesis.hash.bytes }
    var policy: EnclavePolicy { genesis.enclavePolicy() }

    /// Two enclaves on two platforms sharing one group key.
    func pair() throws -> (Enclave, Enclave) {
      let a = Enclave(measurement: measurement, platform: platformA, policy: policy)
      try a.createGroupKey()
      let b = Enclave(measurement: measurement, platform: platformB, policy: policy)
      let c1 = a.challenge()
      let c2 = b.challenge()
      try b.accept(
        a.admit(b.evidence(nonce: c1), joinerChallenge: c2, network: network), network: network)
      return (a, b)
    }
  }
  let rules = EvaluationRules(minimumReports: 3, sampleCap: 100, classes: 2)
  let model = Hash256.of(Array("the committed model".utf8))
  var network: [UInt8] { rounds.network }

  /// One report as a cluster sends it: sealed to `group`, signed; and its close entry.
  struct SealedReport {
    var bytes: [UInt8]
    var entry: EvaluationClose.Entry
  }

  func seal(
    _ payload: ReportPayload, cluster i: Int, group: [UInt8], round: UInt64 = 3,
    model m: Hash256? = nil, purpose: EnvelopePurpose = .report,
    signer: Curve25519.Signing.PrivateKey? = nil, envelopeCluster: String? = nil
  ) throws -> SealedReport {
    let key = rounds.clusterKeys[i]
    let e = try UpdateEnvelope.seal(
      payload.canonicalBytes, network: network, round: round,
      cluster: envelopeCluster ?? "cluster-\(i)", baseModel: (m ?? model).bytes,
      to: try Curve25519.KeyAgreement.PublicKey(rawRepresentation: group),
      signedWith: signer ?? key, purpose: purpose)
    let bytes = e.canonicalBytes
    return SealedReport(
      bytes: bytes,
      entry: EvaluationClose.Entry(
        cluster: "cluster-\(i)", key: SigningKey(key).publicKey, payload: Hash256.of(bytes),
        payloadSize: UInt64(bytes.count)))
  }

  func report(
    _ i: Int, accuracy: Double, loss: Double = 0.5, samples: UInt64 = 20, round: UInt64 = 3,
    model m: Hash256? = nil, counts: [UInt64]? = nil
  ) -> ReportPayload {
    ReportPayload(
      round: round, model: m ?? model, cluster: "cluster-\(i)", loss: loss, accuracy: accuracy,
      samples: samples, classCounts: counts ?? [samples / 2, samples - samples / 2])
  }

  /// The request a host makes for the evaluation-close listing `reports`, in a block `signers`
  /// signed.
  func request(
    _ reports: [SealedReport], round: UInt64 = 3, rules: EvaluationRules? = nil,
    closer: SigningKey? = nil, signers: [SigningKey]? = nil, given: [[UInt8]]? = nil
  ) -> CombineRequest {
    let close = EvaluationClose(
      network: Hash256(bytes: network)!, round: round, model: model, rules: rules ?? self.rules,
      reports: reports.map(\.entry), node: closer ?? rounds.node)
    return CombineRequest(
      closed: .lone(
        close.transactionBytes, network: Hash256(bytes: network)!, height: 100 + round,
        signedBy: signers ?? [rounds.node]),
      reports: given ?? reports.map(\.bytes))
  }

  func metric(_ response: AggregateResponse) throws -> MetricStatement {
    try MetricEndorsement(canonical: response.endorsement).statement
  }

  /// Both enclaves sign the same metric: the sample-weighted mean of the valid reports alone,
  /// every other report refused with a reason that is the cluster's and names no figure.
  func testEveryEnclaveSignsTheSameMetricAndEveryBadReportHasItsReason() throws {
    let (a, b) = try rounds.pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    var reports = try [
      seal(report(0, accuracy: 0.9, loss: 0.2, samples: 10), cluster: 0, group: group),
      seal(report(1, accuracy: 0.5, loss: 1.0, samples: 30), cluster: 1, group: group),
      seal(report(2, accuracy: 0.8, loss: 0.4, samples: 10), cluster: 2, group: group),
    ]
    // What a cluster can get wrong, or try: a report on another model or round inside its
    // envelope, an accuracy above 1, a negative loss, more samples than the cap, class counts
    // that do not add up, a forged signature, an envelope naming another cluster, an update
    // envelope replayed as a report, bytes that are no envelope at all.
    let bad: [(SealedReport, String)] = try [
      (
        seal(report(3, accuracy: 0.7, model: .zero), cluster: 3, group: group),
        "not the one round 3"
      ),
      (seal(report(4, accuracy: 0.7, round: 2), cluster: 4, group: group), "is for round 2"),
      (seal(report(5, accuracy: 1.25), cluster: 5, group: group), "outside [0, 1]"),
      (
        seal(report(6, accuracy: 0.7, loss: -3), cluster: 6, group: group), "negative or non-finite"
      ),
      (
        seal(report(7, accuracy: 0.7, samples: 5000), cluster: 7, group: group),
        "held-out cap of 100"
      ),
      (seal(report(8, accuracy: 0.7, counts: [1, 2]), cluster: 8, group: group), "adding up"),
      (
        seal(report(9, accuracy: 0.7), cluster: 9, group: group, signer: .init()), "valid signature"
      ),
    ]
    reports += bad.map(\.0)
    let ra = try a.combine(request(reports))
    let rb = try b.combine(request(reports))
    let s = try metric(ra)
    XCTAssertEqual(s, try metric(rb), "every enclave signs the same statement")
    // Hand-worked: (0.9·10 + 0.5·30 + 0.8·10) / 50 = 0.64; loss (2 + 30 + 4) / 50 = 0.72.
    XCTAssertEqual(s.accuracy, 0.64, accuracy: 1e-12)
    XCTAssertEqual(s.loss, 0.72, accuracy: 1e-12)
    XCTAssertEqual(s.clusters, 3)
    XCTAssertEqual(s.samples, 50)
    XCTAssertEqual(s.counted, ["cluster-0", "cluster-1", "cluster-2"])
    XCTAssertTrue(s.published.isEmpty, "per-cluster figures stay private")
    XCTAssertEqual(s.refused.count, bad.count)
    for (refusal, (_, why)) in zip(s.refused, bad) {
      XCTAssert(refusal.reason.contains(why), "\(refusal.reason) should say \(why)")
      XCTAssertFalse(refusal.reason.contains("5000") || refusal.reason.contains("1.25"))
    }
    // A renamed envelope, and an update envelope replayed as a report, are refused too (asked
    // of fresh enclaves: each signs a round's metric once).
    let (a2, b2) = try rounds.pair()
    let fresh = try (0..<3).map {
      try seal(report($0, accuracy: 0.5), cluster: $0, group: XCTUnwrap(a2.groupPublicKey))
    }
    let more = try a2.combine(
      request(
        fresh + [
          seal(
            report(3, accuracy: 0.7), cluster: 3, group: XCTUnwrap(a2.groupPublicKey),
            envelopeCluster: "cluster-0")
        ]))
    XCTAssert(try metric(more).refused[0].reason.contains("names another cluster"))
    let replay = try b2.combine(
      request(
        fresh + [
          seal(
            report(4, accuracy: 0.7), cluster: 4, group: XCTUnwrap(a2.groupPublicKey),
            purpose: .update)
        ]))
    XCTAssert(try metric(replay).refused[0].reason.contains("does not carry a valid signature"))
    // The median of the same three: 0.8 and 0.4.
    let median = EvaluationRules(
      combination: .median, minimumReports: 3, sampleCap: 100, classes: 2)
    let (c, _) = try rounds.pair()
    let m = try metric(
      c.combine(
        request(
          try (0..<3).map { i in
            try seal(
              [
                report(0, accuracy: 0.9, loss: 0.2, samples: 10),
                report(1, accuracy: 0.5, loss: 1.0, samples: 30),
                report(2, accuracy: 0.8, loss: 0.4, samples: 10),
              ][i], cluster: i, group: XCTUnwrap(c.groupPublicKey))
          }, rules: median)))
    XCTAssertEqual(m.accuracy, 0.8)
    XCTAssertEqual(m.loss, 0.4)
  }

  /// The report crosses the host sealed: its figures are not in the bytes, and nothing but the
  /// group key opens it (not an X25519 key the host holds, not as an update).
  func testASealedReportIsReadableOnlyByTheEnclaves() throws {
    let (a, _) = try rounds.pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let payload = report(0, accuracy: 0.8125, loss: 0.3, samples: 40)
    let sealed = try seal(payload, cluster: 0, group: group)
    var figures = CanonicalWriter()
    figures.f64(payload.loss)
    figures.f64(payload.accuracy)
    XCTAssertFalse(contains(sealed.bytes, figures.bytes))
    XCTAssertFalse(contains(sealed.bytes, Array("cluster-0".utf8) + figures.bytes))
    let envelope = try UpdateEnvelope(canonical: sealed.bytes)
    let clusterKey = rounds.clusterKeys[0].publicKey
    XCTAssertThrowsError(
      try envelope.open(
        with: Curve25519.KeyAgreement.PrivateKey(), network: network, round: 3,
        baseModel: model.bytes, clusterKey: clusterKey, purpose: .report))
    // Nor, with anything, as an update: the purpose is bound into what the cluster signed.
    XCTAssertThrowsError(
      try envelope.open(
        with: Curve25519.KeyAgreement.PrivateKey(), network: network, round: 3,
        baseModel: model.bytes, clusterKey: clusterKey, purpose: .update)
    ) { XCTAssertEqual($0 as? EnvelopeError, .badSignature(cluster: "cluster-0")) }
  }

  /// The host cannot make the enclave combine anything but a close the ledger proves, with the
  /// reports it names in its order; and the enclave combines no fewer than the rules' minimum,
  /// saying nothing of the few.
  func testItCombinesOnlyAProvenCloseAndNoFewerThanTheMinimum() throws {
    let (a, _) = try rounds.pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let reports = try (0..<4).map {
      try seal(report($0, accuracy: 0.5 + Double($0) / 10), cluster: $0, group: group)
    }
    let stranger = SigningKey()
    let attempts: [(CombineRequest, String)] = [
      (request(reports, signers: [stranger]), "does not prove"),
      (request(reports, closer: stranger), "not signed by a ledger node"),
      (request(reports, given: reports.reversed().map(\.bytes)), "in its order"),
      (request(reports, given: reports.dropLast().map(\.bytes)), "3 report(s) given"),
    ]
    for (r, why) in attempts {
      XCTAssertThrowsError(try a.combine(r)) {
        XCTAssert("\($0)".contains(why), "\($0) should say \(why)")
      }
    }
    // Two valid reports and one refused: fewer than three count, no metric, no figure named.
    let few = try [
      reports[0], reports[1],
      seal(report(2, accuracy: 2), cluster: 2, group: group),
    ]
    XCTAssertThrowsError(try a.combine(request(few))) { error in
      guard case EnclaveError.tooFewUpdates(let why) = error else {
        return XCTFail("\(error)")
      }
      XCTAssertFalse(why.contains("2 ") || why.contains("0.5"), why)
    }
    // Attack (a host leaving one cluster's report out, to subtract its figures from the metric
    // the others sign): whatever it puts in that report's place, the whole request is refused,
    // and the enclave has signed nothing for the round.
    for stand in [[], reports[0].bytes, Array(reports[3].bytes.dropLast())] {
      XCTAssertThrowsError(
        try a.combine(request(reports, given: reports.prefix(3).map(\.bytes) + [stand]))
      ) { XCTAssert("\($0)".contains("in its order"), "\($0)") }
    }
    XCTAssertEqual(a.lastCombinedRound, 0)
    // A payload of another size than its cluster declared is the cluster's doing, which the
    // enclave sees in the bytes themselves: that report alone is refused.
    var sized = reports
    sized[3].entry.payloadSize += 1
    let statement = try metric(a.combine(request(sized)))
    XCTAssertEqual(statement.counted.count, 3)
    XCTAssertEqual(statement.refused.first?.cluster, "cluster-3")
    XCTAssert(statement.refused.first?.reason.contains("not of the size") ?? false)
  }

  /// A round's metric is signed once, rounds only move forward, and a restart from sealed
  /// state remembers it: a host cannot ask again with a subset to isolate one cluster.
  func testItSignsARoundsMetricOnceAndNeverGoesBack() throws {
    let (a, _) = try rounds.pair()
    let group = try XCTUnwrap(a.groupPublicKey)
    let reports = try (0..<4).map {
      try seal(report($0, accuracy: 0.5 + Double($0) / 10), cluster: $0, group: group)
    }
    let first = try metric(a.combine(request(reports)))
    XCTAssertEqual(try metric(a.combine(request(reports))), first, "the same answer again")
    XCTAssertThrowsError(try a.combine(request(Array(reports.prefix(3))))) {
      XCTAssert("\($0)".contains("already signed a different metric for round 3"), "\($0)")
    }
    let earlier = try (0..<4).map {
      try seal(report($0, accuracy: 0.5, round: 2), cluster: $0, group: group, round: 2)
    }
    XCTAssertThrowsError(try a.combine(request(earlier, round: 2))) {
      XCTAssert("\($0)".contains("before round 3"), "\($0)")
    }
    let restarted = try Enclave(
      unsealing: a.seal(), measurement: rounds.measurement, platform: rounds.platformA,
      policy: rounds.policy)
    XCTAssertEqual(restarted.lastCombinedRound, 3)
    XCTAssertThrowsError(try restarted.combine(request(Array(reports.prefix(3)))))
  }

  private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    return (0...(haystack.count - needle.count)).contains {
      haystack[$0..<($0 + needle.count)].elementsEqual(needle)
    }
  }
}
