import Crypto

/// A model file (docs/model-format.md) split where the enclave needs it: everything before the
/// parameters, the parameters, and the hash. The enclave reads no more of the format than this.
public struct ModelBytes: Sendable {
  /// Magic, version, header length and header.
  public var prefix: [UInt8]
  public var parameters: [Float]

  public static let magic = Array("FLMODEL".utf8) + [0]

  public init(_ file: [UInt8]) throws(EnclaveError) {
    func fail(_ why: String) -> EnclaveError { .baseModel(why) }
    guard file.count >= 16 + 32, Array(file[0..<8]) == Self.magic else {
      throw fail("is not a FedLedger model file")
    }
    func u32(_ at: Int) -> Int {
      Int(file[at]) | Int(file[at + 1]) << 8 | Int(file[at + 2]) << 16 | Int(file[at + 3]) << 24
    }
    guard u32(8) == 1 else { throw fail("has an unknown version") }
    let header = u32(12)
    let body = file.count - 32 - 16 - header
    guard body >= 0, body % 4 == 0 else { throw fail("is truncated or malformed") }
    let end = file.count - 32
    guard Array(SHA256.hash(data: file[0..<end])) == Array(file[end...]) else {
      throw fail("does not match its hash")
    }
    prefix = Array(file[0..<(16 + header)])
    let count = body / 4
    var values = [Float](repeating: 0, count: count)
    values.withUnsafeMutableBufferPointer { out in
      file.withUnsafeBytes { raw in
        for i in 0..<count {
          out[i] = Float(
            bitPattern: UInt32(
              littleEndian: raw.loadUnaligned(
                fromByteOffset: 16 + header + 4 * i, as: UInt32.self)))
        }
      }
    }
    parameters = values
  }

  /// The file with `parameters` in place of the old ones, and its hash.
  public static func file(prefix: [UInt8], parameters: [Float]) -> [UInt8] {
    var out = prefix
    out.reserveCapacity(prefix.count + parameters.count * 4 + 32)
    #if _endian(little)
      parameters.withUnsafeBytes { out.append(contentsOf: $0) }
    #else
      for v in parameters {
        let b = v.bitPattern.littleEndian
        out.append(UInt8(truncatingIfNeeded: b))
        out.append(UInt8(truncatingIfNeeded: b >> 8))
        out.append(UInt8(truncatingIfNeeded: b >> 16))
        out.append(UInt8(truncatingIfNeeded: b >> 24))
      }
    #endif
    out += Array(SHA256.hash(data: out))
    return out
  }
}
