import Records

/// Turns an ordered log into block contents, as a function of the log alone: every node that
/// reads the same log cuts the same blocks, whoever wrote the markers and whenever it read them.
///
/// Transactions gather until a cut marker; the marker then yields them as blocks of at most
/// `maxBlockTransactions`, in log order, all dated and attributed by the marker. A marker with
/// nothing gathered yields nothing (two nodes' timers may race to cut the same transactions).
/// The same bytes logged twice count once, where they first appear (a retried write). The
/// first block holds the genesis transaction alone, whatever else the log held before it.
public struct BlockCutter: Sendable {
  /// What one block holds before a node evaluates it.
  public struct Content: Sendable, Equatable {
    public var transactions: [[UInt8]]
    public var timestamp: UInt64
    public var proposer: String
  }

  public let maxBlockTransactions: Int
  /// The genesis transaction, until the first block is cut.
  private var genesis: [UInt8]?
  private var pending: [[UInt8]] = []
  /// Hashes of every transaction taken, to count each once.
  private var seen: Set<Hash256> = []
  /// Markers read.
  public private(set) var markers = 0

  public init(genesis: [UInt8], maxBlockTransactions: Int = 1000) {
    precondition(maxBlockTransactions > 0)
    self.genesis = genesis
    self.maxBlockTransactions = maxBlockTransactions
  }

  /// Transactions logged since the last marker (the genesis transaction alone until it is
  /// cut).
  public var pendingCount: Int {
    guard let genesis else { return pending.count }
    return pending.contains(genesis) ? 1 : 0
  }

  /// Transactions logged since the last marker, in log order (none before the genesis cut).
  public var pendingTransactions: [[UInt8]] { genesis == nil ? pending : [] }

  /// Takes the next transaction of the log.
  public mutating func add(transaction bytes: [UInt8]) {
    guard seen.insert(Hash256.of(bytes)).inserted else { return }
    pending.append(bytes)
  }

  /// Takes the next marker of the log and returns the blocks it cuts.
  public mutating func add(marker: CutMarker) -> [Content] {
    markers += 1
    if let genesis {
      guard let i = pending.firstIndex(of: genesis) else { return [] }
      pending.remove(at: i)
      self.genesis = nil
      return [
        Content(transactions: [genesis], timestamp: marker.timestamp, proposer: marker.proposer)
      ]
    }
    var blocks: [Content] = []
    var start = 0
    while start < pending.count {
      let end = min(start + maxBlockTransactions, pending.count)
      blocks.append(
        Content(
          transactions: Array(pending[start..<end]), timestamp: marker.timestamp,
          proposer: marker.proposer))
      start = end
    }
    pending.removeAll()
    return blocks
  }
}
