import Foundation

/// A configuration value that is missing, of the wrong type or out of range. Names the file (or
/// flag) and key, and what is allowed.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
  public var source: String
  public var key: String
  public var problem: String

  public init(source: String, key: String, problem: String) {
    self.source = source
    self.key = key
    self.problem = problem
  }

  public var description: String { "\(source): '\(key)' \(problem)" }
}

/// A key of a configuration section, as the file spells it.
struct SettingKey: CodingKey, Hashable {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ name: String) { stringValue = name }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

extension CodingUserInfoKey {
  /// Where each dotted key's value came from ("sim.json", "flag --lr"), for error messages.
  static let settingSources = CodingUserInfoKey(rawValue: "fedledger.settingSources")!
}

/// Reads one section of a configuration (`Decodable`): typed, range-checked values, each error
/// naming the dotted key and where its value came from; a key the section does not know is
/// refused with the list of those it does.
struct SettingsReader {
  private let container: KeyedDecodingContainer<SettingKey>
  private let sources: [String: String]
  /// The section's dotted path ("strategy"; empty for the top level).
  let section: String

  init(_ decoder: any Decoder, known: [String]) throws {
    section = decoder.codingPath.map(\.stringValue).joined(separator: ".")
    sources = decoder.userInfo[.settingSources] as? [String: String] ?? [:]
    do {
      container = try decoder.container(keyedBy: SettingKey.self)
    } catch {
      throw ConfigurationError(
        source: sources[section] ?? "configuration", key: section.isEmpty ? "(file)" : section,
        problem: "must be a JSON object")
    }
    for key in container.allKeys where !known.contains(key.stringValue) {
      let path = self.path(key.stringValue)
      throw ConfigurationError(
        source: sources[path] ?? "configuration", key: path,
        problem: "is not a known key; known\(section.isEmpty ? "" : " in '\(section)'"): "
          + known.map(self.path).joined(separator: ", "))
    }
  }

  private func path(_ key: String) -> String { section.isEmpty ? key : section + "." + key }

  func has(_ key: String) -> Bool { container.contains(SettingKey(key)) }

  /// Whether the file or a flag gave the value at a full dotted path.
  func given(_ path: String) -> Bool { sources[path] != nil }

  func error(_ key: String, _ problem: String) -> ConfigurationError {
    let path = path(key)
    return ConfigurationError(source: sources[path] ?? "configuration", key: path, problem: problem)
  }

  /// A nested section, decoded by its own type, or nil when the file does not have it.
  func section<T: Decodable>(_ key: String, _ type: T.Type) throws -> T? {
    guard has(key) else { return nil }
    if try container.decodeNil(forKey: SettingKey(key)) {
      throw error(key, "must be a JSON object, got null")
    }
    return try container.decode(type, forKey: SettingKey(key))
  }

  /// What a key holds, as JSON has it.
  private enum Raw: CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    var description: String {
      switch self {
      case .null: "null"
      case .bool(let b): "\(b)"
      case .number(let d): "\(d)"
      case .string(let s): s
      }
    }
  }

  private func raw(_ key: String) throws -> Raw? {
    let k = SettingKey(key)
    guard container.contains(k) else { return nil }
    if try container.decodeNil(forKey: k) { return .null }
    if let b = try? container.decode(Bool.self, forKey: k) { return .bool(b) }
    if let d = try? container.decode(Double.self, forKey: k) { return .number(d) }
    if let s = try? container.decode(String.self, forKey: k) { return .string(s) }
    throw error(key, "must be a single value, got an object or a list")
  }

  func string(_ key: String) throws -> String? {
    guard let value = try raw(key) else { return nil }
    guard case .string(let s) = value, !s.isEmpty else {
      throw error(key, "must be a non-empty string, got \(value)")
    }
    return s
  }

  func bool(_ key: String) throws -> Bool? {
    switch try raw(key) {
    case nil: return nil
    case .bool(let b): return b
    case .string("true"): return true
    case .string("false"): return false
    case let value?: throw error(key, "must be true or false, got \(value)")
    }
  }

  func choice(_ key: String, _ allowed: [String]) throws -> String? {
    guard let s = try string(key) else { return nil }
    guard allowed.contains(s) else {
      throw error(key, "must be one of \(allowed.joined(separator: ", ")), got '\(s)'")
    }
    return s
  }

  private func number(_ key: String, nullable: Bool) throws -> Double? {
    switch try raw(key) {
    case nil: return nil
    case .null:
      if nullable { return nil }
      throw error(key, "must be a number, got null")
    case .bool: throw error(key, "must be a number, got a boolean")
    case .number(let d): return d
    case .string(let s):
      guard let d = Double(s) else { throw error(key, "must be a number, got \(s)") }
      return d
    }
  }

  func int(_ key: String, min: Int, nullable: Bool = false) throws -> Int? {
    guard let d = try number(key, nullable: nullable) else { return nil }
    guard d == d.rounded(), d >= Double(min), d <= 1e9 else {
      throw error(key, "must be a whole number from \(min) to 1000000000, got \(d)")
    }
    return Int(d)
  }

  func double(
    _ key: String, above: Double? = nil, atLeast: Double? = nil, below: Double? = nil,
    atMost: Double? = nil, nullable: Bool = false
  ) throws -> Double? {
    guard let d = try number(key, nullable: nullable) else { return nil }
    var rules: [String] = []
    if let above { rules.append("> \(above)") }
    if let atLeast { rules.append(">= \(atLeast)") }
    if let below { rules.append("< \(below)") }
    if let atMost { rules.append("<= \(atMost)") }
    let ok =
      d.isFinite && (above.map { d > $0 } ?? true) && (atLeast.map { d >= $0 } ?? true)
      && (below.map { d < $0 } ?? true) && (atMost.map { d <= $0 } ?? true)
    guard ok else {
      throw error(key, "must be a number \(rules.joined(separator: " and ")), got \(d)")
    }
    return d
  }

  func float(
    _ key: String, above: Double? = nil, atLeast: Double? = nil, below: Double? = nil,
    nullable: Bool = false
  ) throws -> Float? {
    try double(key, above: above, atLeast: atLeast, below: below, nullable: nullable).map(
      Float.init)
  }
}

/// A Float as the Double with the same shortest decimal form (0.01, not 0.009999999776), so
/// files and the ledger show what was configured.
func decimal(_ value: Float) -> Double { Double("\(value)") ?? Double(value) }
