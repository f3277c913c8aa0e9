import Aggregation
import Attestation
import Crypto
import Dispatch
import Federation
import Ledger
import Privacy
import Protection
import Records
import RecordsJSON
import UpdateSealing

/// A cluster's edge gateway as the network sees it: the one place that holds the cluster's
/// enrolled key and its plaintext updates.
///
/// It trains only on a base model the ledger proves (a receipt, or genesis's initial model),
/// checks the enclaves' evidence and the ledger's group key before it trusts them, protects
/// each update as the privacy mode asks (sealed to the enclaves in mode tee), and signs the
/// commitment that puts the update's payload hash on the ledger. Only the protected payload
/// and the commitment leave it.
public final class ClusterAgent {
  public let id: ClusterID
  /// The cluster's name on the ledger.
  public let name: String
  public let network: Hash256
  let key: SigningKey
  /// What the mode does to an update; nil until the cluster has checked whatever the mode
  /// needs it to trust (in mode tee, the enclaves' group key): nothing is sent before.
  private var protection: (any UpdateProtection)?
  /// Time spent protecting updates and reports (sealing, in mode tee).
  public internal(set) var protectingNanoseconds: UInt64 = 0
  /// Sees each update where the cluster protects it, before anything leaves the cluster
  /// (tests compare it with what crosses to the hosts).
  public var onProtect: ((ClusterUpdate) -> Void)?

  /// The nonce of the evidence this cluster asked for last.
  private var nonce: [UInt8]?
  /// The network this cluster joined.
  private let genesis: Genesis
  /// The base model this cluster checked and trains on.
  public private(set) var base: Hash256?
  /// The devices this cluster enrols with: it never claims more for an update.
  public private(set) var enrolledDevices: UInt32 = 1
  /// The model this cluster last checked against the ledger: the one it may report on.
  public private(set) var checked: Hash256?
  /// The last receipt that verified, and its model: the same receipt is not checked twice.
  private var proven: (model: Hash256, receipt: Receipt)?
  /// This round's secure-aggregation session (privacy mode secagg).
  var secagg: SecAggSession?

  /// An agent on the network `genesis` founds. The mode is genesis's, not a setting of the
  /// cluster's: where enclaves endorse (mode tee) it sends nothing until `trustEnclaves`.
  public init(
    id: ClusterID, name: String, genesis: Genesis, key: SigningKey = SigningKey(),
    enrolledDevices: UInt32 = 1
  ) {
    self.id = id
    self.enrolledDevices = enrolledDevices
    self.name = name
    self.network = genesis.hash
    self.genesis = genesis
    self.key = key
    let enclaves = genesis.endorsers.contains { $0.kind != .genesisKey }
    // Under secure aggregation updates leave only masked (`secaggSubmission`; `submission`
    // refuses), and evaluation reports in the clear, as in mode none.
    protection = enclaves ? nil : ClearUpdates()
  }

  public var publicKey: PublicKey { key.publicKey }
  /// Whether the cluster may protect updates now (in mode tee: it checked the group key).
  public var canProtect: Bool { protection != nil }

  /// The enrolment that puts this cluster's key and device count on the ledger, signed by its
  /// member.
  public func enrolment(member: String, memberKey: SigningKey, devices: UInt32 = 1)
    -> Transaction
  {
    enrolledDevices = devices
    return .enrolment(
      ClusterEnrolment(
        network: network, cluster: name, key: key.publicKey, member: member, devices: devices,
        memberKey: memberKey))
  }

