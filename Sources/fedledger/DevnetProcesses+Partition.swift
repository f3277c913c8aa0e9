import ArgumentParser
import Foundation
import LocalProcesses

extension DevnetProcesses {
  /// Restarts node `i` behind loopback proxies that the trial controls: one in front of its
  /// port (peers and clusters reach it through it), one in front of each etcd member and
  /// each peer (it reaches them through them). Severing them all cuts it off from everything.
  func putBehindProxies(node i: Int) throws -> [LoopbackProxy] {
    guard var arguments = state.nodes[i].arguments else {
      throw ValidationError("node-\(i) was started by a devnet that did not record its command")
    }
    try signal(.node(i), SIGKILL)
    var proxies: [LoopbackProxy] = []
    func proxied(_ list: String) throws -> String {
      try list.split(separator: ",").map { address in
        guard let port = address.split(separator: ":").last.flatMap({ Int($0) }) else {
          throw ValidationError("node-\(i)'s address \(address) names no port")
        }
        let proxy = try LoopbackProxy(to: port)
        proxies.append(proxy)
        return "127.0.0.1:\(proxy.port)"
      }.joined(separator: ",")
    }
    func replace(_ flag: String, _ value: (String) throws -> String) throws {
      guard let at = arguments.firstIndex(of: flag), at + 1 < arguments.count else {
        throw ValidationError("node-\(i) was started without \(flag)")
      }
      arguments[at + 1] = try value(arguments[at + 1])
    }
    let own = try LoopbackPort.free()
    proxies.append(try LoopbackProxy(port: state.nodes[i].client, to: own))
    try replace("--listen") { _ in "127.0.0.1:\(own)" }
    try replace("--etcd", proxied)
    try replace("--peers", proxied)
    try restart(.node(i), arguments: arguments)
    return proxies
  }
}
