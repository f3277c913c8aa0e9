import Attestation
import Enclave
import Foundation
import Gateway
import Host
import Ledger
import Records

extension SimulatedNetwork {
  /// Each node's enclave: one `fedledger-enclave` process per node, or the same code in this
  /// process; its simulated platform lives in `directory`/enclaves/node-N.
  static func launchEnclaves(_ n: Int, in directory: String, _ launch: EnclaveLaunch) throws -> (
    clients: [EnclaveClient], platforms: [SimulatedPlatform], measurement: [UInt8],
    placement: EnclavePlacement
  ) {
    let root = directory + "/enclaves"
    try? FileManager.default.removeItem(atPath: root)
    let program: String?
    switch launch {
    case .automatic: program = EnclaveProgram.locate()
    case .program(let path):
      guard FileManager.default.isExecutableFile(atPath: path) else {
        throw EnclaveHostError.notAProgram(path: path)
      }
      program = path
    case .inProcess: program = nil
    }
    let measurement = try Enclave.measure(executable: program ?? "/proc/self/exe")
    var platforms: [SimulatedPlatform] = []
    var clients: [EnclaveClient] = []
    for i in 0..<n {
      let dir = "\(root)/node-\(i)"
      let platform = try SimulatedPlatform.loadOrCreate(path: dir + "/platform.key")
      platforms.append(platform)
      let transport: any EnclaveTransport =
        if let program {
          try ProcessEnclave(
            program: program, platform: dir + "/platform.key", log: dir + "/enclave.log")
        } else {
          InProcessEnclave(service: EnclaveService(measurement: measurement, platform: platform))
        }
      clients.append(EnclaveClient(node: "node-\(i)", transport: transport))
    }
    return (clients, platforms, measurement, program == nil ? .inProcess : .process)
  }

  /// Starts every node's enclave under the genesis policy, shares the group key from the first
  /// to each other after mutual attestation, and records the group key on the ledger with
  /// every enclave's evidence (ordered with the enrolments).
  func startEnclaves() throws {
    let policy = genesis.enclavePolicy()
    for e in enclaves { _ = try e.start(sealed: nil, policy: policy) }
    _ = try enclaves[0].createGroupKey()
    for joiner in enclaves.dropFirst() { try enclaves[0].admit(joiner, network: network.bytes) }
    // Every enclave holds the key now; the record carries all their evidence (k is enough).
    var holders: [GroupKeyRecord.Holder] = []
    var key: [UInt8]?
    for e in enclaves {
      let evidence = try e.evidence(nonce: EnclaveEvidence.ledgerNonce(network: network.bytes))
      guard let held = evidence.groupKey, key == nil || key == held,
        let enclave = PublicKey(bytes: evidence.signingKey)
      else {
        throw EnclaveHostError.refused(
          node: e.node, request: "evidence", "it attests no group key, or another")
      }
      key = held
      holders.append(
        .init(
          enclave: enclave,
          evidence: Evidence(kind: .simulatedEnclave, bytes: evidence.canonicalBytes)))
    }
    orderer.submit(.groupKey(GroupKeyRecord(groupKey: key!, holders: holders)))
    try sealEnclaves()
  }

  /// Each cluster's own check before it seals anything, against an enclave of its choice
  /// (here spread over the nodes): the enclave's evidence for the cluster's nonce and the group
  /// key the ledger recorded.
  func clustersCheckEnclaves() throws {
    let policy = genesis.enclavePolicy()
    guard let recorded = orderer.replicas[0].state.groupKey else {
      throw SimulatedNetworkError.noGroupKeyOnLedger
    }
    for agent in agents {
      let nonce = agent.challenge()
      let node = agent.id % enclaves.count
      do {
        try agent.trustEnclaves(
          evidence: try enclaves[node].evidence(nonce: nonce), policy: policy,
          ledgerGroupKey: recorded)
      } catch {
        throw SimulatedNetworkError.clusterRefused(
          cluster: agent.name, node: "node-\(node)", "\(error)")
      }
    }
    groupKey = recorded
  }

  /// Keeps each enclave's sealed state beside its platform, as a node would on disk.
  func sealEnclaves() throws {
    for (i, e) in enclaves.enumerated() {
      try Data(try e.seal()).write(
        to: URL(fileURLWithPath: "\(directory)/enclaves/node-\(i)/sealed.bin"), options: .atomic)
    }
  }
}

/// Why the simulated network could not be founded.
public enum SimulatedNetworkError: Error, Equatable, CustomStringConvertible {
  /// The enclaves shared a group key, but the ledger holds no record of it.
  case noGroupKeyOnLedger
  /// A cluster's own check of an enclave failed: it will not seal updates to that group key.
  case clusterRefused(cluster: String, node: String, String)

  public var description: String {
    switch self {
    case .noGroupKeyOnLedger: "the ledger recorded no group key"
    case .clusterRefused(let cluster, let node, let why):
      "\(cluster) refuses the enclave of \(node): \(why)"
    }
  }
}
