import GRPCCore

extension GRPCServer {
  /// Serves until `beginGracefulShutdown()` or until the calling task is cancelled, which
  /// begins the same graceful shutdown instead of cancelling the transport: NIO traps when a
  /// cancelled server drops a stream it accepted but had not yet handed over
  /// ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#3481).
  public func serveGracefully() async throws {
    let serving = Task { try await self.serve() }
    try await withTaskCancellationHandler {
      try await serving.value
    } onCancel: {
      self.beginGracefulShutdown()
    }
  }
}
