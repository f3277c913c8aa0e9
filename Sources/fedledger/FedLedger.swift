import ArgumentParser

@main
struct FedLedger: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "fedledger",
    abstract:
      "Federated learning for the Industrial IoT: simulate federations, train and evaluate models, benchmark the engine.",
    subcommands: [Simulate.self, Train.self, Evaluate.self, Bench.self])
}
