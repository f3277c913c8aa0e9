import ArgumentParser

@main
struct FedLedger: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fedledger",
    abstract:
      "Federated learning for the Industrial IoT: simulate federations on a ledger, verify models, train, evaluate, benchmark.",
    subcommands: [
      Simulate.self, Verify.self, LedgerCommand.self, Attest.self, Train.self, Evaluate.self,
      Bench.self, NetworkCommand.self, NodeCommand.self, MemberCommand.self,
      ClusterCommand.self, Devnet.self, Trial.self, Fuzz.self,
    ])
}
