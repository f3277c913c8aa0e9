import Canonical
import Foundation
import Records
import RecordsJSON

/// Proof that a model was committed: the model-commit transaction, its Merkle path to a block
/// header, the nodes' signatures on that header and the endorsements the commit names.
/// Verifying it needs nothing but the network's genesis (and the model, to compare hashes).
/// The JSON form is documented in docs/ledger.md.
public struct Receipt: Equatable, Sendable {
  public static let format = "fedledger-receipt/1"
  public var network: Hash256
  public var round: UInt64
  public var model: Hash256
  public var height: UInt64
  public var header: BlockHeader
  public var signatures: [BlockSignature]
  /// Canonical bytes of the model-commit transaction.
  public var transaction: [UInt8]
  /// Its position in the block, and the RFC 6962 audit path from it to the header's root.
  public var index: Int
  public var path: [Hash256]
  /// Canonical bytes of the endorsement transactions the commit names.
  public var endorsements: [[UInt8]]
  /// The model's federated metric, once the ledger committed one.
  public var metric: MetricProof?

  /// The ledger's proof of a model's federated metric: the metric-commit transaction in its
  /// signed block, and the metric endorsements it names.
  public struct MetricProof: Equatable, Sendable {
    public var height: UInt64
    public var header: BlockHeader
    public var signatures: [BlockSignature]
    /// Canonical bytes of the metric-commit transaction, its position and audit path.
    public var transaction: [UInt8]
    public var index: Int
    public var path: [Hash256]
    /// Canonical bytes of the metric-endorsement transactions the commit names.
    public var endorsements: [[UInt8]]

    public init(
      height: UInt64, header: BlockHeader, signatures: [BlockSignature], transaction: [UInt8],
      index: Int, path: [Hash256], endorsements: [[UInt8]]
    ) {
      self.height = height
      self.header = header
      self.signatures = signatures
      self.transaction = transaction
      self.index = index
      self.path = path
      self.endorsements = endorsements
    }
  }

  public init(
    network: Hash256, round: UInt64, model: Hash256, height: UInt64, header: BlockHeader,
    signatures: [BlockSignature], transaction: [UInt8], index: Int, path: [Hash256],
    endorsements: [[UInt8]], metric: MetricProof? = nil
  ) {
    self.network = network
    self.round = round
    self.model = model
    self.height = height
    self.header = header
    self.signatures = signatures
    self.transaction = transaction
    self.index = index
    self.path = path
    self.endorsements = endorsements
    self.metric = metric
  }
}

/// Why a receipt does not prove what it claims; each case is one precise reason.
public enum ReceiptError: Error, Equatable, CustomStringConvertible {
  case malformed(String)
  case otherNetwork(receipt: Hash256, genesis: Hash256)
  case fieldMismatch(field: String, receipt: String, signed: String)
  case unknownKey(role: String, key: PublicKey)
  case unacceptedEvidence(endorser: PublicKey, problem: String)
  case forgedSignature(role: String, name: String)
  case missingSignatures(have: Int, need: Int)
  case merklePath(computed: Hash256?, root: Hash256)
  case notAModelCommit(String)
  case notAMetricCommit(String)
  case endorsementNotNamed(Hash256)
  case disagreeingEndorsements(endorser: String, statement: Hash256, committed: Hash256)
  case tooFewEndorsements(have: Int, need: Int)
  case modelMismatch(given: Hash256, committed: Hash256)
  case notCommitted(round: UInt64)
  case modelNotCommitted(model: Hash256)

