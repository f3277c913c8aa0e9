/// An evaluation-close as the ledger proves it: in a block a quorum of the ledger's nodes
/// signed and judged valid, signed itself by one of them.
///
/// The one check every combiner runs before it reads a report (an enclave, or a node's clear
/// aggregator), as `ProvenRound` is for rounds: whoever hands it the evaluation can change
/// neither which reports count, their clusters, keys and sizes, nor the rules.
public struct ProvenEvaluation: Sendable {
  public var network: Hash256
  public var close: EvaluationClose
  /// Hash of the evaluation-close transaction, which the metric statement names.
  public var closeHash: Hash256

  public init(closed: InclusionProof, nodes: Set<PublicKey>, quorum: Int)
    throws(ProvenEvaluationError)
  {
    let network = closed.header.network
    do {
      try closed.verify(network: network, nodes: nodes, quorum: quorum)
    } catch {
      throw .notProven("\(error)")
    }
    let close: EvaluationClose
    do {
      close = try EvaluationClose(transaction: closed.transaction)
    } catch {
      throw .notAnEvaluationClose("\(error)")
    }
    // The ledger checked the node's signature; checked again, cheaply, so a forged block would
    // also need a node's own signature on the close.
    guard nodes.contains(close.signer), close.verifies(network: network) else {
      throw .notSignedByANode
    }
    self.network = network
    self.close = close
    closeHash = Hash256.of(closed.transaction)
  }

  /// Why `reports` are not the payloads the close names, in its order, or nil. Every report
  /// must be there: a host that could leave one out would choose whose reports count.
  public func problem(with reports: [[UInt8]]) -> String? {
    let n = close.reports.count
    guard reports.count == n else {
      return "\(reports.count) report(s) given; round \(close.round)'s evaluation-close lists \(n)"
    }
    guard zip(close.reports, reports).allSatisfy({ Hash256.of($1) == $0.payload }) else {
      return
        "the reports given are not the \(n) round \(close.round)'s evaluation-close lists, in its order"
    }
    return nil
  }
}

/// Why an evaluation is not proven.
public enum ProvenEvaluationError: Error, Equatable, CustomStringConvertible {
  case notProven(String)
  case notAnEvaluationClose(String)
  case notSignedByANode

  public var description: String {
    switch self {
    case .notProven(let why): "the ledger does not prove the evaluation closed: \(why)"
    case .notAnEvaluationClose(let why):
      "the proven transaction is not an evaluation-close: \(why)"
    case .notSignedByANode: "the evaluation-close is not signed by a ledger node of the policy"
    }
  }
}
