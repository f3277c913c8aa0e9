import Learning

extension FuzzTargets {
  /// A model file, as a cluster fetches it from a node or a user hands it to `verify`.
  static let model = FuzzTarget(
    "model", "model file (FLMODEL), as fetched from a node or read by verify"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let m = try? ModelFile.decode(input, path: "fuzz") else { return false }
    let bytes = ModelFile.encode(m)
    guard let again = try? ModelFile.decode(bytes, path: "fuzz"), ModelFile.encode(again) == bytes
    else {
      throw FuzzFinding(target: "model", problem: "a decoded model does not survive its encoding")
    }
    return true
  }
}
