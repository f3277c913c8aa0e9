import Attestation
import Canonical
import Foundation
import Records
import SwiftASN1
import X509

extension Genesis {
  /// The genesis endorser an endorsement counts for, after checking the evidence its key rests
  /// on (not its signature); or why it counts for none.
  ///
  /// A genesis-key endorsement counts for the endorser with that key. A simulated-enclave
  /// endorsement counts for the endorser whose platform key signed its report, if the report
  /// is of an allowed measurement and binds the endorsing key to this network and its policy.
  /// An sgx-dcap endorsement counts for the sgx-enclave endorser whose PPID its quote's PCK
  /// certificate names, if the quote verifies with the collateral it carries at `time` and
  /// binds the same. `checkEvidence`
  /// false skips the report and quote checks (for replaying blocks already checked).
  public func endorser(of e: Endorsement, at time: Date, checkEvidence: Bool = true)
    -> Swift.Result<Endorser, EndorserRefusal>
  {
    endorser(evidence: e.evidence, key: e.endorser, at: time, checkEvidence: checkEvidence)
  }

  /// The genesis endorser whose enclave (or key) `evidence` shows holds `key`, after checking
  /// the evidence as for an endorsement; or why it counts for none.
  public func endorser(
    evidence carried: Evidence, key: PublicKey, at time: Date, checkEvidence: Bool = true
  ) -> Swift.Result<Endorser, EndorserRefusal> {
    let e = (evidence: carried, endorser: key)
    switch e.evidence.kind {
    case .genesisKey:
      guard let endorser = endorser(e.endorser), endorser.kind == .genesisKey else {
        return .failure(.init("key \(e.endorser.short) is not a genesis-key endorser in genesis"))
      }
      return .success(endorser)
    case .simulatedEnclave:
      let evidence: EnclaveEvidence
      do {
        evidence = try EnclaveEvidence(canonical: e.evidence.bytes)
      } catch {
        return .failure(.init("its simulated-enclave evidence does not decode: \(error)"))
      }
      guard evidence.signingKey == e.endorser.bytes else {
        return .failure(.init("its evidence is for another key than the endorsing one"))
      }
      guard case .simulated(let report) = evidence.report else {
        return .failure(.init("its evidence is marked simulated-enclave but carries an SGX quote"))
      }
      let platform = report.platformKey
      guard
        let endorser = endorsers.first(where: {
          $0.kind == .simulatedEnclave && $0.key?.bytes == platform
        })
      else {
        return .failure(
          .init(
            "its evidence is signed by platform \(Hex.encode(platform).prefix(12)), which is not a simulated-enclave endorser in genesis"
          ))
      }
      do {
        if checkEvidence {
          try evidence.verify(
            nonce: EnclaveEvidence.ledgerNonce(network: hash.bytes), policy: enclavePolicy())
        }
      } catch {
        return .failure(.init("its evidence does not verify: \(error)"))
      }
      return .success(endorser)
    case .sgxDCAP:
      let carried: CollateralizedEvidence
      do {
        carried = try CollateralizedEvidence(canonical: e.evidence.bytes)
      } catch {
        return .failure(.init("its sgx-dcap evidence does not decode: \(error)"))
      }
      guard case .sgx = carried.evidence.report else {
        return .failure(.init("its evidence is marked sgx-dcap but carries no SGX quote"))
      }
      guard carried.evidence.signingKey == e.endorser.bytes else {
        return .failure(.init("its evidence is for another key than the endorsing one"))
      }
      let ppid: [UInt8]
      do {
        ppid = try carried.evidence.platform()
      } catch {
        return .failure(.init("its quote names no SGX platform: \(error)"))
      }
      guard
        let endorser = endorsers.first(where: {
          $0.kind == .sgxEnclave && $0.ppid?.bytes == ppid
        })
      else {
        return .failure(
          .init(
            "its quote is from SGX platform PPID \(Hex.encode(ppid)), which is not an sgx-enclave endorser in genesis"
          ))
      }
      do {
        if checkEvidence {
          try carried.evidence.verify(
            nonce: EnclaveEvidence.ledgerNonce(network: hash.bytes), policy: enclavePolicy(),
            collateral: carried.collateral, at: time)
        }
      } catch {
        return .failure(.init("its evidence does not verify at \(time): \(error)"))
      }
      return .success(endorser)
    }
  }
}

extension EnclaveEvidence {
  /// The platform this evidence says made it: a simulated platform's key (32 bytes), or an
  /// SGX platform's PPID (16 bytes) from the PCK certificate in its quote. A claim until
  /// `verify` passes, which checks that key's signature, or that certificate's chain to the
  /// root; it stays the same when the enclave's keys, build or TCB level change.
  public func platform() throws(QuoteError) -> [UInt8] {
    switch report {
    case .simulated(let report): report.platformKey
    case .sgx(let bytes): try SGXQuote(bytes).pckExtension().ppid
    }
  }
}
