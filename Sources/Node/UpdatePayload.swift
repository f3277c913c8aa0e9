import Federation
import Ledger

/// The bytes a cluster sends for its update and commits to on the ledger.
///
/// Layout: the magic "FLUPDATE", a version byte, then (big-endian) cluster, round, the base
/// model hash, sample count, training loss and simulated seconds, the value count, and the
/// values as float32 little-endian. The enclave issue wraps these bytes in an HPKE envelope.
public enum UpdatePayload {
  public static let magic = Array("FLUPDATE".utf8)
  public static let version: UInt8 = 1

  public static func encode(_ u: ClusterUpdate) -> [UInt8] {
    var w = CanonicalWriter()
    w.fixed(magic)
    w.u8(version)
    w.u32(UInt32(u.cluster))
    w.u64(UInt64(u.round))
    w.fixed(Hash256(hex: u.baseModelHash)?.bytes ?? Hash256.zero.bytes)
    w.u64(UInt64(u.sampleCount))
    w.f64(u.trainLoss)
    w.f64(u.simulatedSeconds)
    w.u32(UInt32(u.delta.count))
    var bytes = w.bytes
    bytes.reserveCapacity(bytes.count + u.delta.count * 4)
    #if _endian(little)
      // The values' memory already is float32 little-endian: copy it whole.
      u.delta.withUnsafeBytes { bytes.append(contentsOf: $0) }
    #else
      for v in u.delta {
        withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
      }
    #endif
    return bytes
  }

  public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> ClusterUpdate {
    var r = CanonicalReader(bytes)
    guard try r.fixed(8, "update magic") == magic else {
      throw .invalid(field: "update magic", problem: "is not FLUPDATE")
    }
    let v = try r.u8("update version")
    guard v == version else { throw .unknownVersion(field: "update version", version: Int(v)) }
    let cluster = Int(try r.u32("update cluster"))
    guard let round = Int(exactly: try r.u64("update round")) else {
      throw .invalid(field: "update round", problem: "is too large")
    }
    let base = try r.hash("update base model")
    guard let samples = Int(exactly: try r.u64("update sample count")) else {
      throw .invalid(field: "update sample count", problem: "is too large")
    }
    let loss = try r.f64("update training loss")
    let seconds = try r.f64("update simulated seconds")
    let count = Int(try r.u32("update value count"))
    guard r.remaining == count * 4 else {
      throw r.remaining < count * 4
        ? .truncated(field: "update values") : .trailingBytes(count: r.remaining - count * 4)
    }
    let raw = try r.fixed(count * 4, "update values")
    var delta = [Float](repeating: 0, count: count)
    delta.withUnsafeMutableBufferPointer { out in
      raw.withUnsafeBytes { bytes in
        for i in 0..<count {
          out[i] = Float(
            bitPattern: UInt32(
              littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
        }
      }
    }
    return ClusterUpdate(
      cluster: cluster, round: round, baseModelHash: base.hex, delta: delta,
      sampleCount: samples, trainLoss: loss, simulatedSeconds: seconds)
  }
}
