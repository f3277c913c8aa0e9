import Host
import Ledger
import Records
import RecordsJSON
import UpdateSealing
import XCTest

final class EndorsementTallyTests: XCTestCase {
  let network = Hash256.of([7])

  func statement(_ model: UInt8) -> AggregationStatement {
    AggregationStatement(
      round: 1, baseModel: .zero, accepted: [], rejected: [], rule: "mean", parameters: [],
      newModel: Hash256.of([model]), newModelBlob: Hash256.of([model, 1]), newModelSize: 10)
  }

  /// k of n must sign the same statement; a divergent one (a Byzantine node's) is recorded but
  /// never counts towards it, and neither does a repeated endorsement or one the ledger refused.
  func testOnlyAStatementKEndorsersSignedHasAQuorum() {
    var tally = EndorsementTally<AggregationStatement>(threshold: 3)
    let honest = statement(1)
    var recorded: [Hash256] = []
    func endorse(
      _ s: AggregationStatement, _ node: Int, key: SigningKey = SigningKey(), valid: Bool = true
    ) -> Hash256 {
      let e = Endorsement(network: network, statement: s, key: key)
      tally.add(e, node: node, endorser: "node-\(node)", valid: valid)
      return Hash256.of(Transaction.endorsement(e).canonicalBytes)
    }
    let repeated = SigningKey()
    recorded.append(endorse(honest, 0))
    recorded.append(endorse(honest, 1, key: repeated))
    _ = endorse(statement(2), 2)
    // Attack: a node repeats its endorsement, or makes new keys (an enclave restarted, or a
    // host with its simulated platform's key): it is still one endorser.
    _ = endorse(honest, 1, key: repeated)
    _ = endorse(honest, 1)
    _ = endorse(honest, 4, valid: false)
    XCTAssertNil(tally.quorum, "2 of 3 is no quorum, whatever the others submitted")
    XCTAssertEqual(tally.counts, [2, 1])
    recorded.append(endorse(honest, 3))
    let quorum = tally.quorum
    XCTAssertEqual(quorum?.statement, honest)
    XCTAssertEqual(quorum?.endorsements, recorded)
    XCTAssertEqual(quorum?.nodes, [0, 1, 3])
  }
}
