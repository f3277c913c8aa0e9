/// Turns an ordered log into block contents, as a function of the log alone: every node that
/// reads the same log cuts the same blocks, whoever wrote the markers and whenever it read them.
///
/// Transactions gather until a cut marker; the marker then yields them as blocks of at most
/// `maxBlockTransactions`, in log order, all dated and attributed by the marker. A marker with
/// nothing gathered yields nothing (two nodes' timers may race to cut the same transactions).
public struct BlockCutter: Sendable {
  /// What one block holds before a node evaluates it.
  public struct Content: Sendable, Equatable {
    public var transactions: [[UInt8]]
    public var timestamp: UInt64
    public var proposer: String
    /// The marker that cut it.
    public var marker: UInt64
  }

  public let maxBlockTransactions: Int
  private var pending: [[UInt8]] = []
  /// The sequence the next marker must carry.
  public private(set) var nextMarker: UInt64 = 0

  public init(maxBlockTransactions: Int = 1000) {
    precondition(maxBlockTransactions > 0)
    self.maxBlockTransactions = maxBlockTransactions
  }

  /// Transactions logged since the last marker.
  public var pendingCount: Int { pending.count }

  /// Takes the next transaction of the log.
  public mutating func add(transaction bytes: [UInt8]) { pending.append(bytes) }

  /// Takes the next marker of the log and returns the blocks it cuts. A marker out of sequence
  /// is not the log's (its writer did not hold the previous one) and cuts nothing.
  public mutating func add(marker: CutMarker) -> [Content] {
    guard marker.sequence == nextMarker else { return [] }
    nextMarker += 1
    var blocks: [Content] = []
    var start = 0
    while start < pending.count {
      let end = min(start + maxBlockTransactions, pending.count)
      blocks.append(
        Content(
          transactions: Array(pending[start..<end]), timestamp: marker.timestamp,
          proposer: marker.proposer, marker: marker.sequence))
      start = end
    }
    pending.removeAll()
    return blocks
  }
}
