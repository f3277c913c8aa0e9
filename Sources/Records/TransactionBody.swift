import Canonical

/// The kinds of ledger transaction, by the tag their encoding carries after the format version.
/// Defined here, once, for the ledger's `Transaction` and for the records an enclave reads.
public enum TransactionKind: UInt8, Sendable, CaseIterable {
  case genesis = 1
  case enrolment = 2
  case roundOpen = 3
  case commitment = 4
  case roundClose = 5
  case endorsement = 6
  case modelCommit = 7
  case roundAbort = 8
  case groupKey = 9
  case reportCommitment = 10
  case evaluationClose = 11
  case metricEndorsement = 12
  case metricCommit = 13
  case secaggMessage = 14
  case secaggStageClose = 15

  /// The version byte every transaction's encoding starts with.
  public static let formatVersion: UInt8 = 1

  public var name: String {
    switch self {
    case .genesis: "genesis"
    case .enrolment: "cluster-enrolment"
    case .roundOpen: "round-open"
    case .commitment: "update-commitment"
    case .roundClose: "round-close"
    case .endorsement: "endorsement"
    case .modelCommit: "model-commit"
    case .roundAbort: "round-abort"
    case .groupKey: "group-key"
    case .reportCommitment: "report-commitment"
    case .evaluationClose: "evaluation-close"
    case .metricEndorsement: "metric-endorsement"
    case .metricCommit: "metric-commit"
    case .secaggMessage: "secagg-message"
    case .secaggStageClose: "secagg-stage-close"
    }
  }
}

/// A record that travels as one kind of ledger transaction. An enclave reads such transactions
/// straight from an inclusion proof's bytes, so the records it checks live here, beside the
/// ledger's `Transaction` tags they carry.
public protocol TransactionBody: CanonicalCodable {
  static var transactionKind: TransactionKind { get }
}

extension TransactionBody {
  /// How the ledger transaction carrying this record begins: format version 1, then the kind.
  public static var transactionPrefix: [UInt8] {
    [TransactionKind.formatVersion, transactionKind.rawValue]
  }

  /// The record a ledger transaction's canonical bytes carry; throws for any other kind.
  public init(transaction bytes: [UInt8]) throws(CanonicalDecodingError) {
    guard bytes.starts(with: Self.transactionPrefix) else {
      throw .invalid(
        field: "transaction",
        problem:
          "is not a \(Self.transactionKind.name) (version \(TransactionKind.formatVersion), kind \(Self.transactionKind.rawValue))"
      )
    }
    self = try Self(canonical: Array(bytes.dropFirst(Self.transactionPrefix.count)))
  }
}

/// A record a genesis node signs (round-open, round-close, round-abort): over the network and
/// the body up to the signature, for the record's own purpose.
public protocol NodeSigned {
  var signer: PublicKey { get }
  var signature: Signature { get }
  static var purpose: SigningPurpose { get }
  /// Everything the encoding holds before the signature.
  func encodeBody(to w: inout CanonicalWriter)
}

extension NodeSigned {
  /// What the node signs.
  public func message(network: Hash256) -> [UInt8] {
    var w = CanonicalWriter()
    w.hash(network)
    encodeBody(to: &w)
    return w.bytes
  }

  public func verifies(network: Hash256) -> Bool {
    signer.verifies(signature, over: message(network: network), for: Self.purpose)
  }
}
