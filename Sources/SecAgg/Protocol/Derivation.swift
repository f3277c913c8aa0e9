import Crypto
import Foundation

/// The keys and commitments SecAgg+ derives, each under its own label and bound to the session
/// and the clients it is for.
enum Derivation {
  static func label(_ purpose: String, _ clients: Int...) -> Data {
    var info = Data("fedledger/secagg/\(purpose)".utf8)
    for c in clients { withUnsafeBytes(of: UInt32(c).bigEndian) { info.append(contentsOf: $0) } }
    return info
  }

  /// A key two clients agree (X25519, then HKDF-SHA256): the same whichever of them derives it.
  static func pairKey(
    _ mine: Curve25519.KeyAgreement.PrivateKey, _ theirs: Curve25519.KeyAgreement.PublicKey,
    session: [UInt8], purpose: String, between a: Int, and b: Int
  ) throws -> SymmetricKey {
    // A low-order key (an all-zero secret) is not refused: only its owner advertises it, and
    // what it exposes (its pairwise mask, the shares sent to it) its owner could give away
    // anyway; refusing would let it stop its honest neighbours.
    let shared = try mine.sharedSecretFromKeyAgreement(with: theirs)
    return shared.hkdfDerivedSymmetricKey(
      using: SHA256.self, salt: session, sharedInfo: label(purpose, min(a, b), max(a, b)),
      outputByteCount: 32)
  }

  static func selfMaskKey(seed: [UInt8], session: [UInt8], client: Int) -> SymmetricKey {
    HKDF<SHA256>.deriveKey(
      inputKeyMaterial: SymmetricKey(data: seed), salt: session,
      info: label("self-mask", client), outputByteCount: 32)
  }

  static func selfMaskCommitment(seed: [UInt8], session: [UInt8], client: Int) -> [UInt8] {
    var h = SHA256()
    h.update(data: label("self-mask-seed-commitment", client))
    h.update(data: session)
    h.update(data: seed)
    return Array(h.finalize())
  }

  /// A commitment to one share: a 256-bit nonce and the share, bound to both clients.
  static func shareCommitment(
    _ secret: SecAggSecret, session: [UInt8], dealer: Int, holder: Int, nonce: [UInt8],
    value: [UInt8]
  ) -> [UInt8] {
    var h = SHA256()
    h.update(data: label("share-commitment-\(secret.rawValue)", dealer, holder))
    h.update(data: session)
    h.update(data: nonce)
    h.update(data: value)
    return Array(h.finalize())
  }

  /// What the ciphertext of a share is bound to besides its key.
  static func shareAssociatedData(session: [UInt8], dealer: Int, holder: Int) -> Data {
    label("share", dealer, holder) + Data(session)
  }
}

/// A share's plaintext: dealer, holder, the commitments' nonce, then the two shares.
struct SharePlaintext {
  static let bytes = 4 + 4 + 32 + 2 * Shamir.shareBytes

  var dealer: Int
  var holder: Int
  var nonce: [UInt8]
  var selfMaskShare: [UInt8]
  var maskKeyShare: [UInt8]

  var encoded: [UInt8] {
    withUnsafeBytes(of: UInt32(dealer).bigEndian, Array.init)
      + withUnsafeBytes(of: UInt32(holder).bigEndian, Array.init) + nonce + selfMaskShare
      + maskKeyShare
  }

  init(dealer: Int, holder: Int, nonce: [UInt8], selfMaskShare: [UInt8], maskKeyShare: [UInt8]) {
    self.dealer = dealer
    self.holder = holder
    self.nonce = nonce
    self.selfMaskShare = selfMaskShare
    self.maskKeyShare = maskKeyShare
  }

  init?(decoding b: [UInt8]) {
    guard b.count == Self.bytes else { return nil }
    dealer = Int(b[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    holder = Int(b[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
    nonce = Array(b[8..<40])
    selfMaskShare = Array(b[40..<(40 + Shamir.shareBytes)])
    maskKeyShare = Array(b[(40 + Shamir.shareBytes)...])
  }
}
