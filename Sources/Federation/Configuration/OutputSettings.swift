/// The `output` section: where a run writes its files.
public struct OutputSettings: Codable, Sendable, Equatable {
  public var directory = "runs/simulate"

  public init() {}

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: ["directory"])
    self.init()
    if let v = try r.string("directory") { directory = v }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(directory, forKey: .init("directory"))
  }
}
