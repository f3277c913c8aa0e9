import Attestation
import Foundation
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

  public static let format = "fedledger-genesis/5"
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

  public init(
    network: String, createdAt: String, members: [Member], nodes: [Node], endorsers: [Endorser],
    endorsementThreshold: Int, blockQuorum: Int? = nil, initialModel: Hash256? = nil,
    round: [Setting] = [], enclaveMeasurements: [Hash256] = [], sgxRootCA: [UInt8]? = nil,
    rules: RoundRules = RoundRules(), clustersPerMember: Int? = nil
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

  /// The genesis endorser an endorsement counts for, after checking the evidence its key rests
  /// on (not its signature); or why it counts for none.
  ///
  /// A genesis-key endorsement counts for the endorser with that key. A simulated-enclave
  /// endorsement counts for the endorser whose platform key signed its report, if the report
  /// is of an allowed measurement and binds the endorsing key to this network and its policy.
  /// An sgx-dcap endorsement counts for the sgx-enclave endorser whose PPID its quote's PCK
  /// certificate names, if the quote verifies with the collateral it carries at `time` and
  /// binds the same. `checkEvidence`
  /// false skips the report and quote checks (for replaying blocks already checked).
  public func endorser(of e: Endorsement, at time: Date, checkEvidence: Bool = true)
    -> Swift.Result<Endorser, EndorserRefusal>
  {
    endorser(evidence: e.evidence, key: e.endorser, at: time, checkEvidence: checkEvidence)
  }

  /// The genesis endorser whose enclave (or key) `evidence` shows holds `key`, after checking
  /// the evidence as for an endorsement; or why it counts for none.
  public func endorser(
    evidence carried: Evidence, key: PublicKey, at time: Date, checkEvidence: Bool = true
  ) -> Swift.Result<Endorser, EndorserRefusal> {
    let e = (evidence: carried, endorser: key)
    switch e.evidence.kind {
    case .genesisKey:
      guard let endorser = endorser(e.endorser), endorser.kind == .genesisKey else {
        return .failure(.init("key \(e.endorser.short) is not a genesis-key endorser in genesis"))
      }
      return .success(endorser)
    case .simulatedEnclave:
      let evidence: EnclaveEvidence
      do {
        evidence = try EnclaveEvidence(canonical: e.evidence.bytes)
      } catch {
        return .failure(.init("its simulated-enclave evidence does not decode: \(error)"))
      }
      guard evidence.signingKey == e.endorser.bytes else {
        return .failure(.init("its evidence is for another key than the endorsing one"))
      }
      guard case .simulated(let report) = evidence.report else {
        return .failure(.init("its evidence is marked simulated-enclave but carries an SGX quote"))
      }
      let platform = report.platformKey
      guard
        let endorser = endorsers.first(where: {
          $0.kind == .simulatedEnclave && $0.key?.bytes == platform
        })
      else {
        return .failure(
          .init(
            "its evidence is signed by platform \(Hex.encode(platform).prefix(12)), which is not a simulated-enclave endorser in genesis"
          ))
      }
      do {
        if checkEvidence {
          try evidence.verify(
            nonce: EnclaveEvidence.ledgerNonce(network: hash.bytes), policy: enclavePolicy())
        }
      } catch {
        return .failure(.init("its evidence does not verify: \(error)"))
      }
      return .success(endorser)
    case .sgxDCAP:
      let carried: CollateralizedEvidence
      do {
        carried = try CollateralizedEvidence(canonical: e.evidence.bytes)
      } catch {
        return .failure(.init("its sgx-dcap evidence does not decode: \(error)"))
      }
      guard case .sgx = carried.evidence.report else {
        return .failure(.init("its evidence is marked sgx-dcap but carries no SGX quote"))
      }
      guard carried.evidence.signingKey == e.endorser.bytes else {
        return .failure(.init("its evidence is for another key than the endorsing one"))
      }
      let ppid: [UInt8]
      do {
        ppid = try carried.evidence.platform()
      } catch {
        return .failure(.init("its quote names no SGX platform: \(error)"))
      }
      guard
        let endorser = endorsers.first(where: {
          $0.kind == .sgxEnclave && $0.ppid?.bytes == ppid
        })
      else {
        return .failure(
          .init(
            "its quote is from SGX platform PPID \(Hex.encode(ppid)), which is not an sgx-enclave endorser in genesis"
          ))
      }
      do {
        if checkEvidence {
          try carried.evidence.verify(
            nonce: EnclaveEvidence.ledgerNonce(network: hash.bytes), policy: enclavePolicy(),
            collateral: carried.collateral, at: time)
        }
      } catch {
        return .failure(.init("its evidence does not verify at \(time): \(error)"))
      }
      return .success(endorser)
    }
  }
  public func node(_ key: PublicKey) -> Node? { nodes.first { $0.key == key } }
  public func member(_ name: String) -> Member? { members.first { $0.name == name } }

  /// Checks the rules a genesis must follow; the first broken one is thrown.
  public func validate() throws(GenesisError) {
    func fail(_ field: String, _ problem: String) -> GenesisError {
      .invalid(field: field, problem: problem)
    }
    if network.isEmpty { throw fail("network", "is empty") }
    if ISO8601DateFormatter().date(from: createdAt) == nil {
      throw fail(
        "createdAt", "is \"\(createdAt)\", not an ISO 8601 time such as 2026-11-26T12:00:00Z")
    }
    if members.isEmpty { throw fail("members", "is empty: a consortium needs at least one member") }
    if nodes.isEmpty { throw fail("nodes", "is empty: the ledger needs at least one node") }
    if endorsers.isEmpty { throw fail("endorsers", "is empty") }
    for (list, names) in [
      ("members", members.map(\.name)), ("nodes", nodes.map(\.name)),
      ("endorsers", endorsers.map(\.name)),
    ] {
      var seen = Set<String>()
      for n in names {
        if n.isEmpty { throw fail(list, "has an entry with an empty name") }
        if !seen.insert(n).inserted { throw fail(list, "names \"\(n)\" twice") }
      }
    }
    for e in endorsers { if let problem = e.problem { throw fail("endorsers", problem) } }
    for (list, keys) in [
      ("members", members.map(\.key)), ("nodes", nodes.map(\.key)),
      ("endorsers", endorsers.compactMap(\.key)),
    ] where Set(keys).count != keys.count {
      throw fail(list, "lists the same key twice")
    }
    let kinds = Set(endorsers.map(\.kind))
    if kinds.contains(.simulatedEnclave) && kinds.contains(.sgxEnclave) {
      throw fail(
        "endorsers",
        "lists both simulated-enclave and sgx-enclave endorsers: a network's enclaves are of one kind, or simulated ones would hold the group key SGX protects"
      )
    }
    let ppids = endorsers.compactMap(\.ppid)
    if Set(ppids).count != ppids.count {
      throw fail("endorsers", "lists the same SGX platform (ppid) twice: a platform counts once")
    }
    for n in nodes where member(n.member) == nil {
      throw fail("nodes", "node \"\(n.name)\" names member \"\(n.member)\", who is not in members")
    }
    let e = endorsers.count
    if endorsementThreshold > e || endorsementThreshold <= e / 2 {
      throw fail(
        "endorsementThreshold",
        "is \(endorsementThreshold); with \(e) endorsers it must be more than half of them (at least \(e / 2 + 1)) and at most \(e), so two different models can never both reach it"
      )
    }
    if blockQuorum < 1 || blockQuorum > nodes.count {
      throw fail("blockQuorum", "is \(blockQuorum); it must be 1 to \(nodes.count) (the nodes)")
    }
    if let root = sgxRootCA, (try? Certificate(derEncoded: root)) == nil {
      throw fail("sgxRootCA", "is not an X.509 certificate")
    }
    if endorsers.contains(where: { $0.kind != .genesisKey }) && enclaveMeasurements.isEmpty {
      throw fail(
        "enclaveMeasurements",
        "is empty, but enclave endorsers are listed: no enclave could endorse")
    }
    var seen = Set<String>()
    for s in round where !seen.insert(s.key).inserted {
      throw fail("round", "sets \"\(s.key)\" twice")
    }
    if let problem = rules.problem { throw fail("rules", problem) }
    // Enclaves protect each update only if no one can make a round out of the victim and
    // updates they know: the Sybils one member may enrol must stay short of a cohort, and
    // no minority of nodes may sign the blocks that prove a round to an enclave.
    if endorsers.contains(where: { $0.kind != .genesisKey }) {
      guard let c = clustersPerMember, c <= rules.minimumCohort - 2 else {
        throw fail(
          "clustersPerMember",
          "is \(clustersPerMember.map(String.init) ?? "absent"); with enclave endorsers it must be set, and at most rules.minimumCohort - 2 (\(rules.minimumCohort - 2)), so that no member's own clusters and one victim make a cohort"
        )
      }
      if 3 * blockQuorum <= 2 * nodes.count {
        throw fail(
          "blockQuorum",
          "is \(blockQuorum); with enclave endorsers it must be more than two thirds of the \(nodes.count) nodes (at least \(nodes.count * 2 / 3 + 1)), since its signatures prove rounds to the enclaves: two quorums must share an honest node"
        )
      }
    }
    if let c = clustersPerMember, c < 1 || c > 1 << 20 {
      throw fail("clustersPerMember", "is \(c); it must be 1 to 2^20, or absent for no limit")
    }
  }

  public func encode(to w: inout CanonicalWriter) {
    w.string(Self.format)
    w.string(network)
    w.string(createdAt)
    w.list(members) { w, m in
      w.string(m.name)
      w.key(m.key)
    }
    w.list(nodes) { w, n in
      w.string(n.name)
      w.string(n.member)
      w.key(n.key)
    }
    w.list(endorsers) { w, e in
      w.string(e.name)
      w.string(e.kind.rawValue)
      w.optional(e.key) { $0.key($1) }
      w.optional(e.ppid) { $0.fixed($1.bytes) }
    }
    w.u32(UInt32(clamping: endorsementThreshold))
    w.u32(UInt32(clamping: blockQuorum))
    w.optional(initialModel) { $0.hash($1) }
    w.settings(round)
    w.list(enclaveMeasurements) { $0.hash($1) }
    w.optional(sgxRootCA) { $0.bytes($1) }
    rules.encode(to: &w)
    w.optional(clustersPerMember) { $0.u32(UInt32(clamping: $1)) }
  }

  public init(from r: inout CanonicalReader) throws(DecodingError) {
    let format = try r.string("genesis format")
    guard format == Self.format else {
      throw .invalid(field: "genesis format", problem: "is \"\(format)\", not \(Self.format)")
    }
    network = try r.string("genesis network")
    createdAt = try r.string("genesis createdAt")
    members = try r.list("genesis members", limit: 4096) { r throws(DecodingError) in
      Member(name: try r.string("member name"), key: try r.key("member key"))
    }
    nodes = try r.list("genesis nodes", limit: 4096) { r throws(DecodingError) in
      Node(
        name: try r.string("node name"), member: try r.string("node member"),
        key: try r.key("node key"))
    }
    endorsers = try r.list("genesis endorsers", limit: 4096) { r throws(DecodingError) in
      let name = try r.string("endorser name")
      let kindName = try r.string("endorser kind")
      guard let kind = Endorser.Kind(rawValue: kindName) else {
        throw .invalid(field: "endorser kind", problem: "is unknown: \"\(kindName)\"")
      }
      let endorser = Endorser(
        name: name, kind: kind,
        key: try r.optional("endorser key") { r throws(DecodingError) in
          try r.key("endorser key")
        },
        ppid: try r.optional("endorser ppid") { r throws(DecodingError) in
          PPID(unchecked: try r.fixed(16, "endorser ppid"))
        })
      if let problem = endorser.problem { throw .invalid(field: "endorser", problem: problem) }
      return endorser
    }
    endorsementThreshold = Int(try r.u32("genesis endorsementThreshold"))
    blockQuorum = Int(try r.u32("genesis blockQuorum"))
    initialModel = try r.optional("genesis initialModel") { r throws(DecodingError) in
      try r.hash("genesis initialModel")
    }
    round = try r.settings("genesis round")
    enclaveMeasurements = try r.list("genesis enclaveMeasurements", limit: 1024) {
      r throws(DecodingError) in try r.hash("genesis enclave measurement")
    }
    for (a, b) in zip(enclaveMeasurements, enclaveMeasurements.dropFirst()) where !(a < b) {
      throw .invalid(field: "genesis enclaveMeasurements", problem: "are not sorted or repeat")
    }
    sgxRootCA = try r.optional("genesis sgxRootCA") { r throws(DecodingError) in
      try r.bytes("genesis sgxRootCA", limit: 16 << 10)
    }
    rules = try RoundRules(from: &r)
    clustersPerMember = try r.optional("genesis clustersPerMember") { r throws(DecodingError) in
      Int(try r.u32("genesis clustersPerMember"))
    }
  }
}