  public var description: String {
    switch self {
    case .malformed(let p): "the receipt is malformed: \(p)"
    case .otherNetwork(let r, let g):
      "the receipt is for another network: it names genesis \(r.hex), the genesis file given hashes to \(g.hex)"
    case .fieldMismatch(let f, let r, let s):
      "the receipt's \"\(f)\" says \(r) but the signed data says \(s)"
    case .unknownKey(let role, let key): "\(role) key \(key.hex) is not listed in genesis"
    case .unacceptedEvidence(let key, let problem):
      "the endorsement by key \(key.short) counts for no genesis endorser: \(problem)"
    case .forgedSignature(let role, let name):
      "the \(role) signature of \(name) does not verify: forged or altered"
    case .missingSignatures(let have, let need):
      "the block carries \(have) valid node signature(s); genesis requires \(need)"
    case .merklePath(let computed, let root):
      "wrong Merkle path: the transaction, taken as valid, and the path give \(computed?.short ?? "no root (path length does not fit the tree)"), the block's root is \(root.short) (altered path or index, or a transaction the nodes judged invalid)"
    case .notAModelCommit(let p): "the receipt's transaction is not a model commit: \(p)"
    case .notAMetricCommit(let p): "the receipt's metric transaction is not a metric commit: \(p)"
    case .endorsementNotNamed(let h):
      "endorsement \(h.short) is not one the model commit names"
    case .disagreeingEndorsements(let e, let s, let c):
      "endorsements disagree: \(e) signed statement \(s.short), the commit is for statement \(c.short)"
    case .tooFewEndorsements(let have, let need):
      "only \(have) distinct valid endorsement(s); genesis requires \(need)"
    case .modelMismatch(let given, let committed):
      "model bytes changed (or this is another model): the model hashes to \(given.hex), the committed model is \(committed.hex)"
    case .notCommitted(let round): "round \(round) has no committed model on this ledger"
    case .modelNotCommitted(let model): "model \(model.hex) was never committed on this ledger"
    }
  }
}

extension Receipt {
  /// Checks the receipt against `genesis` and, if given, the hash of the model in hand.
  /// Returns what was checked, one line each; throws the first failure.
  public func verify(genesis: Genesis, modelHash: Hash256?) throws(ReceiptError) -> [String] {
    var checked: [String] = []
    let networkHash = genesis.hash
    guard network == networkHash else {
      throw .otherNetwork(receipt: network, genesis: networkHash)
    }
    checked.append(
      "network: genesis \"\(genesis.network)\" hashes to \(networkHash.hex), as the receipt says")
    guard header.network == network else {
      throw .fieldMismatch(field: "network", receipt: network.hex, signed: header.network.hex)
    }
    guard header.height == height else {
      throw .fieldMismatch(field: "height", receipt: "\(height)", signed: "\(header.height)")
    }

    let signers = try Self.checkInclusion(
      header: header, signatures: signatures, transaction: transaction, index: index, path: path,
      network: network, genesis: genesis)
    let names = genesis.nodes.filter { signers.contains($0.key) }.map(\.name)
    checked.append(
      "block \(height) (\(header.hash.short)): signed by \(signers.count) of \(genesis.nodes.count) nodes (\(names.joined(separator: ", "))); genesis requires \(genesis.blockQuorum)"
    )

    checked.append(
      "inclusion: transaction \(index) of \(header.transactionCount) in block \(height), judged valid by the signing nodes; Merkle path of \(path.count) hash(es) to root \(header.merkleRoot.short)"
    )

    let committedAt = Date(timeIntervalSince1970: Double(header.timestamp) / 1000)
    let commit: ModelCommit
    do {
      guard case .modelCommit(let m) = try Transaction(canonical: transaction) else {
        throw ReceiptError.notAModelCommit("it is another kind of transaction")
      }
      commit = m
    } catch let e as ReceiptError {
      throw e
    } catch {
      throw .notAModelCommit("\(error)")
    }
    guard commit.round == round else {
      throw .fieldMismatch(field: "round", receipt: "\(round)", signed: "\(commit.round)")
    }
    guard commit.model == model else {
      throw .fieldMismatch(field: "model", receipt: model.hex, signed: commit.model.hex)
    }

    let (endorsers, kinds, _) = try Self.checkEndorsements(
      endorsements, of: AggregationStatement.self, named: commit.endorsements,
      statement: commit.statement, at: committedAt, network: network, genesis: genesis
    ) { $0.newModel == commit.model && $0.round == commit.round }
    let endorserNames = genesis.endorsers.filter { endorsers.contains($0.name) }.map(\.name)
    checked.append(
      "endorsements: \(endorsers.count) distinct endorsers (\(endorserNames.joined(separator: ", "))) signed statement \(commit.statement.short) for round \(round); genesis requires \(genesis.endorsementThreshold) of \(genesis.endorsers.count)"
    )
    var basis: [String] = []
    if kinds.contains(Evidence.Kind.genesisKey.name) {
      basis.append("genesis-key (keys listed in genesis; no enclave attestation)")
    }
    if kinds.contains(Evidence.Kind.simulatedEnclave.name) {
      basis.append(
        "\(Evidence.Kind.simulatedEnclave.name), each checked against the platforms and measurements genesis lists"
      )
    }
    if kinds.contains(Evidence.Kind.sgxDCAP.name) {
      let root = genesis.sgxRootCA == nil ? "Intel's SGX root" : "the SGX root genesis names"
      basis.append(
        "sgx-dcap, each quote checked with the Intel collateral it carries at \(committedAt) (chain to \(root), MRENCLAVE in genesis, no debug, accepted TCB level)"
      )
    }
    checked.append("endorsement keys rest on: " + basis.joined(separator: "; "))

    if let modelHash {
      guard modelHash == commit.model else {
        throw .modelMismatch(given: modelHash, committed: commit.model)
      }
      checked.append("model: hashes to \(modelHash.hex), the committed model of round \(round)")
    }
    if let (metric, by) = try verifiedMetricWithEndorsers(genesis: genesis) {
      checked.append(
        "federated metric: accuracy \(String(format: "%.2f", metric.accuracy * 100))% (loss \(String(format: "%.4f", metric.loss))) over \(metric.clusters) clusters and \(metric.samples) held-out samples (\(metric.combination.rawValue)); \(by.count) distinct endorsers (\(by.joined(separator: ", "))) signed it, committed in block \(self.metric!.height)"
      )
    }
    return checked
  }

