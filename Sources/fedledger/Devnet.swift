import ArgumentParser
import Etcd
import Foundation
import Ledger
import LocalProcesses
import Logging
import NodeAPI
import Records

/// `fedledger devnet`: a whole network on this machine, over loopback, as separate processes.
struct Devnet: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a network on this machine: an etcd cluster and ledger node processes.",
    subcommands: [DevnetUp.self, DevnetStatus.self, DevnetDown.self])
}

/// What `devnet up` started, in DIR/devnet.json, for `status` and `down`.
struct DevnetState: Codable {
  struct Member: Codable {
    var name: String
    var pid: Int32
    var client: Int
    var peer: Int?
    /// How it was started (the same again restarts it: `fedledger trial`), and its log.
    var program: String?
    var arguments: [String]?
    var log: String?
  }
  var etcd: [Member]
  var nodes: [Member]
  /// The cluster processes (their `client` is unused: 0).
  var clusters: [Member]

  static func path(_ directory: String) -> String { directory + "/devnet.json" }

  static func read(_ directory: String) throws -> DevnetState {
    guard let data = FileManager.default.contents(atPath: path(directory)) else {
      throw ValidationError(
        "\(path(directory)) is missing: no devnet was started in \(directory) (fedledger devnet up)"
      )
    }
    return try JSONDecoder().decode(DevnetState.self, from: data)
  }

  func write(_ directory: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(self).write(
      to: URL(fileURLWithPath: Self.path(directory)), options: .atomic)
  }
}

struct DevnetOptions: ParsableArguments {
  @Option(help: "The devnet's directory.") var directory = "runs/devnet"
}

