import Aggregation
import Crypto
import Enclave
import EnclaveMessages
import Foundation
import Ledger
import Protection
import Records
import UpdateSealing
import XCTest

/// The `fedledger-enclave` program built beside the tests, run as a host runs it: requests on
/// its standard input, responses on its standard output, its log on standard error.
struct EnclaveProgram {
  /// The executable's path.
  static func path() throws -> String {
    let program = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
      .appendingPathComponent("fedledger-enclave").path
    let products = Bundle.main.bundleURL.appendingPathComponent("fedledger-enclave").path
    return try XCTUnwrap(
      [program, products].first { FileManager.default.isExecutableFile(atPath: $0) },
      "fedledger-enclave is built beside the tests")
  }

  let process = Process()
  private let input = Pipe()
  private let output = Pipe()
  private let log = Pipe()

  /// Starts the program with `arguments`.
  init(_ arguments: [String]) throws {
    process.executableURL = URL(fileURLWithPath: try Self.path())
    process.arguments = arguments
    process.standardInput = input
    process.standardOutput = output
    process.standardError = log
    try process.run()
  }

  /// One request, one response, as frames.
  func ask(_ request: EnclaveRequest) throws -> EnclaveResponse {
    try Frames.write(request.canonicalBytes, to: input.fileHandleForWriting.fileDescriptor)
    return try EnclaveResponse(
      canonical: try XCTUnwrap(try Frames.read(from: output.fileHandleForReading.fileDescriptor)))
  }

  /// Closes its input and waits: its exit status and everything it logged.
  func finish() throws -> (status: Int32, log: String) {
    try input.fileHandleForWriting.close()
    process.waitUntilExit()
    return (
      process.terminationStatus,
      String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    )
  }
}

/// One committed update as a test builds it: the cluster that committed it, the key it was
/// enrolled with, and the envelope bytes.
struct TestUpdate {
  var cluster: String
  var key: PublicKey
  var envelope: [UInt8]
  /// The group key it was sealed to.
  var group: [UInt8]
  /// The round-close's entry for it.
  var entry: RoundClose.Entry { .init(cluster: cluster, key: key, payload: Hash256.of(envelope)) }

  /// Seals `values` (or a small update) as `cluster` would, to `group`.
  static func sealed(
    cluster: Int, key: Curve25519.Signing.PrivateKey, network: [UInt8], round: UInt64,
    base: [UInt8], group: [UInt8], values: [Float], sampleCount: UInt64 = 100,
    signer: Curve25519.Signing.PrivateKey? = nil, envelopeCluster: String? = nil
  ) throws -> TestUpdate {
    let payload = UpdatePayload(
      cluster: UInt32(cluster), round: round, baseModel: base, sampleCount: sampleCount,
      trainLoss: 0.5, simulatedSeconds: 1, values: values)
    let e = try UpdateEnvelope.seal(
      payload.encode(), network: network, round: round,
      cluster: envelopeCluster ?? "cluster-\(cluster)", baseModel: base,
      to: try Curve25519.KeyAgreement.PublicKey(rawRepresentation: group),
      signedWith: signer ?? key)
    return TestUpdate(
      cluster: "cluster-\(cluster)", key: PublicKey(bytes: Array(key.publicKey.rawRepresentation))!,
      envelope: e.canonicalBytes, group: group)
  }
}

extension AggregateRequest {
  /// A request for `round` as a ledger would fix it: a round-open with `rules` on `baseModel`
  /// naming `groupKey` (by default the one the updates were sealed to), and a round-close
  /// naming it and listing `updates` (or `closedWith`), in a block `node` signed.
  static func proven(
    network: [UInt8], round: UInt64, baseModel: [UInt8],
    rules: RoundRules = RoundRules(minimumCohort: 1), groupKey: [UInt8]? = nil,
    updates: [TestUpdate], node: SigningKey, closedWith: [RoundClose.Entry]? = nil
  ) -> AggregateRequest {
    let net = Hash256(bytes: network)!
    let open = RoundOpen(
      network: net, round: round, baseModel: Hash256(bytes: Array(baseModel.suffix(32)))!,
      participants: [], rules: rules, groupKey: groupKey ?? updates.first?.group, node: node)
    let close = RoundClose(
      network: net, round: round, open: Hash256.of(open.transactionBytes),
      updates: closedWith ?? updates.map(\.entry), node: node)
    return AggregateRequest(
      closed: .lone(close.transactionBytes, network: net, height: round, signedBy: [node]),
      open: open.transactionBytes, baseModel: baseModel, envelopes: updates.map(\.envelope))
  }
}

extension AggregateResponse {
  /// The statement the enclave signed.
  var statement: AggregationStatement {
    get throws { try Endorsement(canonical: endorsement).statement }
  }
}

extension Enclave {
  /// The model of `response`'s round, released against the proof of a commit of it in a block
  /// `node` signs.
  func committedModel(_ response: AggregateResponse, network: [UInt8], node: SigningKey) throws
    -> [UInt8]
  {
    let s = try Endorsement(canonical: response.endorsement).statement
    let commit = ModelCommit(
      round: s.round, model: s.newModel, modelBlob: s.newModelBlob, modelSize: s.newModelSize,
      statement: s.hash, endorsements: [])
    return try release(
      .lone(
        commit.transactionBytes, network: Hash256(bytes: network)!, height: 1000 + s.round,
        signedBy: [node]))
  }
}
