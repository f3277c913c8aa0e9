import Attestation
import Canonical
import CollateralFiles
import Enclave
import EnclaveMessages
import Foundation
import Ledger
import NodeAPI
import Protection
import Records
import SecAgg
import SwiftProtobuf

/// Writes the seed corpora (Fuzz/seeds/<target>/) and the fixtures the targets check against
/// (Fuzz/fixtures/) from a real `fedledger simulate` output and the attestation test fixtures,
/// so that every seed is an input the real system made.
public enum FuzzSeeds {
  public enum Failure: Error, CustomStringConvertible {
    case missing(String)
    case unusable(String, String)
    public var description: String {
      switch self {
      case .missing(let path):
        "\(path) is missing (is it a `fedledger simulate --output` directory?)"
      case .unusable(let path, let why): "\(path): \(why)"
      }
    }
  }

  /// Writes seeds from `simulation` into `root` (the repository's Fuzz directory); returns
  /// how many per target.
  public static func write(simulation: String, root: String) throws -> [String: Int] {
    func read(_ relative: String) throws -> [UInt8] {
      guard let d = FileManager.default.contents(atPath: "\(simulation)/\(relative)") else {
        throw Failure.missing("\(simulation)/\(relative)")
      }
      return Array(d)
    }
    let fm = FileManager.default
    var counts: [String: Int] = [:]
    func seed(_ target: String, _ name: String, _ bytes: [UInt8]) throws {
      let dir = "\(root)/seeds/\(target)"
      try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try Data(bytes).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
      counts[target, default: 0] += 1
    }

    // Fixtures: the network's genesis and node-0's simulated platform secret.
    try fm.createDirectory(atPath: "\(root)/fixtures", withIntermediateDirectories: true)
    let genesisJSON = try read("genesis.json")
    let genesis = try Genesis.parse(genesisJSON, path: "\(simulation)/genesis.json")
    try Data(genesisJSON).write(to: URL(fileURLWithPath: "\(root)/fixtures/genesis.json"))
    let secret = try read("enclaves/node-0/platform.key")
    try Data(secret).write(to: URL(fileURLWithPath: "\(root)/fixtures/platform.key"))
    try seed("genesis", "genesis.json", genesisJSON)

    // The ledger: blocks, their transactions, envelopes among the blobs.
    let store = try LedgerStore(
      path: "\(simulation)/ledger/node-0/ledger.sqlite", readOnly: true)
    var responses: [[UInt8]] = []
    var kinds: Set<String> = []
    var commitment: [UInt8]?
    var height: UInt64 = 0
    while let b = try store.block(at: height) {
      let stored = try store.transactions(at: height)
      var r = Fedledger_V1_BlockResponse()
      r.height = height
      r.header = Data(b.header.canonicalBytes)
      r.transactions = b.transactions.map { Data($0) }
      r.signatures = Data(b.signatures.canonicalBytes)
      r.valid = stored.map { $0.outcome.isValid }
      responses.append(try r.serializedBytes())
      for tx in b.transactions {
        let t = try Transaction(canonical: tx)
        let kind = "\(t.kind)"
        if case .commitment = t, commitment == nil { commitment = tx }
        if kinds.insert(kind).inserted { try seed("transaction", kind, tx) }
      }
      height += 1
    }
    guard !responses.isEmpty else { throw Failure.unusable(simulation, "the ledger has no block") }
    try seed("block", "first-block", joinParts([responses[0]]))
    try seed("block", "first-blocks", joinParts(Array(responses.prefix(6))))
    try seed("node-messages", "block-response", [2] + responses[min(3, responses.count - 1)])

    let blobs = try BlobStore(directory: "\(simulation)/ledger/node-0/blobs", create: false)
    var envelopes: [[UInt8]] = []
    for h in blobs.all() {
      let b = try blobs.get(h)
      if (try? UpdateEnvelope(canonical: b)) != nil, envelopes.count < 2 {
        envelopes.append(b)
        try seed("envelope", "envelope-\(envelopes.count)", b)
      }
    }
    if let commitment, let envelope = envelopes.first {
      var s = Fedledger_V1_SubmitRequest()
      s.transaction = Data(commitment)
      s.blob = Data(envelope)
      try seed("node-messages", "submit", [0] + (try s.serializedBytes()))
      var h = Fedledger_V1_HoldRequest()
      h.transaction = Data(commitment)
      h.blob = Data(envelope)
      try seed("node-messages", "hold", [1] + (try h.serializedBytes()))
    }

    // An opened update, as an enclave reads it.
    let payload = UpdatePayload(
      cluster: 2, round: 1,
      baseModel: genesis.initialModel?.bytes ?? [UInt8](repeating: 1, count: 32),
      sampleCount: 600, devices: 3, trainLoss: 0.42, simulatedSeconds: 1.5,
      values: (0..<64).map { Float($0) * 0.01 - 0.3 })
    try seed("payload", "payload", payload.encode())

    // Models and receipts.
    try seed("model", "round-001.flm", try read("models/round-001.flm"))
    let receipt = try read("models/round-002.receipt.json")
    try seed("receipt", "round-001.receipt.json", try read("models/round-001.receipt.json"))
    try seed("receipt", "round-002.receipt.json", receipt)
    var rr = Fedledger_V1_ReceiptResponse()
    rr.receipt = Data(receipt)
    try seed("node-messages", "receipt-response", [4] + (try rr.serializedBytes()))

    // Enclave frames: a fresh start and a start from node-0's sealed state.
    let policy = genesis.enclavePolicy()
    try seed(
      "enclave-frames", "fresh-start",
      joinParts(
        [
          EnclaveRequest.start(sealed: nil, policy: policy), .createGroupKey, .challenge,
          .evidence(nonce: FuzzFixtures.nonce), .seal,
        ].map(\.canonicalBytes)))
    let sealed = try read("enclaves/node-0/sealed.bin")
    try Data(sealed).write(to: URL(fileURLWithPath: "\(root)/fixtures/sealed.bin"))
    try seed(
      "enclave-frames", "sealed-start",
      joinParts(
        [
          EnclaveRequest.start(sealed: sealed, policy: policy),
          .evidence(nonce: FuzzFixtures.nonce),
        ]
        .map(\.canonicalBytes)))

    // The enclave's evidence, as it answers a cluster (simulated platform: node-0's).
    let service = EnclaveService(
      measurement: genesis.enclaveMeasurements.first?.bytes ?? [],
      platform: try SimulatedPlatform(secret: secret))
    _ = service.handle(EnclaveRequest.start(sealed: sealed, policy: policy).canonicalBytes)
    guard
      case .evidence(let evidence) = try EnclaveResponse(
        canonical: service.handle(EnclaveRequest.evidence(nonce: FuzzFixtures.nonce).canonicalBytes)
      )
    else { throw Failure.unusable("\(simulation)/enclaves/node-0", "its enclave gave no evidence") }
    // One request each to the enclave started from that state.
    let requests: [(String, EnclaveRequest)] = [
      ("evidence", .evidence(nonce: FuzzFixtures.nonce)), ("challenge", .challenge),
      ("seal", .seal), ("create-group-key", .createGroupKey),
      ("collateral", .collateral(FuzzFixtures.collateral)),
      (
        "admit",
        .admit(
          joiner: evidence, joinerChallenge: FuzzFixtures.nonce, network: genesis.hash.bytes)
      ),
    ]
    for (name, request) in requests { try seed("enclave-request", name, request.canonicalBytes) }
    var er = Fedledger_V1_EnclaveEvidenceResponse()
    er.evidence = Data(evidence.canonicalBytes)
    try seed("node-messages", "evidence-response", [5] + (try er.serializedBytes()))
    var admit = Fedledger_V1_EnclaveAdmitRequest()
    admit.evidence = Data(evidence.canonicalBytes)
    admit.challenge = Data(FuzzFixtures.nonce)
    try seed("node-messages", "admit-request", [6] + (try admit.serializedBytes()))

    // Intel's DCAP material: quotes and collateral from the attestation fixtures.
    let dcap = "\(FuzzFixtures.repository)/Tests/AttestationTests/Fixtures"
    func fixture(_ path: String) throws -> [UInt8] {
      guard let d = fm.contents(atPath: "\(dcap)/\(path)") else {
        throw Failure.missing("\(dcap)/\(path)")
      }
      return Array(d)
    }
    try seed("quote", "phala-sgx-quote", try fixture("phala-dcap-qvl/sgx_quote"))
    try seed("quote", "mobilecoin-hw-quote", try fixture("mobilecoin-2023-07-12/hw_quote.dat"))
    let pccs = try fixture("phala-dcap-qvl/sgx_quote_collateral.json")
    try seed("collateral", "pccs-json", [0] + pccs)
    let collateral = try Collateral.pccsJSON(
      pccs, source: "phala-dcap-qvl/sgx_quote_collateral.json")
    try seed("collateral", "canonical", [1] + collateral.canonicalBytes)
    try seed(
      "evidence", "simulated-with-collateral",
      CollateralizedEvidence(evidence: evidence, collateral: collateral).canonicalBytes)

    var blocks = Fedledger_V1_BlocksRequest()
    blocks.afterHeight = 3
    try seed("node-messages", "blocks-request", [9] + (try blocks.serializedBytes()))
    for (name, n) in try writeSecAgg(root: root) { counts[name, default: 0] += n }
    return counts
  }

