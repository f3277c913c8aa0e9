import Canonical
import SecAgg

extension FuzzTargets {
  /// What an aggregator unmasks: every SecAgg+ message comes from a cluster or through a host.
  /// The first part sets the session (clients, degree, threshold, modulus, length, session
  /// and graph seed); each other part is a tagged message (1 keys, 2 bundle, 3 masked input,
  /// 4 revealed share). Each message must re-encode to its bytes, and the unmasking must end
  /// in a sum or a `SecAggError`, never a crash.
  static let secagg = FuzzTarget(
    "secagg", "SecAgg+ messages and the aggregator's unmasking (SecAggUnmasker) over them"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let list = parts(input), let header = list.first, header.count == 69,
      let configuration = SecAggFuzzSession.configuration(header)
    else { return false }
    var advertised: [AdvertisedKeys] = []
    var bundles: [ShareBundle] = []
    var masked32: [MaskedInput<UInt32>] = []
    var masked64: [MaskedInput<UInt64>] = []
    var revealed: [RevealedShare] = []
    for part in list.dropFirst() {
      guard let tag = part.first else { continue }
      let body = Array(part.dropFirst())
      switch tag {
      case 1:
        if let v = try canonicalRoundTrip(AdvertisedKeys.self, body, target: "secagg") {
          advertised.append(v)
        }
      case 2:
        if let v = try canonicalRoundTrip(ShareBundle.self, body, target: "secagg") {
          bundles.append(v)
        }
      case 3 where configuration.modulus == .bits32:
        if let v = try canonicalRoundTrip(MaskedInput<UInt32>.self, body, target: "secagg") {
          masked32.append(v)
        }
      case 3:
        if let v = try canonicalRoundTrip(MaskedInput<UInt64>.self, body, target: "secagg") {
          masked64.append(v)
        }
      case 4:
        if let v = try canonicalRoundTrip(RevealedShare.self, body, target: "secagg") {
          revealed.append(v)
        }
      default: continue
      }
    }
    if configuration.modulus == .bits32 {
      _ = try? SecAggUnmasker.sum(
        configuration: configuration, advertised: advertised, bundles: bundles, masked: masked32,
        revealed: revealed)
    } else {
      _ = try? SecAggUnmasker.sum(
        configuration: configuration, advertised: advertised, bundles: bundles, masked: masked64,
        revealed: revealed)
    }
    return !advertised.isEmpty
  }
}

/// The fuzz target's session header: 5 bytes of parameters, the session, the graph's seed.
public enum SecAggFuzzSession {
  static func configuration(_ h: [UInt8]) -> SecAggConfiguration? {
    let clients = Int(h[0]) % 15 + 2
    let degree = Int(h[1])
    let graph: NeighbourGraph =
      (try? HararyGraph.random(clients: clients, degree: degree, seed: Array(h[37..<69])))
      .map { .harary($0) } ?? .full(clients: clients)
    return try? SecAggConfiguration(
      session: Array(h[5..<37]), graph: graph, threshold: Int(h[2]), length: Int(h[4]) % 64 + 1,
      modulus: h[3] & 1 == 0 ? .bits32 : .bits64)
  }

  /// A seed: a whole session of `clients` (client 0 dropping after dealing, if `drop`), its
  /// messages tagged.
  public static func seed(
    clients: Int, degree: Int, threshold: Int, modulus: MaskModulus, drop: Bool
  ) throws -> [UInt8] {
    let session = (0..<32).map { UInt8($0) }
    let graphSeed = (0..<32).map { UInt8(255 - $0) }
    let header =
      [
        UInt8(clients - 2), UInt8(degree), UInt8(threshold), modulus == .bits32 ? 0 : 1,
        UInt8(7),
      ] + session + graphSeed
    guard let configuration = configuration(header) else {
      throw SecAggError.invalidConfiguration("no session for the seed")
    }
    let members = try (0..<clients).map {
      try SecAggClient(index: $0, configuration: configuration)
    }
    let advertised = members.map(\.advertisement)
    let bundles = try members.map { try $0.deal(advertised) }
    var parts: [[UInt8]] = [header]
    parts += advertised.map { [1] + $0.canonicalBytes }
    parts += bundles.map { [2] + $0.canonicalBytes }
    let survivors = Array((drop ? 1 : 0)..<clients)
    for c in survivors {
      let input = (0..<configuration.length).map { UInt64($0 * 3 + c) }
      if modulus == .bits32 {
        let words = try members[c].mask(
          input.map { UInt32($0) }, advertised: advertised, bundles: bundles)
        parts.append([3] + words.canonicalBytes)
      } else {
        let words = try members[c].mask(input, advertised: advertised, bundles: bundles)
        parts.append([3] + words.canonicalBytes)
      }
    }
    for c in survivors {
      for r in try members[c].unmask(survivors: survivors, dropped: drop ? [0] : []) {
        parts.append([4] + r.canonicalBytes)
      }
    }
    return joinParts(parts)
  }
}