  /// A fresh nonce for an enclave's evidence; the cluster keeps it, so evidence made for any
  /// other nonce (replayed, or asked by someone else) is refused.
  public func challenge() -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    let fresh = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
    nonce = fresh
    return fresh
  }

  /// Trusts the enclaves' group key only if an enclave's `evidence` for this cluster's last
  /// challenge verifies against genesis's `policy` and attests the group key the ledger
  /// recorded (and every round-open names), not merely some attested enclave's. From then on
  /// updates are sealed to it.
  public func trustEnclaves(
    evidence: EnclaveEvidence, policy: EnclavePolicy, ledgerGroupKey: [UInt8]
  ) throws(ClusterAgentError) {
    guard let nonce else { throw .enclaveRefused("this cluster asked for no evidence") }
    self.nonce = nil
    do {
      try evidence.verify(nonce: nonce, policy: policy)
    } catch {
      throw .enclaveRefused("\(error)")
    }
    guard evidence.groupKey == ledgerGroupKey else {
      throw .enclaveRefused("it attests another group key than the ledger's")
    }
    guard let groupKey = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: ledgerGroupKey)
    else { throw .enclaveRefused("the ledger's group key is not an X25519 key") }
    protection = SealedUpdates(groupKey: groupKey)
  }

  /// Accepts `model` as the base to train on: genesis's initial model, or a model whose
  /// `receipt` proves the ledger committed it (k endorsements in a block the nodes' quorum
  /// signed), checked offline against genesis. A cluster sends updates only on a base it
  /// accepted.
  public func acceptBase(_ model: Hash256, receipt: Receipt?) throws(ClusterAgentError) {
    try check(model, receipt: receipt)
    base = model
  }

  /// Checks that the ledger proves `model` (as `acceptBase` does), before the cluster judges
  /// it on its held-out data; the base it trains on stays as it was.
  public func check(_ model: Hash256, receipt: Receipt?) throws(ClusterAgentError) {
    checked = nil
    if let receipt {
      if let proven, proven.model == model, proven.receipt == receipt {
        checked = model
        return
      }
      do {
        _ = try receipt.verify(genesis: genesis, modelHash: model)
      } catch {
        throw .unprovenBase("\(error)")
      }
      proven = (model, receipt)
    } else if model != genesis.initialModel {
      throw .unprovenBase("it is not genesis's initial model, and no receipt proves it")
    }
    checked = model
  }

  /// What the cluster sends for its `update`: the protected payload, for every node's blob
  /// store, and its signed commitment to the payload's hash, for the ledger. The update is bound
  /// to the base model it was trained on.
  public func submission(for update: ClusterUpdate) throws -> Submission {
    if genesis.rules.secureAggregation != nil { throw ClusterAgentError.secureAggregation }
    guard let protection else { throw ClusterAgentError.noTrustedGroupKey }
    guard update.cluster == id, let baseModel = Hash256(hex: update.baseModelHash) else {
      throw ClusterAgentError.notOurs(cluster: update.cluster)
    }
    guard baseModel == base else {
      throw ClusterAgentError.unprovenBase("the update's base is not the one this cluster accepted")
    }
    // More devices than enrolled (its device tier grew) would be refused: claim at most those.
    var update = update
    update.devices = min(max(update.devices, 1), Int(enrolledDevices))
    onProtect?(update)
    let start = DispatchTime.now().uptimeNanoseconds
    let payload = try protection.protect(
      UpdatePayload(update).encode(),
      binding: UpdateBinding(
        network: network, round: UInt64(update.round), cluster: name, baseModel: baseModel),
      signer: key)
    protectingNanoseconds += DispatchTime.now().uptimeNanoseconds - start
    let commitment = Transaction.commitment(
      UpdateCommitment(
        network: network, round: UInt64(update.round), cluster: name,
        payload: Hash256.of(payload), payloadSize: UInt64(payload.count), clusterKey: key))
    return Submission(payload: payload, commitment: commitment)
  }
}

