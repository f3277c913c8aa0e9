import Canonical

// The messages' one canonical encoding each, for the ledger and the wire: clients as u32,
// keys, nonces, commitments, shares and ciphertexts at their fixed sizes.

extension AdvertisedKeys: CanonicalCodable {
  public func encode(to w: inout CanonicalWriter) {
    w.u32(UInt32(clamping: client))
    w.fixed(shareKey)
    w.fixed(maskKey)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    self.init(
      client: Int(try r.u32("secagg client")), shareKey: try r.fixed(32, "secagg share key"),
      maskKey: try r.fixed(32, "secagg mask key"))
  }
}

extension EncryptedShare: CanonicalCodable {
  /// Nonce, the share's plaintext and the tag.
  public static let ciphertextBytes = 12 + SharePlaintext.bytes + 16

  public func encode(to w: inout CanonicalWriter) {
    w.u32(UInt32(clamping: dealer))
    w.u32(UInt32(clamping: holder))
    w.fixed(ciphertext)
    w.fixed(selfMaskShareCommitment)
    w.fixed(maskKeyShareCommitment)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    self.init(
      dealer: Int(try r.u32("secagg share dealer")), holder: Int(try r.u32("secagg share holder")),
      ciphertext: try r.fixed(Self.ciphertextBytes, "secagg share ciphertext"),
      selfMaskShareCommitment: try r.fixed(32, "secagg self-mask share commitment"),
      maskKeyShareCommitment: try r.fixed(32, "secagg mask-key share commitment"))
  }
}

extension ShareBundle: CanonicalCodable {
  public func encode(to w: inout CanonicalWriter) {
    w.u32(UInt32(clamping: dealer))
    w.fixed(selfMaskCommitment)
    w.list(shares) { $1.encode(to: &$0) }
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    self.init(
      dealer: Int(try r.u32("secagg bundle dealer")),
      selfMaskCommitment: try r.fixed(32, "secagg self-mask commitment"),
      shares: try r.list("secagg shares") { (r) throws(CanonicalDecodingError) in
        try EncryptedShare(from: &r)
      })
  }
}

extension RevealedShare: CanonicalCodable {
  public func encode(to w: inout CanonicalWriter) {
    w.u32(UInt32(clamping: dealer))
    w.u32(UInt32(clamping: holder))
    w.u8(secret.rawValue)
    w.fixed(nonce)
    w.fixed(value)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let dealer = Int(try r.u32("secagg revealed dealer"))
    let holder = Int(try r.u32("secagg revealed holder"))
    let tag = try r.u8("secagg revealed secret")
    guard let secret = SecAggSecret(rawValue: tag) else {
      throw .unknownKind(field: "secagg revealed secret", tag: Int(tag))
    }
    self.init(
      dealer: dealer, holder: holder, secret: secret,
      nonce: try r.fixed(32, "secagg revealed nonce"),
      value: try r.fixed(Shamir.shareBytes, "secagg revealed share"))
  }
}

extension MaskedInput: CanonicalCodable {
  /// Client, transcript, the word count, then the words little-endian (as the masks read the
  /// keystream): a masked update as it travels.
  public func encode(to w: inout CanonicalWriter) {
    w.u32(UInt32(clamping: client))
    w.fixed(transcript)
    w.u32(UInt32(clamping: vector.count))
    var bytes = [UInt8](repeating: 0, count: vector.count * W.bitWidth / 8)
    bytes.withUnsafeMutableBytes { raw in
      for (i, word) in vector.enumerated() {
        raw.storeBytes(of: word.littleEndian, toByteOffset: i * W.bitWidth / 8, as: W.self)
      }
    }
    w.fixed(bytes)
  }

  public init(from r: inout CanonicalReader) throws(CanonicalDecodingError) {
    let client = Int(try r.u32("secagg masked client"))
    let transcript = try r.fixed(32, "secagg masked transcript")
    let count = Int(try r.u32("secagg masked word count"))
    let width = W.bitWidth / 8
    guard count <= r.remaining / width else { throw .truncated(field: "secagg masked words") }
    let raw = try r.fixed(count * width, "secagg masked words")
    let words = raw.withUnsafeBytes { bytes in
      (0..<count).map {
        W(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * width, as: W.self))
      }
    }
    self.init(client: client, transcript: transcript, vector: words)
  }
}
