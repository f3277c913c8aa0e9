import Foundation
import Ledger
import Ordering
import Records
import XCTest

/// A secure-aggregation round as the ledger judges it: who may send which message when, and
/// what each stage-close must list.
final class SecAggLedgerTests: XCTestCase {
  let net = TestNetwork(
    clusters: 4,
    rules: RoundRules(
      rule: .mean, normBound: 5, minimumCohort: 3, secureAggregation: SecAggRules()))
  let names = (0..<4).map { "cluster-\($0)" }

  /// Cluster `i`'s advertisement as participant `index`: its number and two distinct keys.
  func keys(_ i: Int, index: Int? = nil, key: UInt8? = nil) -> [UInt8] {
    var body = withUnsafeBytes(of: UInt32(index ?? i).bigEndian) { Array($0) }
    let share: UInt8 = key ?? UInt8(2 * i + 1)
    let mask = UInt8(2 * i + 2)
    body += [UInt8](repeating: share, count: 32)
    body += [UInt8](repeating: mask, count: 32)
    return body
  }

  func message(_ i: Int, _ stage: SecAggStage, round: UInt64 = 1, body: [UInt8]? = nil)
    -> Transaction
  {
    .secaggMessage(
      SecAggMessage(
        network: net.network, round: round, cluster: "cluster-\(i)", stage: stage,
        body: body ?? (stage == .keys ? keys(i) : [1, 2]), clusterKey: net.clusters[i]))
  }

  func close(_ open: Transaction, _ stage: SecAggStage, _ messages: [Transaction]) -> Transaction {
    .secaggStageClose(
      SecAggStageClose(
        network: net.network, round: open.round!, open: Hash256.of(open.canonicalBytes),
        stage: stage, messages: messages.map { Hash256.of($0.canonicalBytes) }, node: net.nodes[0]))
  }

  func outcomes(_ orderer: EmbeddedOrderer, _ txs: [Transaction]) throws -> [TransactionOutcome] {
    for t in txs { orderer.submit(t) }
    return try orderer.cut().flatMap(\.outcomes)
  }

  func testARoundRunsItsStagesInOrderAndEachIsCheckedOnTheLedger() throws {
    let orderer = try net.open(temporaryDirectory())
    XCTAssert(try outcomes(orderer, (0..<4).map(net.enrol)).allSatisfy(\.isValid))
    // A secure-aggregation round must name its participants: they number the clients.
    let anonymous = net.roundOpen(1, base: model(0))
    XCTAssert(
      try outcomes(orderer, [anonymous])[0].reason?.contains("names no participants") ?? false)
    let open = net.roundOpen(1, base: model(0), participants: names)
    XCTAssert(try outcomes(orderer, [open]).allSatisfy(\.isValid))

    // Stage 1: keys. Shares, commitments and a close of shares are all too early.
    let keys = (0..<4).map { message($0, .keys) }
    let early = try outcomes(
      orderer,
      [
        keys[0], keys[1], keys[2], message(0, .keys), message(3, .shares),
        net.commitment(round: 1, cluster: 0, payload: [9]), close(open, .shares, []),
      ])
    XCTAssertEqual(early[0...2].map(\.isValid), [true, true, true])
    XCTAssert(early[3].reason?.contains("already sent its keys") ?? false, "\(early[3])")
    XCTAssert(early[4].reason?.contains("keys stage is not closed") ?? false, "\(early[4])")
    XCTAssert(early[5].reason?.contains("shares stage is not closed") ?? false, "\(early[5])")
    XCTAssert(early[6].reason?.contains("keys stage is not closed") ?? false, "\(early[6])")
    // A close must list exactly the ledger's keys messages, in order.
    let closing = try outcomes(
      orderer,
      [close(open, .keys, [keys[1], keys[0], keys[2]]), close(open, .keys, Array(keys[0...2]))])
    XCTAssert(closing[0].reason?.contains("with other hashes or order") ?? false, "\(closing[0])")
    XCTAssert(closing[1].isValid, "\(closing[1])")
    // Cluster 3 is late: its keys are refused, and so are its shares.
    let late = try outcomes(orderer, [keys[3], message(3, .shares)])
    XCTAssert(late[0].reason?.contains("keys stage is closed") ?? false, "\(late[0])")
    XCTAssert(late[1].reason?.contains("sent no keys") ?? false, "\(late[1])")

    // Stage 2: shares, then their close; a cluster's shares once.
    let shares = (0..<3).map { message($0, .shares) }
    let dealt = try outcomes(orderer, shares + [message(0, .shares, body: [3])])
    XCTAssertEqual(dealt[0...2].map(\.isValid), [true, true, true])
    XCTAssert(dealt[3].reason?.contains("already sent its shares") ?? false, "\(dealt[3])")
    // Reveals before the round-close are refused.
    XCTAssert(
      try outcomes(orderer, [message(0, .reveals)])[0].reason?.contains("is not closed") ?? false)
    XCTAssert(try outcomes(orderer, [close(open, .shares, shares)]).allSatisfy(\.isValid))

    // Stage 3: commitments from those who dealt only.
    let payloads = (0..<4).map { net.payload(round: 1, cluster: $0) }
    let committed = try outcomes(
      orderer, (0..<4).map { net.commitment(round: 1, cluster: $0, payload: payloads[$0]) })
    XCTAssertEqual(committed[0...2].map(\.isValid), [true, true, true])
    XCTAssert(committed[3].reason?.contains("dealt no shares") ?? false, "\(committed[3])")
    let roundClose = net.roundClose(
      open, entries: (0..<3).map { net.entry(cluster: $0, payload: Hash256.of(payloads[$0])) })
    XCTAssert(try outcomes(orderer, [roundClose]).allSatisfy(\.isValid))

    // Stage 4: reveals from survivors; endorsements wait for the reveals' close.
    let reveals = (0..<3).map { message($0, .reveals) }
    let revealed = try outcomes(orderer, reveals + [message(3, .reveals)])
    XCTAssertEqual(revealed[0...2].map(\.isValid), [true, true, true])
    XCTAssert(revealed[3].reason?.contains("not a survivor") ?? false, "\(revealed[3])")
    let statement = net.statement(
      round: 1, base: model(0), updates: payloads[0...2].map(Hash256.of), newModel: model(1))
    let endorsement = Transaction.endorsement(
      Endorsement(network: net.network, statement: statement, key: net.nodes[0]))
    XCTAssert(
      try outcomes(orderer, [endorsement])[0].reason?.contains("reveals stage is not closed")
        ?? false)
    XCTAssert(try outcomes(orderer, [close(open, .reveals, reveals)]).allSatisfy(\.isValid))
    XCTAssert(try outcomes(orderer, [endorsement]).allSatisfy(\.isValid))
  }

