import ArgumentParser
import Canonical
import Foundation
import Ledger
import Records
import TransportIdentity

/// The files of one network identity (a node, member or cluster) in its own directory:
/// `ledger.key`, its Ed25519 ledger key (64 hex digits, mode 0600); `tls.pem` and `tls.key`,
/// the TLS certificate that key vouches for and its P-256 key (PEM, the key mode 0600).
struct IdentityFiles {
  let directory: String

  var ledgerKeyPath: String { directory + "/ledger.key" }
  var certificatePath: String { directory + "/tls.pem" }
  var tlsKeyPath: String { directory + "/tls.key" }

  /// Writes a fresh identity for `name` with `key`.
  static func create(
    name: String, key: SigningKey, network: Hash256, in directory: String, hosts: [String]
  ) throws -> IdentityFiles {
    let files = IdentityFiles(directory: directory)
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let tls = try TransportCertificate.make(
      name: name, ledgerKey: key, network: network, hosts: hosts)
    try secret(Hex.encode(key.secretBytes) + "\n", at: files.ledgerKeyPath)
    try secret(tls.privateKeyPEM, at: files.tlsKeyPath)
    try Data(tls.certificatePEM.utf8).write(
      to: URL(fileURLWithPath: files.certificatePath), options: .atomic)
    return files
  }

  func ledgerKey() throws -> SigningKey {
    guard let text = try? String(contentsOfFile: ledgerKeyPath, encoding: .utf8) else {
      throw IdentityFileError(path: ledgerKeyPath, problem: "cannot be read")
    }
    guard let bytes = Hex.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)),
      let key = SigningKey(secretBytes: bytes)
    else {
      throw IdentityFileError(
        path: ledgerKeyPath, problem: "is not 64 hex digits of an Ed25519 key")
    }
    return key
  }

  func transport() throws -> TransportCertificate {
    guard let certificate = try? String(contentsOfFile: certificatePath, encoding: .utf8) else {
      throw IdentityFileError(path: certificatePath, problem: "cannot be read")
    }
    guard let key = try? String(contentsOfFile: tlsKeyPath, encoding: .utf8) else {
      throw IdentityFileError(path: tlsKeyPath, problem: "cannot be read")
    }
    return TransportCertificate(certificatePEM: certificate, privateKeyPEM: key)
  }

  /// Creates `path` readable by its owner only from the start (never briefly wider), and
  /// never over an existing file.
  private static func secret(_ text: String, at path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else {
      throw IdentityFileError(
        path: path, problem: "cannot be created (\(String(cString: strerror(errno))))")
    }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
      throw IdentityFileError(path: path, problem: "cannot be written")
    }
  }
}

struct IdentityFileError: Error, CustomStringConvertible {
  var path: String
  var problem: String
  var description: String { "\(path) \(problem)" }
}

extension ParsableCommand {
  /// The daemons do not run privacy mode secagg yet (it runs in `simulate`): a network whose
  /// genesis asks for it is refused at start, before anything is sent.
  static func refuseSecureAggregation(_ genesis: Genesis, path: String) throws {
    guard genesis.rules.secureAggregation == nil else {
      throw ValidationError(
        "\(path): rules.secureAggregation is set, and the node and cluster daemons do not run privacy mode secagg yet (fedledger simulate --privacy secagg does)"
      )
    }
  }
}
