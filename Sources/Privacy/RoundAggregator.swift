import Federation
import Records

/// The node's half of a privacy mode: turns a closed round into this node's endorsement.
///
/// Everything it reads comes with the ledger's proof: the round-close (a quorum-signed block
/// and a Merkle path) fixes the updates, their clusters' keys and their payload hashes; the
/// round-open it names fixes the rules and the base model.
public protocol RoundAggregator: AnyObject {
  /// Aggregates exactly `round` and endorses the result, or says why the round cannot commit.
  func aggregate(_ round: ClosedRound) throws -> AggregatorVerdict
  /// The committed model's file, against the ledger's proof of the model commit of the
  /// statement this aggregator endorsed.
  func release(_ commit: InclusionProof) throws -> [UInt8]
  /// Combines the reports of a committed model's evaluation, as the ledger's proof of the
  /// evaluation-close fixes them, and endorses the metric.
  func combine(_ evaluation: ClosedEvaluation) throws -> MetricVerdict
}

/// A committed model's evaluation the ledger closed, with the report payloads it names.
public struct ClosedEvaluation: Sendable {
  /// The ledger's proof of the evaluation-close.
  public var close: InclusionProof
  /// Each report's payload, in the close's order.
  public var reports: [[UInt8]]

  public init(close: InclusionProof, reports: [[UInt8]]) {
    self.close = close
    self.reports = reports
  }
}

/// A node's answer to a closed evaluation.
public enum MetricVerdict: Sendable {
  case endorsed(MetricEndorsement)
  /// Too few reports are valid for a metric; every node says the same.
  case tooFewReports(String)
}

/// A round the ledger closed, with the bytes its hashes fix.
public struct ClosedRound: Sendable {
  /// The ledger's proof of the round-close.
  public var close: InclusionProof
  /// The round-open transaction the close names by hash.
  public var open: [UInt8]
  /// The base model's file (the round-open names its model hash).
  public var baseModel: [UInt8]
  /// Each update's payload, in the close's order (the close names each by hash).
  public var payloads: [[UInt8]]
  /// Secure aggregation's messages, in a round that runs it.
  public var secagg: SecAggRecords?

  public init(
    close: InclusionProof, open: [UInt8], baseModel: [UInt8], payloads: [[UInt8]],
    secagg: SecAggRecords? = nil
  ) {
    self.close = close
    self.open = open
    self.baseModel = baseModel
    self.payloads = payloads
    self.secagg = secagg
  }
}

/// A node's answer to a closed round.
public enum AggregatorVerdict: Sendable {
  /// The node endorses a statement; `decisions` are the strategy's verdicts with their weights
  /// where the mode lets the host see them (none), nil where only the statement is public
  /// (tee); `refused` are the updates refused before the strategy saw them (unreadable, or
  /// naming another cluster, round or base model than their commitment), which the statement
  /// lists as rejected.
  case endorsed(
    Endorsement, decisions: [UpdateDecision]?, refused: [AggregationStatement.Rejected] = [])

  /// Too few updates passed validation and the rule for the round's minimum cohort.
  case tooFewUpdates(String)
}

/// Why an aggregator could not answer.
public enum AggregatorError: Error, Equatable, CustomStringConvertible {
  /// The round's records or bytes do not decode or do not match each other.
  case invalidRound(String)
  /// A release was asked against a commit of another statement than this aggregator's.
  case notEndorsed(statement: Hash256)
  /// The round is before the last this node answered, or is that round with another close:
  /// a node answers each round once.
  case alreadyAnswered(round: UInt64, last: UInt64)

  public var description: String {
    switch self {
    case .invalidRound(let why): "the closed round is not usable: \(why)"
    case .alreadyAnswered(let round, let last):
      "round \(round) is not after round \(last), the last this node answered with another close"
    case .notEndorsed(let statement):
      "the commit is of statement \(statement.short), which this node did not endorse"
    }
  }
}
