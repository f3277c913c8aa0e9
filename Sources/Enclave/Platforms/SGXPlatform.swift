import Attestation
import Crypto
import EnclaveMessages

/// Where an SGX enclave gets its quotes and sealing key: Gramine's `/dev/attestation` on a
/// real machine (`DevAttestation`).
public protocol SGXQuoting: Sendable {
  /// A DCAP quote whose REPORTDATA is `reportData` (64 bytes).
  func quote(reportData: [UInt8]) throws -> [UInt8]
  /// Key material the CPU derives for this enclave build only (MRENCLAVE policy).
  func sealingKey() throws -> [UInt8]
}

extension DevAttestation: SGXQuoting {}

/// An enclave running under Intel SGX: its evidence is a DCAP quote and its sealing key comes
/// from the CPU. Its measurement is the MRENCLAVE the hardware reports, read from a first quote
/// at start, so the enclave never has to be told who it is.
public struct SGXPlatform: EnclavePlatform {
  public var backend: EnclaveBackend { .sgx }
  let source: any SGXQuoting
  /// MRENCLAVE, as the CPU measured this enclave.
  public let measurement: [UInt8]
  /// Whether the enclave runs in debug mode (its memory readable by the host); a network's
  /// policy refuses such evidence.
  public let isDebug: Bool
  /// The platform's PPID, from the PCK certificate in its quotes: what names this machine as an
  /// `sgx-enclave` endorser in genesis.
  public let ppid: [UInt8]

  public init(source: any SGXQuoting) throws(EnclaveError) {
    self.source = source
    let quote: SGXQuote
    do {
      quote = try SGXQuote(try source.quote(reportData: [UInt8](repeating: 0, count: 64)))
    } catch {
      throw .platform("this enclave cannot quote itself: \(error)")
    }
    measurement = quote.report.mrEnclave
    isDebug = quote.report.isDebug
    do {
      ppid = try quote.pckExtension().ppid
    } catch {
      throw .platform("this enclave's quote names no platform: \(error)")
    }
  }

  public func report(measurement: [UInt8], reportData: [UInt8]) throws(EnclaveError)
    -> EnclaveReport
  {
    guard measurement == self.measurement else {
      throw .platform("asked to report a measurement other than this enclave's MRENCLAVE")
    }
    let bytes: [UInt8]
    do {
      bytes = try source.quote(reportData: reportData)
    } catch {
      throw .platform("no quote: \(error)")
    }
    // The quote must be of this enclave and carry the REPORTDATA asked for: anything else is a
    // stale or foreign quote (DevAttestation checks the same; other sources may not).
    guard let quote = try? SGXQuote(bytes), quote.report.mrEnclave == measurement,
      quote.report.reportData == reportData
    else { throw .platform("the quote is not of this enclave for the REPORTDATA asked for") }
    return .sgx(quote: bytes)
  }

  public func sealingSecret() throws(EnclaveError) -> SymmetricKey {
    do {
      return SymmetricKey(data: try source.sealingKey())
    } catch {
      throw .sealed("no SGX sealing key: \(error)")
    }
  }
}
