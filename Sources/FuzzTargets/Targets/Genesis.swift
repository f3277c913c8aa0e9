import Ledger

extension FuzzTargets {
  /// A genesis file, as every node, cluster and verifier reads it.
  static let genesis = FuzzTarget(
    "genesis", "genesis JSON, parsed, validated and written back"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let g = try? Genesis.parse(input, path: "fuzz") else { return false }
    guard let again = try? Genesis.parse(g.json(), path: "fuzz"), again == g,
      again.hash == g.hash
    else {
      throw FuzzFinding(target: "genesis", problem: "a parsed genesis does not survive its JSON")
    }
    return true
  }
}
