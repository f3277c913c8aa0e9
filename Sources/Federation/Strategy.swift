import Aggregation
import Foundation
import Records

/// The next global model and what became of every update that reached aggregation.
public struct AggregationOutcome: Sendable {
  public var parameters: [Float]
  public var decisions: [UpdateDecision]
  /// Why the round cannot commit (too few updates passed), if it cannot: it is then aborted
  /// and the model stays as it was.
  public var aborted: String?

  public init(parameters: [Float], decisions: [UpdateDecision], aborted: String? = nil) {
    self.parameters = parameters
    self.decisions = decisions
    self.aborted = aborted
  }
}

/// Turns a round's updates into the next global model.
///
/// This is the extension point for new aggregation schemes (as Flower's Strategy is): the
/// coordinator calls `begin`, then `add` for each update in ascending cluster order, then
/// `finish`. A strategy that can stream (FedAvg) keeps memory independent of the number of
/// clusters; robust rules that compare updates keep them until `finish`.
public protocol Strategy: AnyObject {
  var description: String { get }
  func begin(round: Int, baseModelHash: String, global: [Float])
  func add(_ update: ClusterUpdate)
  func finish() -> AggregationOutcome
}

/// How the server applies the aggregated update to the global model.
public enum ServerOptimizer: Equatable, Sendable, CustomStringConvertible {
  /// global += aggregate (plain FedAvg).
  case plain
  /// Server momentum (FedAvgM): v = momentum * v + aggregate; global += learningRate * v.
  case momentum(learningRate: Float, momentum: Float)
  /// FedAdam (Reddi et al., 2021): Adam on the aggregate as a pseudo-gradient.
  case adam(learningRate: Float, beta1: Float, beta2: Float, tau: Float)

  public var description: String {
    switch self {
    case .plain: "plain"
    case .momentum(let lr, let m): "fedavgm(lr \(lr), momentum \(m))"
    case .adam(let lr, let b1, let b2, let tau):
      "fedadam(lr \(lr), betas (\(b1), \(b2)), tau \(tau))"
    }
  }
}

/// The built-in strategy: validation, optional L2 norm bounding, a combination rule, and a
/// server optimiser.
public final class StandardStrategy: Strategy {
  public let rule: AggregationRule
  public let weighting: Weighting
  /// Updates with a larger L2 norm are scaled down to this norm (and reported as clipped).
  public let normBound: Float?
  public let server: ServerOptimizer
  /// The most samples one update may claim; a larger claim is rejected (nil: no cap).
  public let sampleCap: UInt64?
  /// The fewest accepted updates that move the model (and the server optimiser); with fewer,
  /// the round leaves both as they were (it aborts).
  public let minimumCohort: Int

  private var global: [Float] = []
  private var round = 0
  private var seen: Set<ClusterID> = []
  private var baseModelHash = ""
  private var decisions: [UpdateDecision] = []
  // Streaming mean: running weighted sum in Double, in cluster order.
  private var sum: [Double] = []
  private var totalWeight = 0.0
  private var streamed: [(cluster: ClusterID, weight: Double, clipped: String?)] = []
  // Buffered rules keep the accepted updates.
  private var kept: [(update: ClusterUpdate, weight: Double, clipped: String?)] = []
  // Server optimiser state, kept across rounds.
  private var velocity: [Float] = []
  private var firstMoment: [Float] = []
  private var secondMoment: [Float] = []

  public init(
    rule: AggregationRule = .mean, weighting: Weighting = .samples, normBound: Float? = nil,
    server: ServerOptimizer = .plain, sampleCap: UInt64? = nil, minimumCohort: Int = 1
  ) {
    self.rule = rule
    self.weighting = weighting
    self.normBound = normBound
    self.server = server
    self.sampleCap = sampleCap
    self.minimumCohort = max(1, minimumCohort)
  }

  public var description: String {
    var parts = ["\(rule)", "weights \(weighting.rawValue)"]
    if let normBound { parts.append("norm bound \(normBound)") }
    if server != .plain { parts.append("server \(server)") }
    return parts.joined(separator: ", ")
  }

  private var streams: Bool { rule == .mean }

  public func begin(round: Int, baseModelHash: String, global: [Float]) {
    self.global = global
    self.round = round
    self.baseModelHash = baseModelHash
    seen = []
    decisions = []
    kept = []
    streamed = []
    sum = streams ? [Double](repeating: 0, count: global.count) : []
    totalWeight = 0
  }

  public func add(_ update: ClusterUpdate) {
    func reject(_ reason: String) {
      decisions.append(
        .init(cluster: update.cluster, verdict: .rejected, weight: 0, reason: reason))
    }
    guard seen.insert(update.cluster).inserted else {
      return reject("is a second update from this cluster in this round")
    }
    guard update.round == round else {
      return reject("is for round \(update.round), this is round \(round)")
    }
    guard update.baseModelHash == baseModelHash else {
      return reject(
        "trained on base model \(update.baseModelHash.prefix(12)), not this round's \(baseModelHash.prefix(12))"
      )
    }
    let passed: UpdateValidation.Passed
    switch UpdateValidation(
      parameterCount: global.count, sampleCap: sampleCap, normBound: normBound
    ).check(update.delta, sampleCount: UInt64(max(0, update.sampleCount))) {
    case .success(let p): passed = p
    case .failure(let refusal): return reject(refusal.reason)
    }
    if weighting == .devices && !(1...Int(RoundRules.maximumDevices)).contains(update.devices) {
      return reject("claims a device count outside 1 to \(RoundRules.maximumDevices)")
    }
    var update = update
    update.delta = passed.values
    let clipped = passed.clipped
    let weight =
      switch weighting {
      case .samples: Double(update.sampleCount)
      case .equal: 1.0
      case .devices: Double(update.devices)
      }
    if streams {
      update.delta.withUnsafeBufferPointer { d in
        sum.withUnsafeMutableBufferPointer { s in
          for i in 0..<d.count { s[i] += weight * Double(d[i]) }
        }
      }
      totalWeight += weight
      streamed.append((update.cluster, weight, clipped))
    } else {
      kept.append((update, weight, clipped))
    }
  }

