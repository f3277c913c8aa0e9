import Crypto
import Records

// What hosts do with the shared records and an enclave never does: ledger nodes sign
// round-opens, round-closes and blocks, the ledger checks endorsements' signatures, builds
// transactions' bytes and names evidence kinds for people, and keys are kept as seeds.

extension RoundOpen {
  /// A round-open signed by `node` for `network`.
  public init(
    network: Hash256, round: UInt64, baseModel: Hash256, participants: [String],
    rules: RoundRules, configuration: [Setting] = [], groupKey: [UInt8]? = nil, node: SigningKey
  ) {
    self.init(
      round: round, baseModel: baseModel, participants: participants, rules: rules,
      configuration: configuration, groupKey: groupKey, signer: node.publicKey,
      signature: Signature(unchecked: []))
    signature = node.sign(message(network: network), for: .roundOpen)
  }
}

extension RoundClose {
  /// A round-close signed by `node` for `network`.
  public init(network: Hash256, round: UInt64, open: Hash256, updates: [Entry], node: SigningKey) {
    self.init(
      round: round, open: open, updates: updates, signer: node.publicKey,
      signature: Signature(unchecked: []))
    signature = node.sign(message(network: network), for: .roundClose)
  }
}

extension BlockSignature {
  /// A node's signature on `header`.
  public init(header: BlockHeader, key: SigningKey) {
    self.init(signer: key.publicKey, signature: key.sign(header.hash.bytes, for: .block))
  }
}

extension Endorsed {
  public func verifies(network: Hash256) -> Bool {
    endorser.verifies(
      signature,
      over: Self.message(
        network: network, statement: statement, endorser: endorser, evidence: evidence),
      for: Statement.purpose)
  }
}

extension EvaluationClose {
  /// An evaluation-close signed by `node` for `network`.
  public init(
    network: Hash256, round: UInt64, model: Hash256, rules: EvaluationRules, reports: [Entry],
    node: SigningKey
  ) {
    self.init(
      round: round, model: model, rules: rules, reports: reports, signer: node.publicKey,
      signature: Signature(unchecked: []))
    signature = node.sign(message(network: network), for: .evaluationClose)
  }
}

extension Evidence.Kind {
  public var name: String {
    switch self {
    case .genesisKey: "genesis-key"
    case .simulatedEnclave: "simulated-enclave (no hardware protection)"
    case .sgxDCAP: "sgx-dcap"
    }
  }
}

extension SigningKey {
  /// Restores a key from its 32-byte seed.
  public init(seed: [UInt8]) throws {
    self.init(try Curve25519.Signing.PrivateKey(rawRepresentation: seed))
  }

  public var seed: [UInt8] { Array(key.rawRepresentation) }
}

extension TransactionBody {
  /// The canonical bytes of the ledger transaction carrying this record.
  public var transactionBytes: [UInt8] { Self.transactionPrefix + canonicalBytes }
}

extension SecAggStageClose {
  /// A stage-close signed by `node` for `network`.
  public init(
    network: Hash256, round: UInt64, open: Hash256, stage: SecAggStage, messages: [Hash256],
    node: SigningKey
  ) {
    self.init(
      round: round, open: open, stage: stage, messages: messages, signer: node.publicKey,
      signature: Signature(unchecked: []))
    signature = node.sign(message(network: network), for: .secaggStageClose)
  }
}
