import Protection
import Records

/// The cluster's half of a privacy mode: what an update becomes before it leaves the cluster.
///
/// The result is the payload the nodes store and the cluster's commitment names by hash;
/// nothing else of the update leaves the cluster.
public protocol UpdateProtection: Sendable {
  func protect(_ payload: [UInt8], binding: UpdateBinding, signer: SigningKey) throws -> [UInt8]
}

/// What an update is bound to: the network, the round, the sending cluster and the base model
/// it was trained on (for a report, the model it judges). A protected payload is never valid in
/// any other, nor as the other purpose.
public struct UpdateBinding: Sendable, Equatable {
  public var network: Hash256
  public var round: UInt64
  public var cluster: String
  public var baseModel: Hash256
  public var purpose: EnvelopePurpose

  public init(
    network: Hash256, round: UInt64, cluster: String, baseModel: Hash256,
    purpose: EnvelopePurpose = .update
  ) {
    self.network = network
    self.round = round
    self.cluster = cluster
    self.baseModel = baseModel
    self.purpose = purpose
  }
}