  public func finish() -> AggregationOutcome {
    var aggregate = [Float](repeating: 0, count: global.count)
    if streams {
      if totalWeight > 0 {
        for i in aggregate.indices { aggregate[i] = Float(sum[i] / totalWeight) }
      }
      for s in streamed { record(s.cluster, s.weight / totalWeight, s.clipped, nil) }
    } else if !kept.isEmpty {
      let result = combine(kept.map { ($0.update.delta, $0.weight) })
      aggregate = result.aggregate
      for (i, entry) in kept.enumerated() {
        record(entry.update.cluster, result.weights[i], entry.clipped, result.rejections[i])
      }
    }
    decisions.sort { $0.cluster < $1.cluster }
    // With fewer accepted than the minimum cohort (none, by default) the model stays as it
    // is, and so does the optimiser's state: the round aborts.
    let accepted = decisions.filter { $0.verdict != .rejected }.count
    return AggregationOutcome(
      parameters: accepted >= minimumCohort ? apply(aggregate) : global, decisions: decisions)
  }

  private func record(
    _ cluster: ClusterID, _ weight: Double, _ clipped: String?, _ rejection: String?
  ) {
    if let rejection {
      decisions.append(.init(cluster: cluster, verdict: .rejected, weight: 0, reason: rejection))
    } else if let clipped {
      decisions.append(.init(cluster: cluster, verdict: .clipped, weight: weight, reason: clipped))
    } else {
      decisions.append(.init(cluster: cluster, verdict: .accepted, weight: weight))
    }
  }

  /// Applies the server optimiser to the aggregate and returns the new global parameters.
  private func apply(_ aggregate: [Float]) -> [Float] {
    var next = global
    switch server {
    case .plain:
      for i in next.indices { next[i] += aggregate[i] }
    case .momentum(let lr, let momentum):
      if velocity.count != next.count { velocity = [Float](repeating: 0, count: next.count) }
      for i in next.indices {
        velocity[i] = momentum * velocity[i] + aggregate[i]
        next[i] += lr * velocity[i]
      }
    case .adam(let lr, let b1, let b2, let tau):
      if firstMoment.count != next.count {
        firstMoment = [Float](repeating: 0, count: next.count)
        secondMoment = [Float](repeating: 0, count: next.count)
      }
      for i in next.indices {
        firstMoment[i] = b1 * firstMoment[i] + (1 - b1) * aggregate[i]
        secondMoment[i] = b2 * secondMoment[i] + (1 - b2) * aggregate[i] * aggregate[i]
        next[i] += lr * firstMoment[i] / (secondMoment[i].squareRoot() + tau)
      }
    }
    return next
  }

  /// The buffered rules: returns the aggregate, each update's normalised weight, and a
  /// rejection reason for the updates the rule leaves out.
  func combine(_ updates: [(delta: [Float], weight: Double)])
    -> (aggregate: [Float], weights: [Double], rejections: [String?])
  {
    let n = updates.count
    let d = updates[0].delta.count
    switch rule {
    case .mean:
      return weightedMean(
        updates, selected: Array(0..<n), rejections: [String?](repeating: nil, count: n))
    case .median:
      let out = coordinateWise(updates.map(\.delta), count: d, zero: 0) {
        median($0) { ($0 + $1) / 2 }
      }
      return (
        out, [Double](repeating: 1 / Double(n), count: n), [String?](repeating: nil, count: n)
      )
    case .trimmedMean(let beta):
      let trim = trimCount(n, beta: beta)
      let out = coordinateWise(updates.map(\.delta), count: d, zero: 0) { column -> Float in
        var s = 0.0
        for v in column.dropFirst(trim).dropLast(trim) { s += Double(v) }
        return Float(s / Double(n - 2 * trim))
      }
      return (
        out, [Double](repeating: 1 / Double(n), count: n), [String?](repeating: nil, count: n)
      )
    case .krum(let f, let select):
      let scores = krumScores(updates.map(\.delta), f: f)
      let (selected, rejections) = krumSelection(scores: scores, f: f, select: select)
      return weightedMean(updates, selected: selected, rejections: rejections)
    }
  }

  private func weightedMean(
    _ updates: [(delta: [Float], weight: Double)], selected: [Int], rejections: [String?]
  ) -> (aggregate: [Float], weights: [Double], rejections: [String?]) {
    let d = updates[0].delta.count
    let total = selected.reduce(0.0) { $0 + updates[$1].weight }
    var weights = [Double](repeating: 0, count: updates.count)
    var sum = [Double](repeating: 0, count: d)
    for i in selected {
      let w = updates[i].weight / total
      weights[i] = w
      for j in 0..<d { sum[j] += w * Double(updates[i].delta[j]) }
    }
    return (sum.map { Float($0) }, weights, rejections)
  }
}

/// Krum scores: for each update, the sum of squared distances to its n - f - 2 nearest others
/// (at least one). Lower is more central.
public func krumScores(_ deltas: [[Float]], f: Int) -> [Double] {
  krumScores(count: deltas.count, f: f) { i, j in
    deltas[i].withUnsafeBufferPointer { a in
      deltas[j].withUnsafeBufferPointer { b in
        var s = 0.0
        for k in 0..<a.count {
          let diff = Double(a[k]) - Double(b[k])
          s += diff * diff
        }
        return s
      }
    }
  }
}