/// An SGX platform's PPID (Platform Provisioning ID): 16 bytes that Intel certifies in every
/// PCK certificate of the platform, whatever its TCB level. In JSON, 32 hex digits.
public struct PPID: HexBytes, Hashable, Comparable, Sendable {
  public let bytes: [UInt8]
  public static let jsonName = "a PPID (32 lowercase hex digits)"

  init(unchecked bytes: [UInt8]) { self.bytes = bytes }

  public init?(bytes: [UInt8]) {
    guard bytes.count == 16 else { return nil }
    self.bytes = bytes
  }

  public init?(hex: String) {
    guard let b = Hex.decode(hex), b.count == 16 else { return nil }
    bytes = b
  }

  public static func < (a: PPID, b: PPID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// Why an endorsement counts for no genesis endorser.
public struct EndorserRefusal: Error, Equatable, CustomStringConvertible {
  public var description: String
  init(_ description: String) { self.description = description }
}

/// Why a genesis file could not be used.
public enum GenesisError: Error, Equatable, CustomStringConvertible {
  case unreadable(path: String, reason: String)
  case malformed(path: String, problem: String)
  case invalid(field: String, problem: String)
  case inFile(path: String, GenesisErrorDetail)

  public var description: String {
    switch self {
    case .unreadable(let path, let reason): "\(path): cannot read the genesis file: \(reason)"
    case .malformed(let path, let problem): "\(path): not a valid genesis file: \(problem)"
    case .invalid(let field, let problem): "genesis field \"\(field)\" \(problem)"
    case .inFile(let path, let detail):
      "\(path): genesis field \"\(detail.field)\" \(detail.problem)"
    }
  }
}

/// The field and problem of a genesis error found in a file.
public struct GenesisErrorDetail: Error, Equatable, Sendable {
  public var field: String
  public var problem: String
}

// MARK: - JSON file

extension Genesis {
  private struct File: Codable {
    var format: String
    var network: String
    var createdAt: String
    var members: [Member]
    var nodes: [Node]
    var endorsers: [Endorser]
    var endorsementThreshold: Int
    var blockQuorum: Int?
    var initialModel: Hash256?
    var round: [String: RoundValue]?
    var enclaveMeasurements: [Hash256]?
    /// PEM.
    var sgxRootCA: String?
    var rules: RulesFile?
    var clustersPerMember: Int?
  }

  /// The JSON form of `RoundRules`; absent fields take the defaults.
  private struct RulesFile: Codable {
    var rule: String?
    var beta: Double?
    var f: Int?
    var select: Int?
    var weighting: String?
    var normBound: Double?
    var fractionalBits: Int?
    var minimumCohort: Int?
    var sampleCap: UInt64?

    static let known = ["mean", "median", "trimmed-mean", "krum", "multi-krum"]

    init(_ r: RoundRules) {
      switch r.rule {
      case .mean: rule = "mean"
      case .median: rule = "median"
      case .trimmedMean(let b):
        rule = "trimmed-mean"
        beta = b
      case .krum(let f, let select):
        rule = select == 1 ? "krum" : "multi-krum"
        self.f = f
        self.select = select == 1 ? nil : select
      }
      weighting = r.weighting.rawValue
      normBound = r.normBound
      fractionalBits = r.fractionalBits
      minimumCohort = r.minimumCohort
      sampleCap = r.sampleCap
    }

    func rules() throws(GenesisErrorDetail) -> RoundRules {
      func fail(_ field: String, _ problem: String) -> GenesisErrorDetail {
        .init(field: "rules.\(field)", problem: problem)
      }
      var r = RoundRules()
      switch rule ?? "mean" {
      case "mean": r.rule = .mean
      case "median": r.rule = .median
      case "trimmed-mean": r.rule = .trimmedMean(beta: beta ?? 0.1)
      case "krum": r.rule = .krum(f: f ?? 1, select: 1)
      case "multi-krum": r.rule = .krum(f: f ?? 1, select: select)
      case let other:
        throw fail("rule", "is \"\(other)\"; known: \(Self.known.joined(separator: ", "))")
      }
      if let weighting {
        guard let w = Weighting(rawValue: weighting) else {
          throw fail("weighting", "is \"\(weighting)\"; known: samples, equal")
        }
        r.weighting = w
      }
      r.normBound = normBound
      if let fractionalBits { r.fractionalBits = fractionalBits }
      if let minimumCohort { r.minimumCohort = minimumCohort }
      if let sampleCap { r.sampleCap = sampleCap }
      return r
    }
  }

  /// A round setting's JSON value: text, a number or a boolean.
  private enum RoundValue: Codable {
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)

    init(from decoder: any Decoder) throws {
      let c = try decoder.singleValueContainer()
      if let b = try? c.decode(Bool.self) {
        self = .bool(b)
      } else if let i = try? c.decode(Int.self) {
        self = .int(i)
      } else if let d = try? c.decode(Double.self) {
        self = .double(d)
      } else {
        self = .string(try c.decode(String.self))
      }
    }

    func encode(to encoder: any Encoder) throws {
      var c = encoder.singleValueContainer()
      switch self {
      case .bool(let b): try c.encode(b)
      case .int(let i): try c.encode(i)
      // JSON does not tell 1000.0 from 1000: whole doubles are written as text, so the
      // setting reads back as the same text and the genesis keeps its hash.
      case .double(let d): d == d.rounded() ? try c.encode(String(d)) : try c.encode(d)
      case .string(let s): try c.encode(s)
      }
    }

    var text: String {
      switch self {
      case .bool(let b): b ? "true" : "false"
      case .int(let i): String(i)
      case .double(let d): String(d)
      case .string(let s): s
      }
    }

    init(text: String) {
      if text == "true" || text == "false" {
        self = .bool(text == "true")
      } else if let i = Int(text), String(i) == text {
        self = .int(i)
      } else if let d = Double(text), d.isFinite, String(d) == text {
        self = .double(d)
      } else {
        self = .string(text)
      }
    }
  }

  private static let keys: [String: Set<String>] = [
    "": [
      "format", "network", "createdAt", "members", "nodes", "endorsers", "endorsementThreshold",
      "blockQuorum", "initialModel", "round", "enclaveMeasurements", "sgxRootCA", "rules",
      "clustersPerMember",
    ],
    "members": ["name", "key"],
    "nodes": ["name", "member", "key"],
    "endorsers": ["name", "kind", "key", "ppid"],
  ]

  /// Reads and validates a genesis file; errors name the file and the field.
  public static func read(path: String) throws(GenesisError) -> Genesis {
    let data: Data
    do {
      data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
      throw .unreadable(path: path, reason: error.localizedDescription)
    }
    return try parse(Array(data), path: path)
  }

  /// Parses and validates the JSON form.
  public static func parse(_ bytes: [UInt8], path: String) throws(GenesisError) -> Genesis {
    // Unknown keys are errors: a misspelt field must not silently fall back to a default.
    guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
    else {
      throw .malformed(path: path, problem: "it is not a JSON object")
    }
    for key in object.keys where !keys[""]!.contains(key) {
      throw .malformed(path: path, problem: "unknown field \"\(key)\"")
    }
    let ruleKeys: Set<String> = [
      "rule", "beta", "f", "select", "weighting", "normBound", "fractionalBits", "minimumCohort",
      "sampleCap",
    ]
    for key in (object["rules"] as? [String: Any] ?? [:]).keys where !ruleKeys.contains(key) {
      throw .malformed(path: path, problem: "unknown field \"rules.\(key)\"")
    }
    for (list, allowed) in keys where !list.isEmpty {
      for entry in object[list] as? [[String: Any]] ?? [] {
        for key in entry.keys where !allowed.contains(key) {
          throw .malformed(path: path, problem: "unknown field \"\(list).\(key)\"")
        }
      }
    }
    let file: File
    do {
      file = try JSONDecoder().decode(File.self, from: Data(bytes))
    } catch let error as Swift.DecodingError {
      throw .malformed(path: path, problem: describe(error))
    } catch {
      throw .malformed(path: path, problem: "\(error)")
    }
    guard file.format == format else {
      throw .inFile(
        path: path,
        .init(field: "format", problem: "is \"\(file.format)\"; this version reads \(format)"))
    }
    var root: [UInt8]?
    if let pem = file.sgxRootCA {
      guard let certificate = try? Certificate(pemEncoded: pem) else {
        throw .inFile(
          path: path, .init(field: "sgxRootCA", problem: "is not a PEM X.509 certificate"))
      }
      var serializer = DER.Serializer()
      try! serializer.serialize(certificate)
      root = serializer.serializedBytes
    }
    let rules: RoundRules
    do {
      rules = try file.rules.map { f throws(GenesisErrorDetail) in try f.rules() } ?? RoundRules()
    } catch {
      throw .inFile(path: path, error)
    }
    let genesis = Genesis(
      network: file.network, createdAt: file.createdAt, members: file.members, nodes: file.nodes,
      endorsers: file.endorsers, endorsementThreshold: file.endorsementThreshold,
      blockQuorum: file.blockQuorum, initialModel: file.initialModel,
      round: (file.round ?? [:]).map { Setting($0.key, $0.value.text) },
      enclaveMeasurements: file.enclaveMeasurements ?? [], sgxRootCA: root, rules: rules,
      clustersPerMember: file.clustersPerMember)
    do {
      try genesis.validate()
    } catch {
      if case .invalid(let field, let problem) = error {
        throw .inFile(path: path, .init(field: field, problem: problem))
      }
      throw error
    }
    return genesis
  }

  /// The JSON form, pretty-printed with sorted keys.
  public func json() -> [UInt8] {
    let file = File(
      format: Self.format, network: network, createdAt: createdAt, members: members,
      nodes: nodes, endorsers: endorsers, endorsementThreshold: endorsementThreshold,
      blockQuorum: blockQuorum, initialModel: initialModel,
      round: Dictionary(uniqueKeysWithValues: round.map { ($0.key, RoundValue(text: $0.value)) }),
      enclaveMeasurements: enclaveMeasurements.isEmpty ? nil : enclaveMeasurements,
      sgxRootCA: sgxRootCA.flatMap { try? Certificate(derEncoded: $0).serializeAsPEM().pemString },
      rules: RulesFile(rules), clustersPerMember: clustersPerMember)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return Array(try! encoder.encode(file)) + [10]
  }
}

/// Says where in a JSON document decoding failed, in words.
func describe(_ error: Swift.DecodingError) -> String {
  func path(_ c: [any CodingKey]) -> String {
    c.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
      .trimmingCharacters(in: CharacterSet(charactersIn: "."))
  }
  switch error {
  case .keyNotFound(let key, let context):
    let at = path(context.codingPath + [key])
    return "field \"\(at)\" is missing"
  case .typeMismatch(_, let context), .valueNotFound(_, let context):
    return "field \"\(path(context.codingPath))\" has the wrong type: \(context.debugDescription)"
  case .dataCorrupted(let context):
    let at = path(context.codingPath)
    return at.isEmpty
      ? context.debugDescription : "field \"\(at)\": \(context.debugDescription)"
  @unknown default:
    return "\(error)"
  }
}
