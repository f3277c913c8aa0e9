import Attestation
import EnclaveMessages
import Ledger
import NodeAPI
import Protection
import SwiftProtobuf

extension FuzzTargets {
  /// The gRPC messages at a node's boundary, both ways: the first byte picks the message,
  /// the rest is its protobuf encoding; what it carries goes on to the decoder its receiver
  /// uses.
  static let nodeMessages = FuzzTarget(
    "node-messages", "gRPC messages of the node API (first byte picks one), and what they carry"
  ) { (input: [UInt8]) throws(FuzzFinding) in
    guard let selector = input.first else { return false }
    let m = Array(input.dropFirst())
    let t = "node-messages"
    switch selector % 12 {
    case 0:
      guard let r = try? Fedledger_V1_SubmitRequest(serializedBytes: m) else { return false }
      _ = try canonicalRoundTrip(Transaction.self, Array(r.transaction), target: t)
      _ = try canonicalRoundTrip(UpdateEnvelope.self, Array(r.blob), target: t)
    case 1:
      guard let r = try? Fedledger_V1_HoldRequest(serializedBytes: m) else { return false }
      _ = try canonicalRoundTrip(Transaction.self, Array(r.transaction), target: t)
      _ = try canonicalRoundTrip(UpdateEnvelope.self, Array(r.blob), target: t)
    case 2:
      guard let r = try? Fedledger_V1_BlockResponse(serializedBytes: m),
        let wire = try? NodeClient.wireBlock(r, from: "fuzz")
      else { return false }
      for tx in wire.transactions { _ = try canonicalRoundTrip(Transaction.self, tx, target: t) }
    case 3:
      guard (try? Fedledger_V1_StatusResponse(serializedBytes: m)) != nil else { return false }
    case 4:
      guard let r = try? Fedledger_V1_ReceiptResponse(serializedBytes: m) else { return false }
      _ = try? Receipt.parse(Array(r.receipt))
    case 5:
      guard let r = try? Fedledger_V1_EnclaveEvidenceResponse(serializedBytes: m) else {
        return false
      }
      _ = try canonicalRoundTrip(EnclaveEvidence.self, Array(r.evidence), target: t)
    case 6:
      guard let r = try? Fedledger_V1_EnclaveAdmitRequest(serializedBytes: m) else { return false }
      _ = try canonicalRoundTrip(EnclaveEvidence.self, Array(r.evidence), target: t)
    case 7:
      guard let r = try? Fedledger_V1_EnclaveAdmitResponse(serializedBytes: m) else { return false }
      _ = try canonicalRoundTrip(GroupKeyGrant.self, Array(r.grant), target: t)
    case 8:
      guard (try? Fedledger_V1_BlobRequest(serializedBytes: m)) != nil else { return false }
    case 9:
      guard (try? Fedledger_V1_BlocksRequest(serializedBytes: m)) != nil else { return false }
    case 10:
      guard (try? Fedledger_V1_EnclaveChallengeResponse(serializedBytes: m)) != nil else {
        return false
      }
    default:
      guard (try? Fedledger_V1_BlobResponse(serializedBytes: m)) != nil else { return false }
    }
    return true
  }
}
