import Canonical

/// The bytes a cluster seals in its envelope: its update and what it claims about it.
///
/// Layout: the magic "FLUPDATE", a version byte, then (big-endian) cluster number, round, the
/// base model hash, sample count, devices, training loss and simulated seconds, the value
/// count, and the values as float32 little-endian.
public struct UpdatePayload: Equatable, Sendable {
  public static let magic = Array("FLUPDATE".utf8)
  /// Version 2 added the devices.
  public static let version: UInt8 = 2

  public var cluster: UInt32
  public var round: UInt64
  public var baseModel: [UInt8]
  public var sampleCount: UInt64
  /// The devices whose updates went into this one (1 for a cluster without a device tier).
  public var devices: UInt32
  public var trainLoss: Double
  public var simulatedSeconds: Double
  /// The model delta: trained parameters minus the base model's.
  public var values: [Float]

  public init(
    cluster: UInt32, round: UInt64, baseModel: [UInt8], sampleCount: UInt64, devices: UInt32 = 1,
    trainLoss: Double, simulatedSeconds: Double, values: [Float]
  ) {
    precondition(baseModel.count == 32, "a base model hash is 32 bytes")
    self.cluster = cluster
    self.round = round
    self.baseModel = baseModel
    self.sampleCount = sampleCount
    self.devices = devices
    self.trainLoss = trainLoss
    self.simulatedSeconds = simulatedSeconds
    self.values = values
  }

  public init(decoding bytes: [UInt8]) throws(CanonicalDecodingError) {
    var r = CanonicalReader(bytes)
    guard try r.fixed(8, "update magic") == Self.magic else {
      throw .invalid(field: "update magic", problem: "is not FLUPDATE")
    }
    let v = try r.u8("update version")
    guard v == Self.version else {
      throw .unknownVersion(field: "update version", version: Int(v))
    }
    cluster = try r.u32("update cluster")
    round = try r.u64("update round")
    baseModel = try r.fixed(32, "update base model")
    sampleCount = try r.u64("update sample count")
    devices = try r.u32("update devices")
    trainLoss = try r.f64("update training loss")
    simulatedSeconds = try r.f64("update simulated seconds")
    let count = Int(try r.u32("update value count"))
    guard r.remaining == count * 4 else {
      throw r.remaining < count * 4
        ? .truncated(field: "update values") : .trailingBytes(count: r.remaining - count * 4)
    }
    let raw = try r.fixed(count * 4, "update values")
    var values = [Float](repeating: 0, count: count)
    values.withUnsafeMutableBufferPointer { out in
      raw.withUnsafeBytes { bytes in
        for i in 0..<count {
          out[i] = Float(
            bitPattern: UInt32(
              littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
      }
    }
    self.values = values
  }
}
