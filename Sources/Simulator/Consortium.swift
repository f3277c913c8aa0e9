import Federation
import Foundation
import Ledger
import Records

extension Genesis {
  /// The genesis `simulate` and `fedledger network init` found: a consortium of the clusters'
  /// operators, one member each (one cluster per member keeps any member's own updates short
  /// of a cohort), the first nodes' worth of them also running the ledger nodes; endorsed by
  /// the nodes' enclaves (their platform keys and measurement) or, without enclaves, by the
  /// node keys.
  public static func consortium(
    network: String, configuration c: SimulationConfiguration, members: [SigningKey],
    nodes: [SigningKey], enclavePlatforms: [[UInt8]] = [], measurement: [UInt8]? = nil,
    initialModel: Hash256?, rules: RoundRules, evaluation: EvaluationRules?
  ) throws -> Genesis {
    let genesis = Genesis(
      network: network, createdAt: ISO8601DateFormatter().string(from: Date()),
      members: members.enumerated().map { .init(name: "member-\($0)", key: $1.publicKey) },
      nodes: nodes.enumerated().map {
        .init(name: "node-\($0)", member: "member-\($0)", key: $1.publicKey)
      },
      endorsers: enclavePlatforms.isEmpty
        ? nodes.enumerated().map { .init(name: "node-\($0)", key: $1.publicKey) }
        : try enclavePlatforms.enumerated().map {
          guard let key = PublicKey(bytes: $1) else {
            throw LedgerError.storage(
              path: "node-\($0)", reason: "its enclave's platform key is not an Ed25519 key")
          }
          return .init(name: "node-\($0)", kind: .simulatedEnclave, key: key)
        },
      endorsementThreshold: c.effectiveEndorsementThreshold, initialModel: initialModel,
      round: try c.recordedSettings,
      enclaveMeasurements: measurement.map { [Hash256(bytes: $0)!] } ?? [], rules: rules,
      clustersPerMember: 1, evaluation: evaluation)
    try genesis.validate()
    return genesis
  }
}