  /// The federated metric the receipt proves the ledger committed for its model (nil when it
  /// carries none), after the same checks as the model's: block, inclusion, k endorsements.
  public func verifiedMetric(genesis: Genesis) throws(ReceiptError) -> MetricStatement? {
    try verifiedMetricWithEndorsers(genesis: genesis)?.statement
  }

  private func verifiedMetricWithEndorsers(genesis: Genesis) throws(ReceiptError) -> (
    statement: MetricStatement, endorsers: [String]
  )? {
    guard let metric else { return nil }
    guard network == genesis.hash else {
      throw .otherNetwork(receipt: network, genesis: genesis.hash)
    }
    guard metric.header.height == metric.height else {
      throw .fieldMismatch(
        field: "metric.height", receipt: "\(metric.height)", signed: "\(metric.header.height)")
    }
    _ = try Self.checkInclusion(
      header: metric.header, signatures: metric.signatures, transaction: metric.transaction,
      index: metric.index, path: metric.path, network: network, genesis: genesis)
    let commit: MetricCommit
    do {
      guard case .metricCommit(let m) = try Transaction(canonical: metric.transaction) else {
        throw ReceiptError.notAMetricCommit("it is another kind of transaction")
      }
      commit = m
    } catch let e as ReceiptError {
      throw e
    } catch {
      throw .notAMetricCommit("\(error)")
    }
    guard commit.round == round, commit.model == model else {
      throw .fieldMismatch(
        field: "metric", receipt: "round \(round), model \(model.short)",
        signed: "round \(commit.round), model \(commit.model.short)")
    }
    let (endorsers, _, statement) = try Self.checkEndorsements(
      metric.endorsements, of: MetricStatement.self, named: commit.endorsements,
      statement: commit.statement,
      at: Date(timeIntervalSince1970: Double(metric.header.timestamp) / 1000), network: network,
      genesis: genesis
    ) { $0.model == commit.model && $0.round == commit.round }
    guard let statement else {
      throw .tooFewEndorsements(have: 0, need: genesis.endorsementThreshold)
    }
    return (statement, genesis.endorsers.filter { endorsers.contains($0.name) }.map(\.name))
  }

