import Attestation
import Canonical
import Foundation
import X509

// Reads Intel's DCAP collateral from PCCS JSON files and PCS directories, for hosts and
// `fedledger attest verify`. An enclave gets collateral in the canonical encoding from its host
// and reads no files or PCCS JSON, so none of this is in its trusted code.

extension Collateral {
  /// Reads collateral from `path`: either a JSON file in the PCCS quote-collateral layout
  /// (`root_ca_crl` and `pck_crl` as hex DER, `tcb_info` and `qe_identity` as the exact signed
  /// JSON text with `tcb_info_signature` and `qe_identity_signature` in hex, and the PEM issuer
  /// chains), or a directory holding `root_crl.der`, the PCK CA's `*crl.der`, `tcb_info.json`
  /// or `fmspc_*.json`, `qe_identity.json` and `tcb_signer.pem` (docs/attestation.md).
  public static func load(path: String) throws(QuoteError) -> Collateral {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
      throw .collateral("\(path): no such file or directory")
    }
    return isDirectory.boolValue ? try directory(path) : try pccsJSON(try read(path), source: path)
  }

  static func read(_ path: String) throws(QuoteError) -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw .collateral("\(path): cannot be read")
    }
    return Array(data)
  }

  /// Reads collateral in the PCCS quote-collateral JSON layout; `source` names it in errors.
  package static func pccsJSON(_ bytes: [UInt8], source path: String) throws(QuoteError)
    -> Collateral
  {
    struct File: Decodable {
      var rootCaCrl: String
      var pckCrl: String
      var tcbInfoIssuerChain: String
      var tcbInfo: String
      var tcbInfoSignature: String
      var qeIdentityIssuerChain: String
      var qeIdentity: String
      var qeIdentitySignature: String
    }
    let file: File
    do {
      let decoder = JSONDecoder()
      decoder.keyDecodingStrategy = .convertFromSnakeCase
      file = try decoder.decode(File.self, from: Data(bytes))
    } catch let e as QuoteError {
      throw e
    } catch {
      throw .collateral("\(path): not PCCS quote collateral: \(error)")
    }
    func hex(_ field: String, _ s: String) throws(QuoteError) -> [UInt8] {
      guard let b = Hex.decode(s, uppercase: true) else {
        throw .collateral("\(path): \(field) is not hex")
      }
      return b
    }
    return Collateral(
      rootCRL: try CertificateRevocationList(derEncoded: try hex("root_ca_crl", file.rootCaCrl)),
      pckCRL: try CertificateRevocationList(derEncoded: try hex("pck_crl", file.pckCrl)),
      tcbInfo: SignedJSON(
        body: Array(file.tcbInfo.utf8),
        signature: try hex("tcb_info_signature", file.tcbInfoSignature)),
      tcbInfoIssuerChain: try QuoteVerifier.certificates(in: file.tcbInfoIssuerChain),
      qeIdentity: SignedJSON(
        body: Array(file.qeIdentity.utf8),
        signature: try hex("qe_identity_signature", file.qeIdentitySignature)),
      qeIdentityIssuerChain: try QuoteVerifier.certificates(in: file.qeIdentityIssuerChain))
  }

  static func directory(_ path: String) throws(QuoteError) -> Collateral {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
    func one(_ what: String, _ match: (String) -> Bool) throws(QuoteError) -> String {
      let found = names.filter(match).sorted()
      guard found.count == 1 else {
        throw .collateral("\(path): expected one \(what), found \(found.count)")
      }
      return "\(path)/\(found[0])"
    }
    let rootCRL = try one("root_crl.der") { $0 == "root_crl.der" }
    let pckCRL = try one("PCK CA CRL (*crl.der)") {
      $0.hasSuffix("crl.der") && $0 != "root_crl.der"
    }
    let tcb = try one("TCB info (tcb_info.json or fmspc_*.json)") {
      $0 == "tcb_info.json" || ($0.hasPrefix("fmspc_") && $0.hasSuffix(".json"))
    }
    let qe = try one("qe_identity.json") { $0 == "qe_identity.json" }
    let signer = try one("tcb_signer.pem") { $0 == "tcb_signer.pem" }
    let signerChain = try QuoteVerifier.certificates(
      in: String(decoding: try read(signer), as: UTF8.self))
    return Collateral(
      rootCRL: try CertificateRevocationList(derEncoded: try read(rootCRL)),
      pckCRL: try CertificateRevocationList(derEncoded: try read(pckCRL)),
      tcbInfo: try SignedJSON(wrapped: try read(tcb), key: "tcbInfo"),
      tcbInfoIssuerChain: signerChain,
      qeIdentity: try SignedJSON(wrapped: try read(qe), key: "enclaveIdentity"),
      qeIdentityIssuerChain: signerChain)
  }
}

extension SignedJSON {
  /// Splits Intel's `{"<key>":{...},"signature":"<hex>"}` form, keeping the inner object's
  /// bytes exactly as they are (the signature covers those bytes, not a re-encoding).
  public init(wrapped bytes: [UInt8], key: String) throws(QuoteError) {
    guard let body = rawObject(named: key, in: bytes) else {
      throw .collateral("no \"\(key)\" object")
    }
    struct Outer: Decodable { var signature: String }
    guard let outer = try? JSONDecoder().decode(Outer.self, from: Data(bytes)),
      let signature = Hex.decode(outer.signature, uppercase: true), signature.count == 64
    else { throw .collateral("\"\(key)\" has no 64-byte hex signature") }
    self.init(body: body, signature: signature)
  }
}

/// The bytes of the JSON object value of `"name":` at the top level of `bytes`.
func rawObject(named name: String, in bytes: [UInt8]) -> [UInt8]? {
  let needle = Array("\"\(name)\"".utf8)
  guard let start = bytes.indices.first(where: { bytes[$0...].starts(with: needle) }) else {
    return nil
  }
  var i = start + needle.count
  while i < bytes.count, bytes[i] != UInt8(ascii: "{") {
    guard bytes[i] == UInt8(ascii: ":") || bytes[i] == 0x20 || bytes[i] == 0x0a else { return nil }
    i += 1
  }
  var depth = 0
  var inString = false
  var escaped = false
  let open = i
  while i < bytes.count {
    let c = bytes[i]
    if inString {
      if escaped {
        escaped = false
      } else if c == UInt8(ascii: "\\") {
        escaped = true
      } else if c == UInt8(ascii: "\"") {
        inString = false
      }
    } else if c == UInt8(ascii: "\"") {
      inString = true
    } else if c == UInt8(ascii: "{") {
      depth += 1
    } else if c == UInt8(ascii: "}") {
      depth -= 1
      if depth == 0 { return Array(bytes[open...i]) }
    }
    i += 1
  }
  return nil
}
