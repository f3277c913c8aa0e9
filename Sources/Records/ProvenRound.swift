/// A closed round as the ledger proves it: a round-close in a block that a quorum of the
/// ledger's nodes signed and judged valid, and the round-open whose hash the close names.
///
/// The one check that every aggregator runs before it reads a round (an enclave, or a node's
/// clear aggregator), so that whoever hands it the round (its host, a coordinator) can change
/// neither which updates, their clusters and order, nor the rules and base model.
public struct ProvenRound: Sendable {
  public var network: Hash256
  public var open: RoundOpen
  public var close: RoundClose
  public var round: UInt64 { close.round }
  public var rules: RoundRules { open.rules }

  /// Checks `closed` against the ledger's `nodes` and their block `quorum`, and `open` against
  /// the close.
  public init(closed: InclusionProof, open bytes: [UInt8], nodes: Set<PublicKey>, quorum: Int)
    throws(ProvenRoundError)
  {
    let network = closed.header.network
    do {
      _ = try closed.verify(network: network, nodes: nodes, quorum: quorum)
    } catch {
      throw .notProven("\(error)")
    }
    let close: RoundClose
    do {
      close = try RoundClose(transaction: closed.transaction)
    } catch {
      throw .notARoundClose("\(error)")
    }
    guard Hash256.of(bytes) == close.open else {
      throw .otherRoundOpen(round: close.round, named: close.open)
    }
    let open: RoundOpen
    do {
      open = try RoundOpen(transaction: bytes)
    } catch {
      throw .unreadableRoundOpen("\(error)")
    }
    guard open.round == close.round else {
      throw .roundsDiffer(open: open.round, close: close.round)
    }
    // The ledger checked both signatures; checked again, cheaply, so a forged block would also
    // need a node's own signature on each.
    for (signer, verifies, what) in [
      (open.signer, open.verifies(network: network), "round-open"),
      (close.signer, close.verifies(network: network), "round-close"),
    ] where !nodes.contains(signer) || !verifies {
      throw .notSignedByANode(what)
    }
    if let problem = open.rules.problem { throw .invalidRules(problem) }
    self.network = network
    self.open = open
    self.close = close
  }
}

/// Why a round is not proven.
public enum ProvenRoundError: Error, Equatable, CustomStringConvertible {
  case notProven(String)
  case notARoundClose(String)
  case otherRoundOpen(round: UInt64, named: Hash256)
  case unreadableRoundOpen(String)
  case roundsDiffer(open: UInt64, close: UInt64)
  case notSignedByANode(String)
  case invalidRules(String)

  public var description: String {
    switch self {
    case .notProven(let why): "the ledger does not prove the round closed: \(why)"
    case .notARoundClose(let why): "the proven transaction is not a round-close: \(why)"
    case .otherRoundOpen(let round, let named):
      "the round-open given is not the one round \(round)'s round-close names (\(named.short))"
    case .unreadableRoundOpen(let why): "the round-open does not decode: \(why)"
    case .roundsDiffer(let open, let close):
      "the round-open is of round \(open), the close of \(close)"
    case .notSignedByANode(let what):
      "the \(what) is not signed by a ledger node of this network's policy"
    case .invalidRules(let problem): "the round's rules: \(problem)"
    }
  }
}
