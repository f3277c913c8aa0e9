import Foundation

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
