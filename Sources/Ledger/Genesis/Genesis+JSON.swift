import Attestation
import Foundation
import Records
import RecordsJSON
import SwiftASN1
import X509

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
    var evaluation: EvaluationRules?
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
    var payloadCap: UInt64?
    var deviceCap: UInt64?
    var secureAggregation: SecAggRulesFile?

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
      payloadCap = r.payloadCap
      deviceCap = r.deviceCap
      secureAggregation = r.secureAggregation.map(SecAggRulesFile.init)
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
          throw fail("weighting", "is \"\(weighting)\"; known: samples, equal, devices")
        }
        r.weighting = w
      }
      r.normBound = normBound
      if let fractionalBits { r.fractionalBits = fractionalBits }
      if let minimumCohort { r.minimumCohort = minimumCohort }
      if let sampleCap { r.sampleCap = sampleCap }
      if let payloadCap { r.payloadCap = payloadCap }
      if let deviceCap { r.deviceCap = deviceCap }
      r.secureAggregation = try secureAggregation?.rules()
      return r
    }
  }

  /// The JSON form of `SecAggRules`; absent fields take the defaults.
  private struct SecAggRulesFile: Codable {
    var graph: String?
    var corruptRate: Double?
    var dropoutRate: Double?
    var adversary: String?

    init(_ s: SecAggRules) {
      graph = s.graph.name
      corruptRate = s.corruptRate
      dropoutRate = s.dropoutRate
      adversary = s.adversary.name
    }

    func rules() throws(GenesisErrorDetail) -> SecAggRules {
      var s = SecAggRules()
      if let graph {
        guard let g = SecAggRules.Graph.allCases.first(where: { $0.name == graph }) else {
          throw .init(
            field: "rules.secureAggregation.graph", problem: "is \"\(graph)\"; known: harary, full")
        }
        s.graph = g
      }
      if let adversary {
        guard let a = SecAggRules.Adversary.allCases.first(where: { $0.name == adversary }) else {
          throw .init(
            field: "rules.secureAggregation.adversary",
            problem: "is \"\(adversary)\"; known: curious-server, semi-malicious-server")
        }
        s.adversary = a
      }
      if let corruptRate { s.corruptRate = corruptRate }
      if let dropoutRate { s.dropoutRate = dropoutRate }
      return s
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
      "clustersPerMember", "evaluation",
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
      "sampleCap", "payloadCap", "deviceCap", "secureAggregation",
    ]
    for key in (object["rules"] as? [String: Any] ?? [:]).keys where !ruleKeys.contains(key) {
      throw .malformed(path: path, problem: "unknown field \"rules.\(key)\"")
    }
    let secureKeys: Set<String> = ["graph", "corruptRate", "dropoutRate", "adversary"]
    let secure = (object["rules"] as? [String: Any])?["secureAggregation"] as? [String: Any]
    for key in (secure ?? [:]).keys where !secureKeys.contains(key) {
      throw .malformed(path: path, problem: "unknown field \"rules.secureAggregation.\(key)\"")
    }
    let evaluationKeys: Set<String> = [
      "combination", "minimumReports", "sampleCap", "classes", "publish", "every", "window",
    ]
    for key in (object["evaluation"] as? [String: Any] ?? [:]).keys
    where !evaluationKeys.contains(key) {
      throw .malformed(path: path, problem: "unknown field \"evaluation.\(key)\"")
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
      clustersPerMember: file.clustersPerMember, evaluation: file.evaluation)
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
      rules: RulesFile(rules), clustersPerMember: clustersPerMember, evaluation: evaluation)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    return Array(try! encoder.encode(file)) + [10]
  }
}
