import Attestation
import Canonical
import Records

/// What the host asks of its enclave.
public enum EnclaveRequest: CanonicalCodable, Equatable {
  /// Starts the enclave: from sealed state if given, else with fresh keys, under the network's
  /// attestation policy (fixed on first start and sealed with the state; every evidence the
  /// enclave makes binds it, so a host that gives another gets an enclave no one trusts).
  case start(sealed: [UInt8]?, policy: EnclavePolicy)
  /// The first enclave of a network makes the group key.
  case createGroupKey
  /// A fresh nonce for another enclave's evidence.
  case challenge
  /// Evidence binding this enclave's keys (and group key, once held) to `nonce`.
  case evidence(nonce: [UInt8])
  /// Checks a joining enclave's evidence (which must answer one of this enclave's
  /// challenges) and seals the group key to it, with evidence of its own for the joiner's
  /// challenge.
  case admit(joiner: EnclaveEvidence, joinerChallenge: [UInt8], network: [UInt8])
  /// Takes the group key from a grant, after checking the granter's evidence.
  case accept(grant: GroupKeyGrant, network: [UInt8])
  /// Opens, validates and aggregates a closed round's updates and signs the statement.
  case aggregate(AggregateRequest)
  /// The enclave's state, sealed to this platform and measurement.
  case seal
  /// Intel's DCAP collateral, with which the enclave checks SGX evidence from here on. Not
  /// trusted: its signatures are checked against the policy's root on arrival and at every
  /// use, and the newest time signed into it becomes a floor under the host's clock.
  case collateral(Collateral)
  /// The model of the round last aggregated, against the ledger's proof of its commit.
  case release(InclusionProof)
  /// Opens, checks and combines a committed model's evaluation reports and signs the metric.
  case combine(CombineRequest)

  var tag: UInt8 {
    switch self {
    case .start: 1
    case .createGroupKey: 2
    case .challenge: 3
    case .evidence: 4
    case .admit: 5
    case .accept: 6
    case .aggregate: 7
    case .seal: 8
    case .collateral: 9
    case .release: 10
    case .combine: 11
    }
  }

  public var name: String {
    switch self {
    case .start: "start"
    case .createGroupKey: "create-group-key"
    case .challenge: "challenge"
    case .evidence: "evidence"
    case .admit: "admit"
    case .accept: "accept"
    case .aggregate: "aggregate"
    case .seal: "seal"
    case .collateral: "collateral"
    case .release: "release"
    case .combine: "combine"
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.u8(EnclaveProtocol.version)
    w.u8(tag)
    switch self {
    case .start(let sealed, let policy):
      w.optional(sealed) { $0.bytes($1) }
      policy.encode(to: &w)
    case .createGroupKey, .challenge, .seal: break
    case .evidence(let nonce): w.fixed(nonce)
    case .admit(let joiner, let challenge, let network):
      joiner.encode(to: &w)
      w.fixed(challenge)
      w.fixed(network)
    case .accept(let grant, let network):
      grant.encode(to: &w)
      w.fixed(network)
    case .aggregate(let request): request.encode(to: &w)
    case .collateral(let collateral): collateral.encode(to: &w)
    case .release(let proof): proof.encode(to: &w)
    case .combine(let request): request.encode(to: &w)
    }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let v = try r.u8("request protocol version")
    guard v == EnclaveProtocol.version else {
      throw .unknownVersion(field: "request protocol version", version: Int(v))
    }
    let tag = try r.u8("request kind")
    switch tag {
    case 1:
      let sealed = try r.optional("start sealed state") { r throws(CanonicalDecodingError) in
        try r.bytes("start sealed state")
      }
      self = .start(sealed: sealed, policy: try EnclavePolicy(from: &r))
    case 2: self = .createGroupKey
    case 3: self = .challenge
    case 4: self = .evidence(nonce: try r.fixed(32, "evidence nonce"))
    case 5:
      self = .admit(
        joiner: try EnclaveEvidence(from: &r), joinerChallenge: try r.fixed(32, "joiner challenge"),
        network: try r.fixed(32, "admit network"))
    case 6:
      self = .accept(grant: try GroupKeyGrant(from: &r), network: try r.fixed(32, "accept network"))
    case 7: self = .aggregate(try AggregateRequest(from: &r))
    case 8: self = .seal
    case 9: self = .collateral(try Collateral(from: &r))
    case 10: self = .release(try InclusionProof(from: &r))
    case 11: self = .combine(try CombineRequest(from: &r))
    default: throw .unknownKind(field: "request kind", tag: Int(tag))
    }
  }
}
