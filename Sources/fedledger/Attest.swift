import ArgumentParser
import Attestation
import Canonical
import CollateralFiles
import Foundation
import Ledger

struct Attest: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Check enclave attestation evidence by hand.", subcommands: [AttestVerify.self])
}

struct AttestVerify: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Verify an Intel SGX DCAP quote and print the enclave's identity.",
    discussion: """
      Checks the quote's PCK certificate chain to Intel's pinned SGX root, the QE report's \
      signature, the attestation key's binding and the quote's signature; with --collateral \
      also the CRLs, TCB info and QE identity (Intel-signed, current at --at), the platform's \
      TCB level, the quoting enclave, and the policy options below. Exits 0 when the quote \
      passes, 1 with the reason when it does not. Formats: docs/attestation.md.
      """)

  @Option(help: "The quote (raw binary, version 3 or 4).") var quote: String
  @Option(
    help:
      "Collateral: a PCCS quote-collateral JSON file, or a directory (root_crl.der, a PCK CA *crl.der, tcb_info.json or fmspc_*.json, qe_identity.json, tcb_signer.pem)."
  )
  var collateral: String?
  @Option(help: "Verification time, ISO 8601 (default: now).") var at: String?
  @Option(help: "Allowed MRENCLAVE (hex); repeat for several. Default: any.")
  var mrenclave: [String] = []
  @Option(help: "Allowed MRSIGNER (hex); repeat for several. Default: any.") var mrsigner:
    [String] = []
  @Option(help: "Accepted platform TCB status; repeat (default UpToDate, SWHardeningNeeded).")
  var acceptTcb: [String] = []
  @Flag(help: "Accept CRLs past their next update (reported either way).") var acceptStaleCrl =
    false
  @Flag(help: "Accept debug enclaves (their memory is readable by the host).") var allowDebug =
    false

  func run() async throws {
    func hexArg(_ s: String, _ flag: String) throws -> [UInt8] {
      guard let b = Hex.decode(s, uppercase: true), b.count == 32 else {
        throw ValidationError("\(flag) \(s) is not 32 bytes of hex")
      }
      return b
    }
    let time: Date
    if let at {
      guard let t = ISO8601DateFormatter().date(from: at) else {
        throw ValidationError("--at \(at) is not an ISO 8601 time such as 2025-06-20T00:00:00Z")
      }
      time = t
    } else {
      time = Date()
    }
    guard let data = FileManager.default.contents(atPath: quote) else {
      Terminal.error("\(quote): cannot read the quote")
      throw ExitCode(2)
    }
    var policy = AttestationPolicy()
    policy.mrEnclaves = Set(try mrenclave.map { try hexArg($0, "--mrenclave") })
    policy.mrSigners = Set(try mrsigner.map { try hexArg($0, "--mrsigner") })
    if !acceptTcb.isEmpty { policy.acceptedTCBStatuses = Set(acceptTcb) }
    policy.acceptStaleCRLs = acceptStaleCrl
    policy.allowDebug = allowDebug
    policy.allowAnyEnclave = mrenclave.isEmpty && mrsigner.isEmpty
    do {
      let q = try SGXQuote(Array(data))
      print("quote: version \(q.version), ECDSA P-256, \(data.count) bytes; verified at \(time)")
      if policy.allowAnyEnclave {
        print("note: no --mrenclave or --mrsigner given: any enclave identity is accepted")
      }
      if let collateral {
        let c = try Collateral.load(path: collateral)
        let v = try await DCAPVerifier(policy: policy).verify(q, collateral: c, at: time)
        show(v.identity)
        print("  platform TCB  \(v.tcbStatus)  FMSPC \(Hex.encode(v.fmspc))")
        print("  platform PPID \(Hex.encode(v.ppid))")
        if !v.advisoryIDs.isEmpty {
          print("  advisories    \(v.advisoryIDs.joined(separator: ", "))")
        }
        print("  QE TCB        \(v.qeTCBStatus)")
        for note in v.notes { print("  note          \(note)") }
        print("VERIFIED: genuine SGX enclave; collateral and policy checks passed")
      } else {
        let (identity, pck) = try await QuoteVerifier().verify(q, at: time)
        try policy.check(q.report, tcbStatus: "UpToDate", qeTCBStatus: "UpToDate")
        show(identity)
        print("  platform PPID \(Hex.encode(try PCKExtension(certificate: pck).ppid))")
        print(
          "VERIFIED (without collateral): quote signatures and PCK chain pass; CRLs, TCB level and QE identity were NOT checked: pass --collateral"
        )
      }
    } catch {
      print("FAILED: \(error)")
      throw ExitCode.failure
    }
  }

  private func show(_ i: EnclaveIdentity) {
    print("  MRENCLAVE     \(Hex.encode(i.mrEnclave))")
    print("  MRSIGNER      \(Hex.encode(i.mrSigner))")
    print("  ISVPRODID \(i.isvProdID)  ISVSVN \(i.isvSVN)  debug \(i.isDebug ? "yes" : "no")")
    print("  REPORTDATA    \(Hex.encode(i.reportData))")
  }
}
