import ArgumentParser

@main
struct FedLedger: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fedledger",
    abstract: "Federated learning for the Industrial IoT with attested aggregation and a ledger.",
    subcommands: [Simulate.self, Train.self, Evaluate.self, Bench.self])
}
