/// Stage 1: a client's two X25519 public keys, one to encrypt shares between neighbours and
/// one to agree pairwise masks.
public struct AdvertisedKeys: Equatable, Sendable {
  public var client: Int
  public var shareKey: [UInt8]
  public var maskKey: [UInt8]

  public init(client: Int, shareKey: [UInt8], maskKey: [UInt8]) {
    self.client = client
    self.shareKey = shareKey
    self.maskKey = maskKey
  }
}

/// Stage 2: one holder's shares of its dealer's two secrets, encrypted to the holder, with the
/// dealer's commitments to each share (so that a share revealed later is checked alone).
public struct EncryptedShare: Equatable, Sendable {
  public var dealer: Int
  public var holder: Int
  /// ChaCha20-Poly1305 under the pair's key: nonce, ciphertext, tag.
  public var ciphertext: [UInt8]
  public var selfMaskShareCommitment: [UInt8]
  public var maskKeyShareCommitment: [UInt8]

  public init(
    dealer: Int, holder: Int, ciphertext: [UInt8], selfMaskShareCommitment: [UInt8],
    maskKeyShareCommitment: [UInt8]
  ) {
    self.dealer = dealer
    self.holder = holder
    self.ciphertext = ciphertext
    self.selfMaskShareCommitment = selfMaskShareCommitment
    self.maskKeyShareCommitment = maskKeyShareCommitment
  }
}

/// Stage 2: everything a dealer sends: a share for each neighbour that advertised keys, and
/// its commitment to its self-mask seed (its masking key is committed by its public key).
public struct ShareBundle: Equatable, Sendable {
  public var dealer: Int
  public var selfMaskCommitment: [UInt8]
  public var shares: [EncryptedShare]

  public init(dealer: Int, selfMaskCommitment: [UInt8], shares: [EncryptedShare]) {
    self.dealer = dealer
    self.selfMaskCommitment = selfMaskCommitment
    self.shares = shares
  }
}

/// The two secrets a client deals shares of.
public enum SecAggSecret: UInt8, Equatable, Sendable {
  /// The seed of its self mask: revealed (by t shares) when the client survives.
  case selfMaskSeed = 1
  /// Its masking private key: revealed when it dropped after dealing, so that its neighbours'
  /// pairwise masks with it can be removed.
  case maskKey = 2
}

/// Stage 4: one share a holder reveals, with the nonce its commitment was made with.
public struct RevealedShare: Equatable, Sendable {
  public var dealer: Int
  public var holder: Int
  public var secret: SecAggSecret
  public var nonce: [UInt8]
  public var value: [UInt8]

  public init(dealer: Int, holder: Int, secret: SecAggSecret, nonce: [UInt8], value: [UInt8]) {
    self.dealer = dealer
    self.holder = holder
    self.secret = secret
    self.nonce = nonce
    self.value = value
  }
}
