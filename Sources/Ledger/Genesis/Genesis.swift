import Attestation
import Canonical
import Foundation
import Records
import RecordsJSON
import SwiftASN1
import X509

/// The network's founding document: who is in the consortium, which keys sign blocks and
/// endorse models, how many must agree, and the default round configuration.
///
/// Its hash (SHA-256 of its canonical encoding) names the network. Every block header carries
/// it and every signature covers it, so nothing made for one network verifies in another. The
/// JSON form is documented in docs/ledger.md.
public struct Genesis: CanonicalCodable, Equatable {
  public struct Member: Codable, Equatable, Sendable {
    public var name: String
    public var key: PublicKey
    public init(name: String, key: PublicKey) {
      self.name = name
      self.key = key
    }
  }
  /// A ledger node: its operator and the key it signs blocks with.
  public struct Node: Codable, Equatable, Sendable {
    public var name: String
    public var member: String
    public var key: PublicKey
    public init(name: String, member: String, key: PublicKey) {
      self.name = name
      self.member = member
      self.key = key
    }
  }
  /// Who may endorse aggregation statements: a key, or the platform an enclave runs on. k of
  /// them must sign the same statement; a platform counts once however many enclaves it runs.
  public struct Endorser: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable {
      /// The key itself is trusted because genesis lists it.
      case genesisKey = "genesis-key"
      /// A simulated enclave (NO HARDWARE PROTECTION) on the platform whose key this is: its
      /// endorsements carry a report signed by that platform key, of a measurement in
      /// `enclaveMeasurements`, binding the enclave's signing key to this network.
      case simulatedEnclave = "simulated-enclave"
      /// An SGX enclave on the platform with this PPID: its endorsements carry a DCAP quote,
      /// from this platform's PCK certificate, of a measurement (MRENCLAVE) in
      /// `enclaveMeasurements`, binding the endorsing key to this network, and the collateral
      /// to check it with. The endorser is the machine, not one enclave's key, so it outlives
      /// the enclave's keys, its sealed state and its platform's TCB recoveries.
      case sgxEnclave = "sgx-enclave"

      /// The kind of evidence this endorser's endorsements carry.
      public var evidence: Evidence.Kind {
        switch self {
        case .genesisKey: .genesisKey
        case .simulatedEnclave: .simulatedEnclave
        case .sgxEnclave: .sgxDCAP
        }
      }
    }
    public var name: String
    public var kind: Kind
    /// The endorsing key (genesis-key) or the platform's key (simulated-enclave); nil for
    /// sgx-enclave.
    public var key: PublicKey?
    /// The platform's PPID (sgx-enclave only).
    public var ppid: PPID?

    /// A genesis-key or simulated-enclave endorser.
    public init(name: String, kind: Kind = .genesisKey, key: PublicKey) {
      self.name = name
      self.kind = kind
      self.key = key
    }

    /// An sgx-enclave endorser: the SGX platform with this PPID.
    public init(name: String, sgxPlatform ppid: PPID) {
      self.name = name
      kind = .sgxEnclave
      self.ppid = ppid
    }

    init(name: String, kind: Kind, key: PublicKey?, ppid: PPID?) {
      self.name = name
      self.kind = kind
      self.key = key
      self.ppid = ppid
    }

