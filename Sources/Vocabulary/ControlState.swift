public import Foundation

/// One line of an operation's journal: a step started, finished or failed, with what it decided.
public struct JournalEntry: Sendable, Equatable {
    public var operationID: String
    public var step: String
    /// `started`, `finished`, `failed` or `note`.
    public var phase: String
    public var at: Date
    /// What was decided and why, as JSON text (no secrets).
    public var detail: String

    public init(operationID: String, step: String, phase: String, at: Date, detail: String) {
        self.operationID = operationID
        self.step = step
        self.phase = phase
        self.at = at
        self.detail = detail
    }
}

/// The control values the engine keeps across restarts, as one read.
public struct ControlValues: Sendable, Equatable {
    /// The endpoint writes go to, as last decided.
    public var writeTarget: String?
    /// Endpoints that must never take traffic (fenced old primaries).
    public var fenced: Set<String>
    /// Whether automatic failover is paused by an operator.
    public var paused: Bool
    /// A standby whose promotion was sent and never confirmed: it may be a primary at any moment.
    public var promotionInDoubt: String?
    /// When the last automatic failover completed (anti-flapping counts from it).
    public var lastAutomaticFailoverAt: Date?

    public init(
        writeTarget: String? = nil, fenced: Set<String> = [], paused: Bool = false, promotionInDoubt: String? = nil,
        lastAutomaticFailoverAt: Date? = nil
    ) {
        self.writeTarget = writeTarget
        self.fenced = fenced
        self.paused = paused
        self.promotionInDoubt = promotionInDoubt
        self.lastAutomaticFailoverAt = lastAutomaticFailoverAt
    }
}

/// Everything the failover engine keeps, behind one seam: the journal of each operation, the
/// history of operation records, the control values and the routing generation.
///
/// A single control plane keeps it in its SQLite file; control-plane members that share one
/// consensus store implement it there. The engine depends on this protocol only. Each write must
/// be durable when it returns: the engine treats a thrown error as "not written".
public protocol ControlStateStore: Sendable {
    func appendJournal(_ entry: JournalEntry) async throws
    /// The journal of one operation, oldest first.
    func journal(operationID: String) async throws -> [JournalEntry]

    /// Writes (inserts or replaces) an operation record.
    func saveRecord(_ record: OperationRecord) async throws
    /// Operation records, most recent first.
    func records(limit: Int) async throws -> [OperationRecord]
    /// Operations still marked in progress: a crash interrupted them.
    func recordsInProgress() async throws -> [OperationRecord]

    func controlValues() async throws -> ControlValues
    /// Sets (nil: clears) the write target.
    func setWriteTarget(_ endpoint: String?) async throws
    func setFenced(_ endpoints: Set<String>) async throws
    func setPaused(_ paused: Bool) async throws
    func setPromotionInDoubt(_ endpoint: String?) async throws
    func setLastAutomaticFailover(at: Date?) async throws
    /// Counts one more start of the engine and returns the new count: each start publishes routing
    /// tables of a new generation, newer than any a predecessor published.
    func nextRoutingGeneration() async throws -> UInt64
}
