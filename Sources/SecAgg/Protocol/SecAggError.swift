/// Why a SecAgg+ party refused a step. Each case names the client at fault where one is known.
public enum SecAggError: Error, Equatable, CustomStringConvertible {
  case invalidConfiguration(String)
  /// A message is malformed: a wrong size, an unknown or repeated client.
  case invalidMessage(String)
  /// Fewer than t neighbours (or shares) are left for `client`: the round cannot go on.
  case belowThreshold(client: Int, have: Int, need: Int)
  /// The keys advertised for this client are not the ones it made.
  case tamperedAdvertisement
  /// This client was left out of a set it must be in (its own shares, or the survivors).
  case excluded(String)
  /// A neighbour that dealt shares dealt none to this client.
  case missingShare(dealer: Int)
  /// A share does not open under the pair's key, or does not match its dealer's commitments.
  case forgedShare(dealer: Int)
  /// A step was asked out of order.
  case outOfOrder(String)
  /// The unmasking step was asked a second time: a client answers it once.
  case alreadyUnmasked
  /// The same neighbour was named as survivor and as dropped: revealing both its self-mask
  /// seed and its masking key would unmask its input.
  case bothSecretsRequested(client: Int)
  /// The shares a dealer dealt recover a secret other than the one it committed to.
  case inconsistentDealer(Int)
  case lengthMismatch(client: Int, expected: Int, got: Int)
  /// A masked input was computed against other keys or shares than the aggregator holds: it
  /// would not cancel.
  case transcriptMismatch(client: Int)

  public var description: String {
    switch self {
    case .invalidConfiguration(let why): "invalid SecAgg+ configuration: \(why)"
    case .invalidMessage(let why): "invalid SecAgg+ message: \(why)"
    case .belowThreshold(let c, let have, let need):
      "below threshold at client \(c): \(have) left, \(need) needed"
    case .tamperedAdvertisement: "the keys advertised for this client are not its own"
    case .excluded(let why): "this client was left out: \(why)"
    case .missingShare(let d): "client \(d) dealt shares but none to this client"
    case .forgedShare(let d):
      "the share from client \(d) is forged or does not match its commitments"
    case .outOfOrder(let why): "out of order: \(why)"
    case .alreadyUnmasked: "this client already answered the unmasking request"
    case .bothSecretsRequested(let c):
      "client \(c) is named both as survivor and as dropped: refusing to reveal both its secrets"
    case .inconsistentDealer(let c):
      "client \(c)'s shares do not recover the secret it committed to"
    case .transcriptMismatch(let c):
      "client \(c)'s masked input was computed against other keys or shares than this session's"
    case .lengthMismatch(let c, let e, let g):
      "client \(c)'s masked vector has \(g) words, not \(e)"
    }
  }
}
