/// Structural checks every party makes on the messages it is handed.
enum Validation {
  /// The advertisements by client: each client in the cohort at most once, keys of 32 bytes,
  /// no key advertised twice (a replayed key would pair a client with itself).
  static func advertisements(_ advertised: [AdvertisedKeys], clients: Int) throws(SecAggError)
    -> [Int: AdvertisedKeys]
  {
    var byClient: [Int: AdvertisedKeys] = [:]
    var keys = Set<[UInt8]>()
    for a in advertised {
      guard (0..<clients).contains(a.client) else {
        throw .invalidMessage("keys advertised for client \(a.client), outside the cohort")
      }
      guard a.shareKey.count == 32, a.maskKey.count == 32 else {
        throw .invalidMessage("client \(a.client)'s advertised keys are not 32 bytes each")
      }
      guard byClient.updateValue(a, forKey: a.client) == nil else {
        throw .invalidMessage("client \(a.client) advertised keys twice")
      }
      guard keys.insert(a.shareKey).inserted, keys.insert(a.maskKey).inserted else {
        throw .invalidMessage("client \(a.client) advertised a key another client advertised")
      }
    }
    return byClient
  }

  /// The bundles by dealer: each from a client that advertised, at most once, with shares
  /// that name it as dealer, each holder once, and commitments of 32 bytes.
  static func bundles(_ bundles: [ShareBundle], advertisers: Set<Int>) throws(SecAggError)
    -> [Int: ShareBundle]
  {
    var byDealer: [Int: ShareBundle] = [:]
    for b in bundles {
      guard advertisers.contains(b.dealer) else {
        throw .invalidMessage("client \(b.dealer) dealt shares but advertised no keys")
      }
      guard byDealer.updateValue(b, forKey: b.dealer) == nil else {
        throw .invalidMessage("client \(b.dealer) dealt shares twice")
      }
      guard b.selfMaskCommitment.count == 32 else {
        throw .invalidMessage("client \(b.dealer)'s self-mask commitment is not 32 bytes")
      }
      var holders = Set<Int>()
      for s in b.shares {
        guard s.dealer == b.dealer, advertisers.contains(s.holder),
          holders.insert(s.holder).inserted,
          s.selfMaskShareCommitment.count == 32, s.maskKeyShareCommitment.count == 32
        else {
          throw .invalidMessage("client \(b.dealer)'s share for client \(s.holder) is malformed")
        }
      }
    }
    return byDealer
  }
}
