import Records

/// Privacy mode none, cluster side: the update goes as it is (its commitment still binds it to
/// the cluster's enrolled key and the round).
public struct ClearUpdates: UpdateProtection {
  public init() {}

  public func protect(_ payload: [UInt8], binding: UpdateBinding, signer: SigningKey) -> [UInt8] {
    payload
  }
}