struct DevnetUp: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "up",
    abstract:
      "Found a network and run it on free loopback ports: etcd members, ledger nodes, clusters.",
    discussion: """
      Writes the network (fedledger network init) to DIR/network, starts etcd members \
      (Debian's etcd, with TLS and a CA of the devnet's own in DIR/etcd-tls) with data in \
      DIR/etcd and ledger nodes with data in DIR/node-N, enrols the clusters through their \
      members, starts a cluster process per cluster with its state in DIR/cluster-N, and \
      records the processes in DIR/devnet.json; every process logs to DIR/logs. The rounds \
      then run on their own, as the configuration says; `devnet status` shows how far they \
      are. Stop it with `fedledger devnet down` (docs/network.md).
      """)

  @OptionGroup var options: DevnetOptions
  @Option(help: "Ledger nodes.") var nodes = 4
  @Option(help: "Clusters to found.") var clusters = 10
  @Option(
    help:
      "How many of them to enrol now, the first ones (default: all; `fedledger member enrol` enrols the rest)."
  )
  var enrol: Int?
  @Option(help: "etcd members.") var etcdMembers = 3
  @Option(help: "JSON configuration file for the network (docs/simulate.md).") var config: String?
  @Option(help: "Seconds a round takes updates before it closes on those that arrived.")
  var roundTimeout = 120
  @Flag(help: "Start no cluster processes (enrol only).") var noClusters = false
  @Option(help: "The etcd program.") var etcdProgram = "/usr/bin/etcd"

  func run() async throws {
    do {
      try await up()
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  private func up() async throws {
    let dir = options.directory
    let fm = FileManager.default
    if fm.fileExists(atPath: DevnetState.path(dir)) {
      throw ValidationError(
        "a devnet is recorded in \(dir) already: `fedledger devnet down --directory \(dir)` first")
    }
    guard fm.isExecutableFile(atPath: etcdProgram) else {
      throw ValidationError("\(etcdProgram) is missing: apt-get install etcd-server")
    }
    // A stopped devnet's directory is replaced; any other non-empty directory is left alone.
    if let entries = try? fm.contentsOfDirectory(atPath: dir), !entries.isEmpty {
      guard fm.fileExists(atPath: dir + "/network/genesis.json") else {
        throw ValidationError(
          "\(dir) is not empty and holds no stopped devnet: choose another --directory")
      }
      try fm.removeItem(atPath: dir)
    }
    try fm.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
    var initArguments = [
      "network", "init", "--nodes", "\(nodes)", "--clusters", "\(clusters)", "--output",
      dir + "/network",
    ]
    if let config { initArguments += ["--config", config] }
    try Self.runToEnd(initArguments, log: dir + "/logs/network-init.log")

    // etcd: members on free loopback ports, speaking TLS to each other and to the nodes,
    // each checked against the devnet's own CA (no one else may write the log).
    let members = try LoopbackEtcd(members: etcdMembers, token: "fedledger-devnet")
    let tls = "\(dir)/etcd-tls"
    try fm.createDirectory(atPath: tls, withIntermediateDirectories: true)
    let authority = try LocalCertificateAuthority(commonName: "fedledger devnet etcd CA")
    try write(authority.certificatePEM, to: "\(tls)/ca.pem")
    for name in (0..<etcdMembers).map({ "m\($0)" }) + (0..<nodes).map({ "node-\($0)" }) {
      let issued = try authority.issue(commonName: name)
      try write(issued.certificate, to: "\(tls)/\(name).pem")
      try write(issued.key, to: "\(tls)/\(name).key")
    }
    var state = DevnetState(etcd: [], nodes: [], clusters: [])
    for i in 0..<etcdMembers {
      let files = LoopbackEtcd.TLSFiles(
        certificate: "\(tls)/m\(i).pem", key: "\(tls)/m\(i).key", authority: "\(tls)/ca.pem")
      let arguments = members.arguments(
        member: i, dataDirectory: "\(dir)/etcd/m\(i)", tls: files)
      let log = "\(dir)/logs/etcd-m\(i).log"
      let pid = try Self.start(etcdProgram, arguments, log: log)
      state.etcd.append(
        .init(
          name: "m\(i)", pid: pid, client: members.clientPorts[i], peer: members.peerPorts[i],
          program: etcdProgram, arguments: arguments, log: log))
      try state.write(dir)
    }
    let etcd = members.endpoints.joined(separator: ",")
    let me = Self.program
    // Every node's port first: each pulls blobs from the others.
    var ports: [Int] = []
    for _ in 0..<nodes {
      var port = try LoopbackPort.free()
      while ports.contains(port) { port = try LoopbackPort.free() }
      ports.append(port)
    }
    for (i, port) in ports.enumerated() {
      let peers = ports.enumerated().filter { $0.offset != i }.map { "127.0.0.1:\($0.element)" }
      let arguments =
        [
          "node", "--genesis", "\(dir)/network/genesis.json", "--identity",
          "\(dir)/network/node-\(i)", "--data", "\(dir)/node-\(i)", "--listen",
          "127.0.0.1:\(port)", "--etcd", etcd, "--etcd-ca", "\(tls)/ca.pem", "--etcd-cert",
          "\(tls)/node-\(i).pem", "--etcd-key", "\(tls)/node-\(i).key", "--round-timeout",
          "\(roundTimeout)",
        ] + (peers.isEmpty ? [] : ["--peers", peers.joined(separator: ",")])
      let log = "\(dir)/logs/node-\(i).log"
      let pid = try Self.start(me, arguments, log: log)
      state.nodes.append(
        .init(
          name: "node-\(i)", pid: pid, client: port, peer: nil, program: me,
          arguments: arguments, log: log))
      try state.write(dir)
    }
    print(
      "devnet in \(dir): etcd \(etcd); nodes on "
        + state.nodes.map { "127.0.0.1:\($0.client)" }.joined(separator: ", "))

    // Each member enrols its cluster through a node, once every node has its genesis block.
    let network = try DevnetNetwork(directory: dir, state: state)
    try await network.waitForNodes(seconds: 60)
    let enrolled = min(max(enrol ?? clusters, 0), clusters)
    for i in 0..<enrolled {
      let enrolment = try Array(
        Data(contentsOf: URL(fileURLWithPath: "\(dir)/network/cluster-\(i)/enrolment.tx")))
      try await network.submit(enrolment, as: "member-\(i)", to: i % nodes)
    }
    try await network.waitForClusters(enrolled, seconds: 60)
    // Each cluster follows a node of its own first (and fails over to the others in turn).
    for i in 0..<(noClusters ? 0 : clusters) {
      let order = (0..<nodes).map { "127.0.0.1:\(ports[(i + $0) % nodes])" }
      let arguments = [
        "cluster", "--genesis", "\(dir)/network/genesis.json", "--identity",
        "\(dir)/network/cluster-\(i)", "--state", "\(dir)/cluster-\(i)", "--nodes",
        order.joined(separator: ","),
      ]
      let log = "\(dir)/logs/cluster-\(i).log"
      let pid = try Self.start(me, arguments, log: log)
      state.clusters.append(
        .init(
          name: "cluster-\(i)", pid: pid, client: 0, peer: nil, program: me,
          arguments: arguments, log: log))
      try state.write(dir)
    }
    try await DevnetNetwork(directory: dir, state: state).printStatus()
  }

  private func write(_ text: String, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { throw ValidationError("\(path) cannot be created") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard Foundation.write(fd, bytes, bytes.count) == bytes.count else {
      throw ValidationError("\(path) cannot be written")
    }
  }

  /// This program, to start the nodes with.
  static var program: String { Bundle.main.executablePath ?? CommandLine.arguments[0] }

  /// Runs this program with `arguments` to its end, its output in `log`; fails with the log.
  static func runToEnd(_ arguments: [String], log: String) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: Self.program)
    p.arguments = arguments
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    p.standardOutput = handle
    p.standardError = handle
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
      let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
      throw ValidationError(
        "fedledger \(arguments.prefix(2).joined(separator: " ")) failed: \(text)")
    }
  }

  /// Starts `program` in the background, its output in `log` (after what the log holds, when
  /// `appending`: a restart); returns its process id.
  static func start(
    _ program: String, _ arguments: [String], log: String, appending: Bool = false
  ) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: program)
    p.arguments = arguments
    if !appending || !FileManager.default.fileExists(atPath: log) {
      _ = FileManager.default.createFile(atPath: log, contents: nil)
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    if appending { try handle.seekToEnd() }
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    return p.processIdentifier
  }
}

