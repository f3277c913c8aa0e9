import Canonical
import Ledger
import NodeAPI
import Records
import SwiftProtobuf

extension FuzzTargets {
  /// A sequence of blocks as a cluster follows them from a node (BlockResponse messages),
  /// checked from the fixture genesis: the header and signature decoders, the Merkle root,
  /// every transaction's verdict and the quorum's signatures.
  static let block = FuzzTarget(
    "block", "BlockResponse messages verified from genesis (VerifiedChain), as a cluster follows"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let messages = parts(input) else { return false }
    var chain = VerifiedChain(genesis: FuzzFixtures.genesis)
    var appended = 0
    for m in messages {
      guard let response = try? Fedledger_V1_BlockResponse(serializedBytes: m),
        let wire = try? NodeClient.wireBlock(response, from: "fuzz")
      else { break }
      _ = try canonicalRoundTrip(BlockHeader.self, wire.header, target: "block")
      _ = try canonicalRoundTrip(BlockSignatures.self, wire.signatures, target: "block")
      guard
        (try? chain.append(
          header: wire.header, transactions: wire.transactions, signatures: wire.signatures))
          != nil
      else { break }
      appended += 1
    }
    return appended > 0
  }
}