  /// Checks a transaction's block and inclusion, as every proof of the ledger is checked
  /// (strictly: a receipt carries no signature that is not a genesis node's valid one).
  private static func checkInclusion(
    header: BlockHeader, signatures: [BlockSignature], transaction: [UInt8], index: Int,
    path: [Hash256], network: Hash256, genesis: Genesis
  ) throws(ReceiptError) -> Set<PublicKey> {
    let proof = InclusionProof(
      header: header, signatures: BlockSignatures(signatures), transaction: transaction,
      index: UInt32(clamping: index), path: path)
    do {
      return try proof.verify(
        network: network, nodes: Set(genesis.nodes.map(\.key)), quorum: genesis.blockQuorum,
        strict: true)
    } catch {
      switch error {
      case .unknownSigner(let key): throw .unknownKey(role: "block signer", key: key)
      case .forgedSignature(let key):
        throw .forgedSignature(role: "block", name: "node \(genesis.node(key)?.name ?? key.short)")
      case .quorum(_, let have, let need): throw .missingSignatures(have: have, need: need)
      case .notIncluded(_, let computed, let root):
        throw .merklePath(computed: computed, root: root)
      case .otherNetwork(let block, _):
        throw .fieldMismatch(field: "network", receipt: network.hex, signed: block.hex)
      }
    }
  }

  /// Checks that `transactions` are endorsements of one statement (hashing to `statement`, and
  /// passing `fits`), each named by the commit, by at least genesis's k distinct endorsers
  /// whose evidence holds at `time`. Returns the endorsers, their evidence kinds and the
  /// statement.
  private static func checkEndorsements<S: EndorsableStatement>(
    _ transactions: [[UInt8]], of: S.Type, named: [Hash256], statement: Hash256, at time: Date,
    network: Hash256, genesis: Genesis, fits: (S) -> Bool
  ) throws(ReceiptError) -> (endorsers: Set<String>, kinds: Set<String>, statement: S?) {
    var endorsers = Set<String>()
    var kinds = Set<String>()
    var signed: S?
    for bytes in transactions {
      let e: Endorsed<S>
      do {
        e = try Endorsed<S>(transaction: bytes)
      } catch {
        throw .malformed("an endorsement does not decode as a \(S.endorsementKind.name): \(error)")
      }
      let endorser: Genesis.Endorser
      // Judged at the commit's block time, as every node judged it again when it applied the
      // commit: a receipt verifies exactly when the ledger took the commit.
      switch genesis.endorser(evidence: e.evidence, key: e.endorser, at: time) {
      case .success(let found): endorser = found
      case .failure(let refusal):
        if e.evidence.kind == .genesisKey { throw .unknownKey(role: "endorser", key: e.endorser) }
        throw .unacceptedEvidence(endorser: e.endorser, problem: refusal.description)
      }
      guard e.verifies(network: network) else {
        throw .forgedSignature(role: "endorsement", name: "endorser \(endorser.name)")
      }
      guard e.statement.hash == statement, fits(e.statement) else {
        throw .disagreeingEndorsements(
          endorser: endorser.name, statement: e.statement.hash, committed: statement)
      }
      let h = Hash256.of(bytes)
      guard named.contains(h) else { throw .endorsementNotNamed(h) }
      endorsers.insert(endorser.name)
      kinds.insert(e.evidence.kind.name)
      signed = e.statement
    }
    guard endorsers.count >= genesis.endorsementThreshold else {
      throw .tooFewEndorsements(have: endorsers.count, need: genesis.endorsementThreshold)
    }
    return (endorsers, kinds, signed)
  }
}

// MARK: - JSON file

extension Receipt {
  private struct File: Codable {
    var format: String
    var network: Hash256
    var round: UInt64
    var model: Hash256
    var height: UInt64
    var header: String
    var signatures: [BlockSignature]
    var transaction: String
    var index: Int
    var path: [Hash256]
    var endorsements: [String]
    var metric: MetricFile?
  }

  private struct MetricFile: Codable {
    var height: UInt64
    var header: String
    var signatures: [BlockSignature]
    var transaction: String
    var index: Int
    var path: [Hash256]
    var endorsements: [String]
  }

