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
