import Host
import Ledger
import Records
import XCTest

final class EndorsementTallyTests: XCTestCase {
  let network = Hash256.of([7])

  func statement(_ model: UInt8) -> AggregationStatement {
    AggregationStatement(
      round: 1, baseModel: .zero, accepted: [], rejected: [], rule: "mean", parameters: [],
      newModel: Hash256.of([model]), newModelBlob: Hash256.of([model, 1]), newModelSize: 10)
  }

  /// k of n must sign the same statement; a divergent one (a Byzantine node's) is recorded but
  /// never counts towards it.
  func testOnlyAStatementKEndorsersSignedHasAQuorum() {
    var tally = EndorsementTally(threshold: 3)
    let honest = statement(1)
    var recorded: [Hash256] = []
    for node in 0..<2 {
      let tx = tally.add(
        Endorsement(network: network, statement: honest, key: SigningKey()), node: node)
      recorded.append(Hash256.of(tx.canonicalBytes))
    }
    _ = tally.add(
      Endorsement(network: network, statement: statement(2), key: SigningKey()), node: 2)
    XCTAssertNil(tally.quorum, "2 of 3 is no quorum, whatever the third signed")
    XCTAssertEqual(tally.counts, [2, 1])
    let tx = tally.add(Endorsement(network: network, statement: honest, key: SigningKey()), node: 3)
    recorded.append(Hash256.of(tx.canonicalBytes))
    let quorum = tally.quorum
    XCTAssertEqual(quorum?.statement, honest)
    XCTAssertEqual(quorum?.endorsements, recorded)
    XCTAssertEqual(quorum?.nodes, [0, 1, 3])
  }
}
