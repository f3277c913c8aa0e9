import Canonical

/// A record that travels as one kind of ledger transaction. An enclave reads such transactions
/// straight from an inclusion proof's bytes, so the records it checks live here, beside the
/// ledger's `Transaction` tags they carry.
public protocol TransactionBody: CanonicalCodable {
  /// The ledger's transaction kind tag (`Transaction.Kind`).
  static var transactionKind: UInt8 { get }
  /// The kind's name, for errors.
  static var transactionName: String { get }
}

extension TransactionBody {
  /// How the ledger transaction carrying this record begins: format version 1, then the kind.
  public static var transactionPrefix: [UInt8] { [1, transactionKind] }

  /// The canonical bytes of the ledger transaction carrying this record.
  public var transactionBytes: [UInt8] { Self.transactionPrefix + canonicalBytes }

  /// The record a ledger transaction's canonical bytes carry; throws for any other kind.
  public init(transaction bytes: [UInt8]) throws(DecodingError) {
    guard bytes.starts(with: Self.transactionPrefix) else {
      throw .invalid(
        field: "transaction",
        problem: "is not a \(Self.transactionName) (version 1, kind \(Self.transactionKind))")
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