  /// Writes the secagg target's seeds: whole in-process sessions (they need no simulation).
  public static func writeSecAgg(root: String) throws -> [String: Int] {
    let dir = "\(root)/seeds/secagg"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let sessions: [(String, Int, Int, Int, MaskModulus, Bool)] = [
      ("harary-6-k2-32bit", 6, 2, 2, .bits32, false),
      ("harary-8-k4-64bit-dropout", 8, 4, 2, .bits64, true),
      ("full-5-64bit-dropout", 5, 0, 3, .bits64, true),
    ]
    for (name, clients, degree, threshold, modulus, drop) in sessions {
      let seed = try SecAggFuzzSession.seed(
        clients: clients, degree: degree, threshold: threshold, modulus: modulus, drop: drop)
      try Data(seed).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
    }
    // The ledger's two secure-aggregation transactions, for the transaction target.
    let txDir = "\(root)/seeds/transaction"
    try FileManager.default.createDirectory(atPath: txDir, withIntermediateDirectories: true)
    let cluster = SigningKey()
    let node = SigningKey()
    let network = Hash256.of(Array("fuzz".utf8))
    let message = Transaction.secaggMessage(
      SecAggMessage(
        network: network, round: 1, cluster: "cluster-0", stage: .shares,
        body: Array(
          try SecAggFuzzSession.seed(
            clients: 4, degree: 2, threshold: 2, modulus: .bits32, drop: false
          ).prefix(400)),
        clusterKey: cluster))
    let close = Transaction.secaggStageClose(
      SecAggStageClose(
        network: network, round: 1, open: network, stage: .keys,
        messages: [Hash256.of(message.canonicalBytes)], node: node))
    try Data(message.canonicalBytes).write(to: URL(fileURLWithPath: "\(txDir)/secaggMessage"))
    try Data(close.canonicalBytes).write(to: URL(fileURLWithPath: "\(txDir)/secaggStageClose"))
    return ["secagg": sessions.count, "transaction": 2]
  }
}