    /// Nil when the endorser names what its kind needs, and only that.
    var problem: String? {
      switch (kind, key, ppid) {
      case (.sgxEnclave, nil, .some), (.genesisKey, .some, nil), (.simulatedEnclave, .some, nil):
        nil
      case (.sgxEnclave, _, _):
        "endorser \"\(name)\" is an sgx-enclave: it needs a ppid (the platform's, 32 hex digits) and no key"
      default:
        "endorser \"\(name)\" is a \(kind.rawValue): it needs a key and no ppid"
      }
    }
  }

  public static let format = "fedledger-genesis/7"
  public var network: String
  /// When the network was founded, ISO 8601 in UTC.
  public var createdAt: String
  public var members: [Member]
  public var nodes: [Node]
  public var endorsers: [Endorser]
  /// k: distinct endorsers that must sign the same statement before a model commits.
  public var endorsementThreshold: Int
  /// Node signatures a block needs before a receipt built on it is accepted.
  public var blockQuorum: Int
  /// The model round 1 starts from, if fixed at founding.
  public var initialModel: Hash256?
  /// Default round configuration.
  public var round: [Setting]
  /// Enclave measurements whose endorsements count: SHA-256 of the enclave program for
  /// simulated enclaves, MRENCLAVE for SGX ones.
  public var enclaveMeasurements: [Hash256]
  /// The root CA (DER) SGX evidence must chain to; nil pins Intel's SGX Root CA. Another root
  /// makes sense only for a test network.
  public var sgxRootCA: [UInt8]?
  /// What decides every round's result; each round-open must carry exactly these.
  public var rules: RoundRules
  /// The most clusters one member may enrol (nil: no limit): it bounds the Sybils a member can
  /// put into a round's cohort.
  public var clustersPerMember: Int?
  /// How clusters' reports on each committed model combine into the metric the ledger records
  /// beside it; nil when the network records no federated metric.
  public var evaluation: EvaluationRules?

  public init(
    network: String, createdAt: String, members: [Member], nodes: [Node], endorsers: [Endorser],
    endorsementThreshold: Int, blockQuorum: Int? = nil, initialModel: Hash256? = nil,
    round: [Setting] = [], enclaveMeasurements: [Hash256] = [], sgxRootCA: [UInt8]? = nil,
    rules: RoundRules = RoundRules(), clustersPerMember: Int? = nil,
    evaluation: EvaluationRules? = nil
  ) {
    self.network = network
    self.createdAt = createdAt
    self.members = members
    self.nodes = nodes
    self.endorsers = endorsers
    self.endorsementThreshold = endorsementThreshold
    // Where enclaves take blocks as proof of a round, two quorums must share an honest node
    // even with up to a third of the nodes Byzantine (2/3, as BFT protocols count).
    let enclaves = endorsers.contains { $0.kind != .genesisKey }
    self.blockQuorum = blockQuorum ?? (enclaves ? nodes.count * 2 / 3 + 1 : nodes.count / 2 + 1)
    self.initialModel = initialModel
    self.round = round.sorted(by: Setting.precedes)
    self.enclaveMeasurements = Array(Set(enclaveMeasurements)).sorted()
    self.sgxRootCA = sgxRootCA
    self.rules = rules
    self.clustersPerMember = clustersPerMember
    self.evaluation = evaluation
  }

  /// The network's attestation policy: the platforms of its simulated-enclave endorsers, the
  /// PPIDs of its sgx-enclave endorsers, its measurements, the default TCB statuses, its SGX
  /// root, and its nodes' keys and block quorum. Enclaves must run under exactly
  /// this policy (their evidence binds its digest) to share the group key or endorse.
  public func enclavePolicy() -> EnclavePolicy {
    EnclavePolicy(
      trustedPlatforms: Set(
        endorsers.filter { $0.kind == .simulatedEnclave }.compactMap { $0.key?.bytes }),
      sgxPlatforms: Set(endorsers.compactMap { $0.ppid?.bytes }),
      measurements: Set(enclaveMeasurements.map(\.bytes)), sgxRoot: sgxRootCA,
      ledgerNodes: Set(nodes.map(\.key.bytes)), blockQuorum: UInt32(clamping: blockQuorum))
  }

  /// The network's identity.
  public var hash: Hash256 { Hash256.of(canonicalBytes) }

  public func endorser(_ key: PublicKey) -> Endorser? { endorsers.first { $0.key == key } }

  public func node(_ key: PublicKey) -> Node? { nodes.first { $0.key == key } }
  public func member(_ name: String) -> Member? { members.first { $0.name == name } }
}
