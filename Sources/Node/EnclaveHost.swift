import Attestation
import Enclave
import EnclaveMessages
import Foundation
import Records

/// Why the host could not get an answer from its enclave.
public enum EnclaveHostError: Error, CustomStringConvertible {
  case program(String)
  case transport(node: String, String)
  case refused(node: String, request: String, String)
  case unexpected(node: String, request: String)
  /// The enclave aggregated the round as the ledger closed it and found too few updates pass
  /// for its minimum cohort.
  case tooFewUpdates(node: String, String)

  public var description: String {
    switch self {
    case .program(let why): why
    case .transport(let node, let why): "the enclave of \(node): \(why)"
    case .refused(let node, let request, let why):
      "the enclave of \(node) refused \(request): \(why)"
    case .unexpected(let node, let request):
      "the enclave of \(node) answered \(request) with the wrong kind of response"
    case .tooFewUpdates(let node, let why):
      "the enclave of \(node): the round cannot commit: \(why)"
    }
  }
}

/// Carries request frames to an enclave and its response frames back.
public protocol EnclaveTransport: AnyObject {
  func exchange(_ request: [UInt8]) throws -> [UInt8]
  func close()
}

/// The enclave program as a child process, talking over its stdin and stdout; its log (stderr)
/// goes to a file.
public final class ProcessEnclave: EnclaveTransport {
  let process = Process()
  let input = Pipe()
  let output = Pipe()

  public init(program: String, platform: String, log: String) throws {
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = ["--platform", platform]
    process.standardInput = input
    process.standardOutput = output
    FileManager.default.createFile(atPath: log, contents: nil)
    process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    #if os(Linux)
      // A round's request is tens of megabytes: 1 MiB pipes move it in fewer context switches
      // than the default 64 KiB (best effort; the kernel may refuse a larger size).
      let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ
      for fd in [
        input.fileHandleForWriting.fileDescriptor, output.fileHandleForReading.fileDescriptor,
      ] {
        _ = fcntl(fd, setPipeSize, 1 << 20)
      }
    #endif
    try process.run()
  }

  public func exchange(_ request: [UInt8]) throws -> [UInt8] {
    try Frames.write(request, to: input.fileHandleForWriting.fileDescriptor)
    guard let response = try Frames.read(from: output.fileHandleForReading.fileDescriptor) else {
      throw Frames.Failure.closed
    }
    return response
  }

  public func close() {
    try? input.fileHandleForWriting.close()
    process.waitUntilExit()
  }

  deinit {
    if process.isRunning { process.terminate() }
  }
}

/// The enclave code in this process, reached through the same request and response bytes.
/// Used where the enclave program is not built; it offers no isolation at all.
public final class InProcessEnclave: EnclaveTransport {
  let service: EnclaveService
  public init(service: EnclaveService) { self.service = service }
  public func exchange(_ request: [UInt8]) throws -> [UInt8] { service.handle(request) }
  public func close() {}
}

/// A node's host talking to its enclave: typed requests over a transport. `tap`, if set, sees
/// every frame in both directions (tests use it to check that no plaintext update passes).
public final class EnclaveClient {
  public let node: String
  let transport: any EnclaveTransport
  public var tap: (@Sendable ([UInt8]) -> Void)?

  public init(node: String, transport: any EnclaveTransport) {
    self.node = node
    self.transport = transport
  }

  public func call(_ request: EnclaveRequest) throws -> EnclaveResponse {
    let bytes = request.canonicalBytes
    tap?(bytes)
    let answer: [UInt8]
    do {
      answer = try transport.exchange(bytes)
    } catch {
      throw EnclaveHostError.transport(node: node, "\(error)")
    }
    tap?(answer)
    let response: EnclaveResponse
    do {
      response = try EnclaveResponse(canonical: answer)
    } catch {
      throw EnclaveHostError.transport(node: node, "unreadable response: \(error)")
    }
    if case .failure(let why) = response {
      throw EnclaveHostError.refused(node: node, request: request.name, why)
    }
    if case .tooFewUpdates(let why) = response {
      throw EnclaveHostError.tooFewUpdates(node: node, why)
    }
    return response
  }

  public func start(sealed: [UInt8]?, policy: EnclavePolicy) throws -> EnclaveInfo {
    guard case .info(let info) = try call(.start(sealed: sealed, policy: policy)) else {
      throw EnclaveHostError.unexpected(node: node, request: "start")
    }
    return info
  }

  public func createGroupKey() throws -> EnclaveInfo {
    guard case .info(let info) = try call(.createGroupKey) else {
      throw EnclaveHostError.unexpected(node: node, request: "create-group-key")
    }
    return info
  }

  public func challenge() throws -> [UInt8] {
    guard case .nonce(let n) = try call(.challenge) else {
      throw EnclaveHostError.unexpected(node: node, request: "challenge")
    }
    return n
  }

  public func evidence(nonce: [UInt8]) throws -> EnclaveEvidence {
    guard case .evidence(let e) = try call(.evidence(nonce: nonce)) else {
      throw EnclaveHostError.unexpected(node: node, request: "evidence")
    }
    return e
  }

  /// Brings `joiner` into the group: mutual attestation, then the key grant.
  public func admit(_ joiner: EnclaveClient, network: [UInt8]) throws {
    let mine = try challenge()
    let theirs = try joiner.challenge()
    let evidence = try joiner.evidence(nonce: mine)
    guard
      case .grant(let grant) = try call(
        .admit(joiner: evidence, joinerChallenge: theirs, network: network))
    else { throw EnclaveHostError.unexpected(node: node, request: "admit") }
    guard case .info = try joiner.call(.accept(grant: grant, network: network)) else {
      throw EnclaveHostError.unexpected(node: joiner.node, request: "accept")
    }
  }

  /// Gives the enclave Intel's DCAP collateral for checking SGX evidence.
  public func supply(_ collateral: Collateral) throws -> EnclaveInfo {
    guard case .info(let info) = try call(.collateral(collateral)) else {
      throw EnclaveHostError.unexpected(node: node, request: "collateral")
    }
    return info
  }

  public func aggregate(_ request: AggregateRequest) throws -> AggregateResponse {
    guard case .aggregated(let r) = try call(.aggregate(request)) else {
      throw EnclaveHostError.unexpected(node: node, request: "aggregate")
    }
    return r
  }

  /// The model of the round this enclave last aggregated, against the proof of its commit.
  public func release(_ proof: InclusionProof) throws -> [UInt8] {
    guard case .model(let file) = try call(.release(proof)) else {
      throw EnclaveHostError.unexpected(node: node, request: "release")
    }
    return file
  }

  public func seal() throws -> [UInt8] {
    guard case .sealed(let s) = try call(.seal) else {
      throw EnclaveHostError.unexpected(node: node, request: "seal")
    }
    return s
  }

  public func close() { transport.close() }
}

/// How a node runs its enclave.
public enum EnclaveLaunch: Sendable {
  /// The enclave program next to this executable if it is there, else in process.
  case automatic
  /// This enclave program, one process per node.
  case program(String)
  /// The enclave code in this process, through the same messages (no isolation at all).
  case inProcess
}

/// Where the enclave program is: next to the running executable (as `swift build` places it).
public enum EnclaveProgram {
  public static let name = "fedledger-enclave"

  public static func locate() -> String? {
    let me =
      (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
      ?? CommandLine.arguments[0]
    let candidate = URL(fileURLWithPath: me).deletingLastPathComponent()
      .appendingPathComponent(name).path
    return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
  }
}