struct DevnetStatus: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status", abstract: "Show every node's head, height and round, and etcd's state.")
  @OptionGroup var options: DevnetOptions

  func run() async throws {
    do {
      let state = try DevnetState.read(options.directory)
      try await DevnetNetwork(directory: options.directory, state: state).printStatus()
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }
}

struct DevnetDown: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "down",
    abstract: "Stop the devnet's processes (nodes first, then etcd); their data stays.")
  @OptionGroup var options: DevnetOptions

  func run() async throws {
    do {
      let state = try DevnetState.read(options.directory)
      let start = Date()
      stop(state.clusters.map(\.pid), what: "cluster")
      stop(state.nodes.map(\.pid), what: "node")
      // One etcd member at a time: a member stopping while the others run hands over its
      // leadership at once (stopped together, a leader waits seconds for a successor).
      for member in state.etcd { stop([member.pid], what: "etcd member") }
      let seconds = String(format: "%.1f", Date().timeIntervalSince(start))
      try FileManager.default.removeItem(atPath: DevnetState.path(options.directory))
      print("devnet in \(options.directory) stopped in \(seconds) s; its data and logs stay there")
    } catch {
      Terminal.error("\(error)")
      throw ExitCode.failure
    }
  }

  /// SIGTERM, then up to 10 s for each to exit, then SIGKILL. Only the recorded process ids.
  private func stop(_ pids: [Int32], what: String) {
    for pid in pids where kill(pid, 0) == 0 { kill(pid, SIGTERM) }
    let deadline = Date().addingTimeInterval(10)
    for pid in pids {
      while kill(pid, 0) == 0 && Date() < deadline {
        _ = waitpid(pid, nil, WNOHANG)
        usleep(50_000)
      }
      if kill(pid, 0) == 0 {
        Terminal.error("\(what) \(pid) did not stop in 10 s; killing it")
        kill(pid, SIGKILL)
      }
    }
  }
}

/// Talks to a devnet's nodes as one of its members.
struct DevnetNetwork {
  let directory: String
  let state: DevnetState
  let genesis: Genesis

  init(directory: String, state: DevnetState) throws {
    self.directory = directory
    self.state = state
    genesis = try Genesis.read(path: directory + "/network/genesis.json")
  }

  func withClient<T: Sendable>(
    node i: Int, as identity: String, _ body: @Sendable (NodeClient) async throws -> T
  ) async throws -> T {
    let files = IdentityFiles(directory: "\(directory)/network/\(identity)")
    var logger = Logger(label: "fedledger.devnet")
    logger.logLevel = .error
    let client = try NodeClient(
      host: "127.0.0.1", port: state.nodes[i].client, identity: try files.transport(),
      network: genesis.hash, expected: [genesis.nodes[i].key], logger: logger, timeout: .seconds(5))
    let connections = Task { try? await client.run() }
    defer {
      client.close()
      connections.cancel()
    }
    return try await body(client)
  }

