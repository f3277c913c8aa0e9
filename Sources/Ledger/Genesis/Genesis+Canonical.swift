import Attestation
import Canonical
import Foundation
import Records
import SwiftASN1
import X509

extension Genesis {
  public func encode(to w: inout CanonicalWriter) {
    w.string(Self.format)
    w.string(network)
    w.string(createdAt)
    w.list(members) { w, m in
      w.string(m.name)
      w.key(m.key)
    }
    w.list(nodes) { w, n in
      w.string(n.name)
      w.string(n.member)
      w.key(n.key)
    }
    w.list(endorsers) { w, e in
      w.string(e.name)
      w.string(e.kind.rawValue)
      w.optional(e.key) { $0.key($1) }
      w.optional(e.ppid) { $0.fixed($1.bytes) }
    }
    w.u32(UInt32(clamping: endorsementThreshold))
    w.u32(UInt32(clamping: blockQuorum))
    w.optional(initialModel) { $0.hash($1) }
    w.settings(round)
    w.list(enclaveMeasurements) { $0.hash($1) }
    w.optional(sgxRootCA) { $0.bytes($1) }
    rules.encode(to: &w)
    w.optional(clustersPerMember) { $0.u32(UInt32(clamping: $1)) }
    w.optional(evaluation) { $1.encode(to: &$0) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let format = try r.string("genesis format")
    guard format == Self.format else {
      throw .invalid(field: "genesis format", problem: "is \"\(format)\", not \(Self.format)")
    }
    network = try r.string("genesis network")
    createdAt = try r.string("genesis createdAt")
    members = try r.list("genesis members", limit: 4096) { r throws(CanonicalDecodingError) in
      Member(name: try r.string("member name"), key: try r.key("member key"))
    }
    nodes = try r.list("genesis nodes", limit: 4096) { r throws(CanonicalDecodingError) in
      Node(
        name: try r.string("node name"), member: try r.string("node member"),
        key: try r.key("node key"))
    }
    endorsers = try r.list("genesis endorsers", limit: 4096) { r throws(CanonicalDecodingError) in
      let name = try r.string("endorser name")
      let kindName = try r.string("endorser kind")
      guard let kind = Endorser.Kind(rawValue: kindName) else {
        throw .invalid(field: "endorser kind", problem: "is unknown: \"\(kindName)\"")
      }
      let endorser = Endorser(
        name: name, kind: kind,
        key: try r.optional("endorser key") { r throws(CanonicalDecodingError) in
          try r.key("endorser key")
        },
        ppid: try r.optional("endorser ppid") { r throws(CanonicalDecodingError) in
          PPID(unchecked: try r.fixed(16, "endorser ppid"))
        })
      if let problem = endorser.problem { throw .invalid(field: "endorser", problem: problem) }
      return endorser
    }
    endorsementThreshold = Int(try r.u32("genesis endorsementThreshold"))
    blockQuorum = Int(try r.u32("genesis blockQuorum"))
    initialModel = try r.optional("genesis initialModel") { r throws(CanonicalDecodingError) in
      try r.hash("genesis initialModel")
    }
    round = try r.settings("genesis round")
    enclaveMeasurements = try r.list("genesis enclaveMeasurements", limit: 1024) {
      r throws(CanonicalDecodingError) in try r.hash("genesis enclave measurement")
    }
    for (a, b) in zip(enclaveMeasurements, enclaveMeasurements.dropFirst()) where !(a < b) {
      throw .invalid(field: "genesis enclaveMeasurements", problem: "are not sorted or repeat")
    }
    sgxRootCA = try r.optional("genesis sgxRootCA") { r throws(CanonicalDecodingError) in
      try r.bytes("genesis sgxRootCA", limit: 16 << 10)
    }
    rules = try RoundRules(from: &r)
    clustersPerMember = try r.optional("genesis clustersPerMember") {
      r throws(CanonicalDecodingError) in
      Int(try r.u32("genesis clustersPerMember"))
    }
    evaluation = try r.optional("genesis evaluation") { r throws(CanonicalDecodingError) in
      try EvaluationRules(from: &r)
    }
  }
}
