import Attestation
import Foundation

/// Gramine's attestation interface: the `/dev/attestation` pseudo-files through which a program
/// running under `gramine-sgx` gets a DCAP quote binding 64 bytes of its choosing, and its
/// sealing key. The files this type uses:
///
/// - `attestation_type` (read): `none`, `epid` or `dcap`, from the manifest's
///   `sgx.remote_attestation`;
/// - `user_report_data` (write): the 64-byte REPORTDATA, replaced by each write;
/// - `quote` (read): a quote, made when the file is opened, for the REPORTDATA written last
///   (Gramine adds it only when the type is not `none`);
/// - `keys/_sgx_mrenclave` (read): the 16-byte sealing key bound to MRENCLAVE.
///
/// Gramine also provides `my_target_info`, `target_info` and `report` (local attestation, 512-byte
/// target info), which this project does not use. Under `gramine-direct` or outside Gramine
/// none of the SGX files exist. The files are per process and not thread-safe, so one caller at
/// a time. Only Foundation file handles are used: Gramine reports these files' size as 0, so
/// they are read to their end, never by their reported size.
public struct DevAttestation: Sendable {
  public static let reportDataSize = 64
  public static let sealingKeySize = 16

  public let directory: String

  public init(directory: String = "/dev/attestation") {
    self.directory = directory
  }

  /// "dcap", "epid" or "none", as Gramine reports it.
  public func attestationType() throws(DevAttestationError) -> String {
    let path = try existing("attestation_type")
    let bytes = try read(path)
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw .unreadable(path: path, why: "is not text")
    }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
  }

  /// Writes the 64-byte REPORTDATA, then reads the quote Gramine produced for it.
  ///
  /// Refused unless the attestation type is `dcap`, and unless what comes back parses as an SGX
  /// quote whose REPORTDATA is exactly what was written: anything else is a stale or foreign
  /// quote (Gramine copies the written bytes into the report it has quoted). The quote is not
  /// verified here; its verifier does that, against collateral and the network's policy.
  public func quote(reportData: [UInt8]) throws(DevAttestationError) -> [UInt8] {
    let reportDataPath = file("user_report_data")
    guard reportData.count == Self.reportDataSize else {
      throw .reportDataSize(path: reportDataPath, count: reportData.count)
    }
    let type = try attestationType()
    guard type == "dcap" else { throw .notDCAP(path: file("attestation_type"), type: type) }
    try write(reportData, to: try existing("user_report_data"))
    let quotePath = try existing("quote")
    let bytes = try read(quotePath)
    let quote: SGXQuote
    do throws(QuoteError) {
      quote = try SGXQuote(bytes)
    } catch {
      throw .malformedQuote(path: quotePath, error)
    }
    guard quote.report.reportData == reportData else { throw .staleQuote(path: quotePath) }
    return bytes
  }

  /// The 16-byte sealing key bound to MRENCLAVE (keys/_sgx_mrenclave).
  ///
  /// Only this enclave build on this CPU derives it, and Gramine derives it at the CPU's current
  /// security version, so a microcode (TCB) update changes it. Use it only through a KDF with a
  /// label of its own: Gramine warns against using a key both for an encrypted mount and
  /// directly, and the manifest in deploy/gramine mounts nothing with it.
  public func sealingKey() throws(DevAttestationError) -> [UInt8] {
    let path = try existing("keys/_sgx_mrenclave")
    let key = try read(path)
    guard key.count == Self.sealingKeySize else {
      throw .wrongSize(path: path, expected: Self.sealingKeySize, actual: key.count)
    }
    return key
  }

  // MARK: Files

  func file(_ name: String) -> String {
    (directory as NSString).appendingPathComponent(name)
  }

  /// The path of `name`, after checking that the directory and the file exist.
  func existing(_ name: String) throws(DevAttestationError) -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
      isDirectory.boolValue
    else { throw .missingDirectory(directory) }
    let path = file(name)
    guard FileManager.default.fileExists(atPath: path) else { throw .missing(path: path) }
    return path
  }

  func read(_ path: String) throws(DevAttestationError) -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else {
      throw .unreadable(path: path, why: "cannot be opened for reading")
    }
    defer { try? handle.close() }
    do {
      return Array(try handle.readToEnd() ?? Data())
    } catch {
      throw .unreadable(path: path, why: error.localizedDescription)
    }
  }

  /// One write of all the bytes, as Gramine expects: each write replaces the file's content.
  /// The file is opened without truncation or creation, which a pseudo-file does not support.
  func write(_ bytes: [UInt8], to path: String) throws(DevAttestationError) {
    guard let handle = FileHandle(forWritingAtPath: path) else {
      throw .unwritable(path: path, why: "cannot be opened for writing")
    }
    do {
      try handle.write(contentsOf: bytes)
      try handle.close()
    } catch {
      try? handle.close()
      throw .unwritable(path: path, why: error.localizedDescription)
    }
  }
}

/// Why `/dev/attestation` gave no usable answer. Each names the file and what is wrong with it.
public enum DevAttestationError: Error, Equatable, CustomStringConvertible {
  case missingDirectory(String)
  case missing(path: String)
  case unreadable(path: String, why: String)
  case unwritable(path: String, why: String)
  case wrongSize(path: String, expected: Int, actual: Int)
  case reportDataSize(path: String, count: Int)
  case notDCAP(path: String, type: String)
  case malformedQuote(path: String, QuoteError)
  case staleQuote(path: String)

  public var description: String {
    switch self {
    case .missingDirectory(let path):
      "\(path) does not exist: Gramine provides it only to a program it runs"
    case .missing(let path):
      "\(path) does not exist: it is there only under gramine-sgx (and quote only when "
        + "sgx.remote_attestation is not \"none\")"
    case .unreadable(let path, let why): "\(path) cannot be read: \(why)"
    case .unwritable(let path, let why): "\(path) cannot be written: \(why)"
    case .wrongSize(let path, let expected, let actual):
      "\(path) holds \(actual) bytes, not \(expected)"
    case .reportDataSize(let path, let count):
      "\(path) takes exactly \(DevAttestation.reportDataSize) bytes of REPORTDATA, not \(count)"
    case .notDCAP(let path, let type):
      "\(path) says \"\(type)\", not \"dcap\": the manifest must set sgx.remote_attestation = "
        + "\"dcap\" (\"none\" makes no quote, and an EPID quote is not one this project verifies)"
    case .malformedQuote(let path, let error): "\(path) is not an SGX DCAP quote: \(error)"
    case .staleQuote(let path):
      "\(path) holds a quote whose REPORTDATA is not the one just written: a stale or foreign quote"
    }
  }
}
