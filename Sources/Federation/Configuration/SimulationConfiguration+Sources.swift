import Foundation
import Records

extension SimulationConfiguration {
  /// The configuration a JSON file (its bytes, named `source`) gives, with `overrides` on top:
  /// dotted keys (`strategy.rule`) with JSON values, as flags give them, each named in
  /// `sources` ("flag --strategy"). Every error names the file or flag and the key.
  public static func resolve(
    file: Data? = nil, source: String = "configuration", overrides: [String: Any] = [:],
    sources overrideSources: [String: String] = [:]
  ) throws -> SimulationConfiguration {
    var tree: [String: Any] = [:]
    var sources: [String: String] = [:]
    if let file {
      let object: Any
      do {
        object = try JSONSerialization.jsonObject(with: file)
      } catch {
        throw ConfigurationError(
          source: source, key: "(file)",
          problem: "is not valid JSON: \(error.localizedDescription)")
      }
      guard let root = object as? [String: Any] else {
        throw ConfigurationError(source: source, key: "(file)", problem: "must be a JSON object")
      }
      tree = root
      for path in leaves(of: root) { sources[path] = source }
    }
    for (path, value) in overrides {
      let keys = path.split(separator: ".").map(String.init)
      if keys.count > 1, let held = tree[keys[0]], !(held is [String: Any]) {
        throw ConfigurationError(
          source: source, key: keys[0],
          problem: "must be a JSON object (\(overrideSources[path] ?? "a flag") sets \(path))")
      }
      set(value, at: keys, in: &tree)
      sources[path] = overrideSources[path] ?? "configuration"
    }
    let decoder = JSONDecoder()
    decoder.userInfo[.settingSources] = sources
    do {
      return try decoder.decode(
        SimulationConfiguration.self, from: try JSONSerialization.data(withJSONObject: tree))
    } catch let error as ConfigurationError {
      throw error
    } catch {
      throw ConfigurationError(source: source, key: "(file)", problem: "cannot be read: \(error)")
    }
  }

  /// The configuration as dotted keys with their values as text, sorted, leaving out where the
  /// run writes (`output`): what genesis and every round-open record.
  public var recordedSettings: [Setting] {
    get throws {
      let encoder = JSONEncoder()
      let object = try JSONSerialization.jsonObject(with: try encoder.encode(self))
      return Self.flatten(object as? [String: Any] ?? [:])
        .filter { !$0.key.hasPrefix("output.") }
    }
  }

  private static func flatten(_ tree: [String: Any], prefix: String = "") -> [Setting] {
    var out: [Setting] = []
    for (key, value) in tree {
      let path = prefix.isEmpty ? key : "\(prefix).\(key)"
      if let nested = value as? [String: Any] {
        out += flatten(nested, prefix: path)
      } else if let n = value as? NSNumber, String(cString: n.objCType) == "c" {
        out.append(Setting(path, n.boolValue ? "true" : "false"))
      } else {
        out.append(Setting(path, "\(value)"))
      }
    }
    return out.sorted { $0.key < $1.key }
  }

  private static func leaves(of tree: [String: Any], prefix: String = "") -> [String] {
    tree.flatMap { key, value -> [String] in
      let path = prefix.isEmpty ? key : "\(prefix).\(key)"
      if let nested = value as? [String: Any] { return leaves(of: nested, prefix: path) }
      return [path]
    }
  }

  private static func set(_ value: Any, at path: [String], in tree: inout [String: Any]) {
    guard let first = path.first else { return }
    if path.count == 1 {
      tree[first] = value
      return
    }
    var nested = tree[first] as? [String: Any] ?? [:]
    set(value, at: Array(path.dropFirst()), in: &nested)
    tree[first] = nested
  }
}
