import Ledger

extension FuzzTargets {
  /// A model's receipt, as a cluster gets it from a node: parsed, verified from the fixture
  /// genesis, and written back.
  static let receipt = FuzzTarget(
    "receipt", "receipt JSON, parsed and verified from the fixture genesis"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let r = try? Receipt.parse(input) else { return false }
    guard (try? Receipt.parse(r.json())) == r else {
      throw FuzzFinding(target: "receipt", problem: "a parsed receipt does not survive its JSON")
    }
    _ = try? r.verify(genesis: FuzzFixtures.genesis, modelHash: nil)
    return true
  }
}
