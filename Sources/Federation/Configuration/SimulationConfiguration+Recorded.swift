import Foundation
import Records

extension SimulationConfiguration {
  /// The configuration a genesis or round-open recorded (`recordedSettings`), read back: a node
  /// runs the network's rule and a cluster trains as the network says, from genesis alone.
  /// Only a configuration that records exactly `settings` again is returned.
  public init(recorded settings: [Setting], source: String = "genesis") throws {
    var values: [String: Any] = [:]
    for s in settings {
      // Numbers and booleans were written as their JSON text; anything else is a string.
      values[s.key] =
        (try? JSONSerialization.jsonObject(with: Data(s.value.utf8), options: .fragmentsAllowed))
        .flatMap { $0 is NSNull ? nil : $0 } ?? s.value
    }
    let c = try Self.resolve(
      source: source, overrides: values,
      sources: Dictionary(uniqueKeysWithValues: settings.map { ($0.key, source) }))
    let again = try c.recordedSettings
    guard Set(again) == Set(settings) else {
      let differing = Set(again).symmetricDifference(Set(settings)).map(\.key).sorted()
      throw ConfigurationError(
        source: source, key: differing.first ?? "(settings)",
        problem:
          "does not read back as the same configuration (\(differing.joined(separator: ", ")))")
    }
    self = c
  }
}