  /// Attacks: a host altering a cluster's message, a cluster sending for another, a message
  /// or close for a round without secure aggregation, a close with too few messages.
  func testForgedMisplacedAndThinStepsAreRefused() throws {
    let orderer = try net.open(temporaryDirectory())
    XCTAssert(try outcomes(orderer, (0..<4).map(net.enrol)).allSatisfy(\.isValid))
    let open = net.roundOpen(1, base: model(0), participants: Array(names[0...2]))
    XCTAssert(try outcomes(orderer, [open]).allSatisfy(\.isValid))
    guard case .secaggMessage(var altered) = message(0, .keys) else { return XCTFail() }
    altered.body = [6, 6]
    let refused = try outcomes(
      orderer,
      [
        .secaggMessage(altered), message(3, .keys), message(0, .keys, round: 2),
        close(open, .keys, []),
      ])
    XCTAssert(refused[0].reason?.contains("does not verify") ?? false, "\(refused[0])")
    XCTAssert(refused[1].reason?.contains("was not asked to train") ?? false, "\(refused[1])")
    XCTAssert(refused[2].reason?.contains("not the open round") ?? false, "\(refused[2])")
    XCTAssert(refused[3].reason?.contains("needs at least 3") ?? false, "\(refused[3])")

    let plain = TestNetwork(clusters: 3)
    let other = try plain.open(temporaryDirectory() + "-plain")
    XCTAssert(try outcomes(other, (0..<3).map(plain.enrol)).allSatisfy(\.isValid))
    XCTAssert(try outcomes(other, [plain.roundOpen(1, base: model(0))]).allSatisfy(\.isValid))
    let stray = Transaction.secaggMessage(
      SecAggMessage(
        network: plain.network, round: 1, cluster: "cluster-0", stage: .keys, body: [1],
        clusterKey: plain.clusters[0]))
    XCTAssert(
      try outcomes(other, [stray])[0].reason?.contains("does not run secure aggregation") ?? false)
  }

  /// Attacks on the keys stage: a cluster advertising as another participant, a body that is
  /// no advertisement, a copy of another cluster's key (refused, naming the copier), and a
  /// round-open whose participants a coordinator ordered to its liking.
  func testKeysMustBeTheSendersOwnAndUnique() throws {
    let orderer = try net.open(temporaryDirectory())
    XCTAssert(try outcomes(orderer, (0..<4).map(net.enrol)).allSatisfy(\.isValid))
    let unsorted = net.roundOpen(1, base: model(0), participants: names.reversed())
    XCTAssert(try outcomes(orderer, [unsorted])[0].reason?.contains("out of order") ?? false)
    let open = net.roundOpen(1, base: model(0), participants: names)
    XCTAssert(try outcomes(orderer, [open]).allSatisfy(\.isValid))
    let refused = try outcomes(
      orderer,
      [
        message(0, .keys), message(1, .keys, body: keys(1, index: 2)),
        message(2, .keys, body: [1, 2, 3]), message(3, .keys, body: keys(3, key: 1)),
      ])
    XCTAssert(refused[0].isValid)
    XCTAssert(refused[1].reason?.contains("not its advertisement") ?? false, "\(refused[1])")
    XCTAssert(refused[2].reason?.contains("not its advertisement") ?? false, "\(refused[2])")
    XCTAssert(
      refused[3].reason?.contains("cluster-3\" advertises a key already advertised") ?? false,
      "\(refused[3])")
    // Each may still send its own.
    XCTAssert(try outcomes(orderer, (1..<4).map { message($0, .keys) }).allSatisfy(\.isValid))
  }

  func testRulesWithSecureAggregationNeedTheMeanAndANormBound() {
    XCTAssertNotNil(
      RoundRules(rule: .median, normBound: 1, secureAggregation: SecAggRules()).problem)
    XCTAssertNotNil(RoundRules(rule: .mean, secureAggregation: SecAggRules()).problem)
    XCTAssertNotNil(
      RoundRules(rule: .mean, normBound: 1, secureAggregation: SecAggRules(dropoutRate: 0.6))
        .problem)
    XCTAssertNil(RoundRules(rule: .mean, normBound: 1, secureAggregation: SecAggRules()).problem)
    XCTAssertNotNil(
      RoundRules(rule: .mean, normBound: 1, minimumCohort: 2, secureAggregation: SecAggRules())
        .problem)
    // The rules round-trip with them, and the statement names them.
    let rules = RoundRules(
      rule: .mean, normBound: 1, secureAggregation: SecAggRules(graph: .full, corruptRate: 0.1))
    XCTAssertEqual(try RoundRules(canonical: rules.canonicalBytes), rules)
    XCTAssert(rules.statementParameters.contains(Setting("secure-aggregation.graph", "full")))
  }
}