  func status(of i: Int) async -> Result<NodeStatus, any Error> {
    do {
      return .success(try await withClient(node: i, as: "member-0") { try await $0.status() })
    } catch {
      return .failure(error)
    }
  }

  func submit(_ transaction: [UInt8], as identity: String, to node: Int) async throws {
    _ = try await withClient(node: node, as: identity) { try await $0.submit(transaction) }
  }

  func waitForNodes(seconds: Double) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    for i in state.nodes.indices {
      while true {
        if case .success(let s) = await status(of: i), s.height != nil { break }
        guard Date() < deadline else {
          throw ValidationError(
            "node-\(i) did not store its genesis block in \(Int(seconds)) s; see \(directory)/logs/node-\(i).log"
          )
        }
        try await Task.sleep(for: .milliseconds(200))
      }
    }
  }

  func waitForClusters(_ count: Int, seconds: Double) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    for i in state.nodes.indices {
      while true {
        if case .success(let s) = await status(of: i), s.enrolledClusters >= count { break }
        guard Date() < deadline else {
          throw ValidationError("node-\(i) did not enrol \(count) clusters in \(Int(seconds)) s")
        }
        try await Task.sleep(for: .milliseconds(200))
      }
    }
  }

  func printStatus() async throws {
    print("network \(genesis.network) (\(genesis.hash.short)) in \(directory)")
    print("  node     address            height  head          round  clusters")
    var heads = Set<Hash256>()
    for (i, n) in state.nodes.enumerated() {
      let address = "127.0.0.1:\(n.client)"
      switch await status(of: i) {
      case .success(let s):
        heads.insert(s.head)
        print(
          "  \(s.node.padding(toLength: 8, withPad: " ", startingAt: 0)) \(address.padding(toLength: 18, withPad: " ", startingAt: 0)) \(String(s.height.map { "\($0)" } ?? "-").padding(toLength: 7, withPad: " ", startingAt: 0)) \(s.head.short)  \(String(s.round).padding(toLength: 6, withPad: " ", startingAt: 0)) \(s.enrolledClusters)"
        )
      case .failure(let error):
        print(
          "  \(n.name.padding(toLength: 8, withPad: " ", startingAt: 0)) \(address.padding(toLength: 18, withPad: " ", startingAt: 0)) not answering: \(error)"
        )
      }
    }
    // The rounds as node-0's ledger records them (read beside the running node).
    if let store = try? LedgerStore(
      path: "\(directory)/node-0/ledger/ledger.sqlite", readOnly: true),
      let view = try? LedgerView(store: store, genesis: genesis), !view.rounds.isEmpty
    {
      let committed = view.rounds.filter { $0.model != nil }
      let aborted = view.rounds.filter { $0.aborted != nil }.count
      var line = "  rounds: \(committed.count) committed, \(aborted) aborted"
      if let last = committed.last, let model = last.model {
        line += "; last model \(model.prefix(12)) (round \(last.round))"
      }
      if let judged = view.rounds.last(where: { $0.metric != nil }), let m = judged.metric {
        line += String(
          format: "; federated accuracy %.2f%% over %d clusters (round %llu)", m.accuracy * 100,
          m.clusters, judged.round)
      }
      if let open = view.rounds.last, open.model == nil, open.aborted == nil {
        line +=
          "; round \(open.round) \(open.closed ? "closed" : "open"), \(open.commitments) of \(open.participants) updates in"
      }
      print(line)
    }
    if !state.clusters.isEmpty {
      let last = state.clusters.map { c -> String in
        let files =
          (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(c.name)")) ?? []
        let rounds = files.compactMap { f -> Int? in
          guard f.hasPrefix("round-"), f.hasSuffix(".tx") else { return nil }
          return Int(f.dropFirst("round-".count).dropLast(".tx".count))
        }
        let running = kill(c.pid, 0) == 0 ? "" : " (stopped)"
        return "\(c.name) \(rounds.max().map { "round \($0)" } ?? "no round yet")\(running)"
      }
      print("  clusters (last round answered): " + last.joined(separator: ", "))
    }
    let alive = state.etcd.filter { kill($0.pid, 0) == 0 }.count
    print(
      "  etcd: \(alive) of \(state.etcd.count) members running ("
        + state.etcd.map { "127.0.0.1:\($0.client)" }.joined(separator: ",") + ")")
    print(
      heads.count == 1
        ? "  every answering node is at the same head"
        : "  nodes are at \(heads.count) different heads")
  }
}