extension ClusterAgent {
  /// What the cluster sends for its evaluation `report` on `model`, the model committed in
  /// round `round`: the report protected as the mode asks (sealed to the enclaves in mode tee,
  /// as updates are, for it tells the plant's label mix), and its signed commitment to it for
  /// the ledger. The cluster reports only on a model it checked against the ledger.
  public func reportSubmission(
    for report: EvaluationReport, model: Hash256, round: UInt64
  ) throws -> ReportSubmission {
    guard let protection else { throw ClusterAgentError.noTrustedGroupKey }
    guard report.cluster == id else { throw ClusterAgentError.notOurs(cluster: report.cluster) }
    guard checked == model, Hash256(hex: report.modelHash) == model, report.round == Int(round)
    else {
      throw ClusterAgentError.unprovenBase(
        "it reports only on the model it checked last, in the round that committed it")
    }
    guard let rules = genesis.evaluation else {
      throw ClusterAgentError.refusedReport("this network records no federated metric")
    }
    let payload = ReportPayload(
      round: round, model: model, cluster: name, loss: report.loss, accuracy: report.accuracy,
      samples: UInt64(clamping: report.samples),
      classCounts: report.classCounts.map { UInt64(clamping: $0) })
    // The cluster's own figures, checked as every combiner will: an impossible report would
    // use up its one report of the round, and a refusal for claiming too many samples would
    // tell everyone it holds more than the cap.
    guard report.samples >= 0, report.classCounts.allSatisfy({ $0 >= 0 }) else {
      throw ClusterAgentError.refusedReport("claims a negative count")
    }
    if let problem = ReportCheck(round: round, model: model, rules: rules).problem(
      payload, from: name)
    {
      throw ClusterAgentError.refusedReport(problem)
    }
    let start = DispatchTime.now().uptimeNanoseconds
    let protected = try protection.protect(
      payload.canonicalBytes,
      binding: UpdateBinding(
        network: network, round: round, cluster: name, baseModel: model, purpose: .report),
      signer: key)
    protectingNanoseconds += DispatchTime.now().uptimeNanoseconds - start
    return ReportSubmission(
      payload: protected,
      commitment: .reportCommitment(
        ReportCommitment(
          network: network, round: round, model: model, cluster: name,
          payload: Hash256.of(protected), payloadSize: UInt64(protected.count), clusterKey: key)))
  }
}

/// What a cluster sends for one evaluation report.
public struct ReportSubmission: Sendable {
  /// The protected report, stored by every node and named by hash in the entry.
  public var payload: [UInt8]
  /// The cluster's signed commitment to it, for the ledger.
  public var commitment: Transaction
}

/// What a cluster sends for one update.
public struct Submission: Sendable {
  /// The protected update, stored by every node and named by hash in the commitment.
  public var payload: [UInt8]
  /// The cluster's signed commitment to the payload, for the ledger.
  public var commitment: Transaction

  public init(payload: [UInt8], commitment: Transaction) {
    self.payload = payload
    self.commitment = commitment
  }
}

/// Why a cluster agent refused.
public enum ClusterAgentError: Error, Equatable, CustomStringConvertible {
  /// An enclave's evidence failed the cluster's own check.
  case enclaveRefused(String)
  /// The mode seals updates to the enclaves, and no group key passed the cluster's check yet.
  case noTrustedGroupKey
  /// The update is another cluster's, or names no base model.
  case notOurs(cluster: ClusterID)
  /// The base model is not one the ledger proves (or not the one accepted).
  case unprovenBase(String)
  /// The cluster's own evaluation report is not one it may send.
  case refusedReport(String)
  /// The network runs secure aggregation: updates leave masked, through its stages.
  case secureAggregation

  public var description: String {
    switch self {
    case .enclaveRefused(let why): "refuses the enclave: \(why)"
    case .noTrustedGroupKey:
      "has no group key it checked, so it sends no update (privacy tee)"
    case .unprovenBase(let why): "will not train on or send for this base model: \(why)"
    case .refusedReport(let why): "will not send its evaluation report: it \(why)"
    case .secureAggregation:
      "sends no clear update: the network runs secure aggregation, so updates leave masked"
    case .notOurs(let cluster):
      "will not send an update of cluster \(cluster), or one without a base model hash"
    }
  }

}
