import Foundation
import GRPCCore

/// A change etcd reports on a watched prefix.
public struct EtcdEvent: Sendable, Equatable {
  public enum Kind: Sendable { case put, delete }
  public var kind: Kind
  public var entry: EtcdEntry
}

extension EtcdClient {
  /// Calls `handle` with every change under `prefix` from `revision` on, in revision order
  /// (the history first, then live changes), until `handle` throws, the task is cancelled or
  /// the stream ends. A start before the compacted revision throws `EtcdError.compacted`.
  public func watch(
    prefix: [UInt8], from revision: Int64,
    _ handle: @escaping @Sendable ([EtcdEvent]) async throws -> Void
  ) async throws {
    var create = Etcdserverpb_WatchCreateRequest()
    create.key = Data(prefix)
    create.rangeEnd = Data(EtcdKey.end(of: prefix))
    create.startRevision = revision
    var request = Etcdserverpb_WatchRequest()
    request.createRequest = create
    var options = CallOptions.defaults
    options.waitForReady = true
    options.maxRequestMessageBytes = 64 << 20
    options.maxResponseMessageBytes = 64 << 20
    let first = request
    let what = "a watch of \(EtcdKey.describe(prefix)) from revision \(revision)"
    do {
      try await watcher.watch(
        options: options,
        requestProducer: { writer in try await writer.write(first) },
        onResponse: { response in
          for try await message in response.messages {
            if message.compactRevision != 0 {
              throw EtcdError.compacted(revision: message.compactRevision)
            }
            if message.canceled { throw EtcdError.watchCancelled(reason: message.cancelReason) }
            guard !message.events.isEmpty else { continue }
            try await handle(
              message.events.map {
                EtcdEvent(kind: $0.type == .delete ? .delete : .put, entry: EtcdEntry($0.kv))
              })
          }
        })
    } catch let error as RPCError {
      throw EtcdError.unavailable(
        endpoints: endpoints.map(\.description).joined(separator: ","), doing: what,
        reason: "\(error.code): \(error.message)")
    }
  }
}
