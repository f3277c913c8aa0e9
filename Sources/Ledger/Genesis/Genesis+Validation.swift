import Attestation
import Foundation
import SwiftASN1
import X509

extension Genesis {
  /// Checks the rules a genesis must follow; the first broken one is thrown.
  public func validate() throws(GenesisError) {
    func fail(_ field: String, _ problem: String) -> GenesisError {
      .invalid(field: field, problem: problem)
    }
    if network.isEmpty { throw fail("network", "is empty") }
    if ISO8601DateFormatter().date(from: createdAt) == nil {
      throw fail(
        "createdAt", "is \"\(createdAt)\", not an ISO 8601 time such as 2026-11-26T12:00:00Z")
    }
    if members.isEmpty { throw fail("members", "is empty: a consortium needs at least one member") }
    if nodes.isEmpty { throw fail("nodes", "is empty: the ledger needs at least one node") }
    if endorsers.isEmpty { throw fail("endorsers", "is empty") }
    for (list, names) in [
      ("members", members.map(\.name)), ("nodes", nodes.map(\.name)),
      ("endorsers", endorsers.map(\.name)),
    ] {
      var seen = Set<String>()
      for n in names {
        if n.isEmpty { throw fail(list, "has an entry with an empty name") }
        if !seen.insert(n).inserted { throw fail(list, "names \"\(n)\" twice") }
      }
    }
    for e in endorsers { if let problem = e.problem { throw fail("endorsers", problem) } }
    for (list, keys) in [
      ("members", members.map(\.key)), ("nodes", nodes.map(\.key)),
      ("endorsers", endorsers.compactMap(\.key)),
    ] where Set(keys).count != keys.count {
      throw fail(list, "lists the same key twice")
    }
    let kinds = Set(endorsers.map(\.kind))
    if kinds.contains(.genesisKey) && kinds.count > 1 {
      throw fail(
        "endorsers",
        "mixes genesis-key and enclave endorsers: keys that hosts hold could then make up k without an enclave, while clusters seal to the enclaves"
      )
    }
    if kinds.contains(.simulatedEnclave) && kinds.contains(.sgxEnclave) {
      throw fail(
        "endorsers",
        "lists both simulated-enclave and sgx-enclave endorsers: a network's enclaves are of one kind, or simulated ones would hold the group key SGX protects"
      )
    }
    let ppids = endorsers.compactMap(\.ppid)
    if Set(ppids).count != ppids.count {
      throw fail("endorsers", "lists the same SGX platform (ppid) twice: a platform counts once")
    }
    for n in nodes where member(n.member) == nil {
      throw fail("nodes", "node \"\(n.name)\" names member \"\(n.member)\", who is not in members")
    }
    let e = endorsers.count
    if endorsementThreshold > e || endorsementThreshold <= e / 2 {
      throw fail(
        "endorsementThreshold",
        "is \(endorsementThreshold); with \(e) endorsers it must be more than half of them (at least \(e / 2 + 1)) and at most \(e), so two different models can never both reach it"
      )
    }
    if blockQuorum < 1 || blockQuorum > nodes.count {
      throw fail("blockQuorum", "is \(blockQuorum); it must be 1 to \(nodes.count) (the nodes)")
    }
    if let root = sgxRootCA, (try? Certificate(derEncoded: root)) == nil {
      throw fail("sgxRootCA", "is not an X.509 certificate")
    }
    if endorsers.contains(where: { $0.kind != .genesisKey }) && enclaveMeasurements.isEmpty {
      throw fail(
        "enclaveMeasurements",
        "is empty, but enclave endorsers are listed: no enclave could endorse")
    }
    var seen = Set<String>()
    for s in round where !seen.insert(s.key).inserted {
      throw fail("round", "sets \"\(s.key)\" twice")
    }
    if let problem = rules.problem { throw fail("rules", problem) }
    if let evaluation {
      if let problem = evaluation.problem { throw fail("evaluation", problem) }
      // As for a cohort: no member's own clusters and one victim may make a metric that the
      // enclaves keep private, or the member learns the victim's figures from it.
      if endorsers.contains(where: { $0.kind != .genesisKey }), !evaluation.publish,
        evaluation.minimumReports < (clustersPerMember ?? Int.max / 2) + 2
      {
        throw fail(
          "evaluation.minimumReports",
          "is \(evaluation.minimumReports); with enclave endorsers and private reports it must be at least clustersPerMember + 2 (\((clustersPerMember ?? 0) + 2)), so that no member's own clusters and one victim make a metric"
        )
      }
    }
    // Enclaves protect each update only if no one can make a round out of the victim and
    // updates they know: the Sybils one member may enrol must stay short of a cohort, and
    // no minority of nodes may sign the blocks that prove a round to an enclave.
    if endorsers.contains(where: { $0.kind != .genesisKey }) {
      guard let c = clustersPerMember, c <= rules.minimumCohort - 2 else {
        throw fail(
          "clustersPerMember",
          "is \(clustersPerMember.map(String.init) ?? "absent"); with enclave endorsers it must be set, and at most rules.minimumCohort - 2 (\(rules.minimumCohort - 2)), so that no member's own clusters and one victim make a cohort"
        )
      }
      if 3 * blockQuorum <= 2 * nodes.count {
        throw fail(
          "blockQuorum",
          "is \(blockQuorum); with enclave endorsers it must be more than two thirds of the \(nodes.count) nodes (at least \(nodes.count * 2 / 3 + 1)), since its signatures prove rounds to the enclaves: two quorums must share an honest node"
        )
      }
    }
    if let c = clustersPerMember, c < 1 || c > 1 << 20 {
      throw fail("clustersPerMember", "is \(c); it must be 1 to 2^20, or absent for no limit")
    }
  }

}
