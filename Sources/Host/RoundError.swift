/// Why a round could not be carried to its commit or abort.
public enum RoundError: Error, Equatable, CustomStringConvertible {
  /// A transaction the round needs was not in the blocks the orderer cut.
  case notOrdered(round: Int, what: String)
  /// Some aggregators endorsed the closed round while others found too few updates.
  case aggregatorsDisagree(round: Int, tooFewUpdates: [String])
  /// No statement has k endorsements.
  case noQuorum(round: Int, counts: [Int], threshold: Int)
  /// The model released is not the one the commit names.
  case releasedAnotherModel(round: Int)

  public var description: String {
    switch self {
    case .notOrdered(let round, let what): "round \(round): the \(what) was not ordered"
    case .aggregatorsDisagree(let round, let reasons):
      "round \(round): the aggregators disagree on whether it can commit: \(reasons)"
    case .noQuorum(let round, let counts, let k):
      "round \(round): no aggregation statement has \(k) endorsements (\(counts.map(String.init).joined(separator: ", "))); the round cannot commit"
    case .releasedAnotherModel(let round):
      "round \(round): the model released is not the committed one"
    }
  }
}
