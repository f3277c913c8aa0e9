/// The `local` section: how each cluster trains in a round (sent to it with the round's plan).
extension LocalTraining {
  static let keys = [
    "epochs", "batchSize", "learningRate", "momentum", "weightDecay", "proximalMu",
  ]

  public init(from decoder: any Decoder) throws {
    let r = try SettingsReader(decoder, known: Self.keys)
    self.init()
    if let v = try r.int("epochs", min: 1) { epochs = v }
    if let v = try r.int("batchSize", min: 1) { batchSize = v }
    if let v = try r.float("learningRate", above: 0) { learningRate = v }
    if let v = try r.float("momentum", atLeast: 0, below: 1) { momentum = v }
    if let v = try r.float("weightDecay", atLeast: 0) { weightDecay = v }
    if let v = try r.float("proximalMu", atLeast: 0) { proximalMu = v }
  }

  public func encode(to encoder: any Encoder) throws {
    var c = encoder.container(keyedBy: SettingKey.self)
    try c.encode(epochs, forKey: .init("epochs"))
    try c.encode(batchSize, forKey: .init("batchSize"))
    try c.encode(decimal(learningRate), forKey: .init("learningRate"))
    try c.encode(decimal(momentum), forKey: .init("momentum"))
    try c.encode(decimal(weightDecay), forKey: .init("weightDecay"))
    try c.encode(decimal(proximalMu), forKey: .init("proximalMu"))
  }
}