  private static let keys: Set<String> = [
    "format", "network", "round", "model", "height", "header", "signatures", "transaction",
    "index", "path", "endorsements", "metric",
  ]
  private static let metricKeys: Set<String> = [
    "height", "header", "signatures", "transaction", "index", "path", "endorsements",
  ]

  /// The JSON form, pretty-printed with sorted keys.
  public func json() -> [UInt8] {
    let file = File(
      format: Self.format, network: network, round: round, model: model, height: height,
      header: Hex.encode(header.canonicalBytes), signatures: signatures,
      transaction: Hex.encode(transaction), index: index, path: path,
      endorsements: endorsements.map { Hex.encode($0) },
      metric: metric.map {
        MetricFile(
          height: $0.height, header: Hex.encode($0.header.canonicalBytes),
          signatures: $0.signatures, transaction: Hex.encode($0.transaction), index: $0.index,
          path: $0.path, endorsements: $0.endorsements.map { Hex.encode($0) })
      })
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return Array(try! encoder.encode(file)) + [10]
  }

  /// Parses the JSON form; every field must be present, known and well formed.
  public static func parse(_ bytes: [UInt8]) throws(ReceiptError) -> Receipt {
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    else { throw .malformed("it is not a JSON object") }
    for key in object.keys where !keys.contains(key) {
      throw .malformed("unknown field \"\(key)\"")
    }
    let metricObject = object["metric"] as? [String: Any]
    for key in (metricObject ?? [:]).keys where !metricKeys.contains(key) {
      throw .malformed("unknown field \"metric.\(key)\"")
    }
    for (prefix, list) in [("", object["signatures"]), ("metric.", metricObject?["signatures"])] {
      for entry in list as? [[String: Any]] ?? [] {
        for key in entry.keys where key != "signer" && key != "signature" {
          throw .malformed("unknown field \"\(prefix)signatures.\(key)\"")
        }
      }
    }
    let file: File
    do {
      file = try JSONDecoder().decode(File.self, from: Data(bytes))
    } catch let error as Swift.DecodingError {
      throw .malformed(describe(error))
    } catch {
      throw .malformed("\(error)")
    }
    guard file.format == format else {
      throw .malformed("field \"format\" is \"\(file.format)\"; this version reads \(format)")
    }
    func hex(_ field: String, _ s: String) throws(ReceiptError) -> [UInt8] {
      guard let b = Hex.decode(s) else {
        throw .malformed("field \"\(field)\" is not lowercase hex")
      }
      return b
    }
    let header: BlockHeader
    do {
      header = try BlockHeader(canonical: try hex("header", file.header))
    } catch let e as ReceiptError {
      throw e
    } catch {
      throw .malformed("field \"header\" does not decode: \(error)")
    }
    var endorsements: [[UInt8]] = []
    for e in file.endorsements { endorsements.append(try hex("endorsements", e)) }
    guard file.index >= 0 else { throw .malformed("field \"index\" is negative") }
    var metric: MetricProof?
    if let m = file.metric {
      let metricHeader: BlockHeader
      do {
        metricHeader = try BlockHeader(canonical: try hex("metric.header", m.header))
      } catch let e as ReceiptError {
        throw e
      } catch {
        throw .malformed("field \"metric.header\" does not decode: \(error)")
      }
      guard m.index >= 0 else { throw .malformed("field \"metric.index\" is negative") }
      var metricEndorsements: [[UInt8]] = []
      for e in m.endorsements { metricEndorsements.append(try hex("metric.endorsements", e)) }
      metric = MetricProof(
        height: m.height, header: metricHeader, signatures: m.signatures,
        transaction: try hex("metric.transaction", m.transaction), index: m.index, path: m.path,
        endorsements: metricEndorsements)
    }
    return Receipt(
      network: file.network, round: file.round, model: file.model, height: file.height,
      header: header, signatures: file.signatures,
      transaction: try hex("transaction", file.transaction), index: file.index, path: file.path,
      endorsements: endorsements, metric: metric)
  }
}
