public import Foundation
import GRDB
public import Vocabulary

/// The control plane's durable memory: the failover journal, failover history, the event log
/// (alerts and audit) and a few control values (the write target, pause, fenced endpoints).
///
/// SQLite in WAL mode through GRDB; every write is its own transaction, committed before the call
/// returns, so whatever a caller was told is stored survives a crash of the daemon. The schema is
/// versioned by GRDB's migrator: a newer daemon migrates an older file on open.
///
/// The store knows nothing of failover types: records are stored with a few indexed columns and a
/// JSON payload that the owning module encodes and decodes.
public final class StateStore: Sendable {
    let database: any DatabaseWriter

    /// Opens (creating if needed) the store at `path`.
    public init(path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var configuration = Configuration()
        // Another daemon on the same file would be a second decision-maker: fail fast rather than wait.
        configuration.busyMode = .timeout(2)
        database = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
    }

    /// A store that lives in memory only: for tests of logic that needs one.
    public init() throws {
        database = try DatabaseQueue()
        try Self.migrator.migrate(database)
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.create(table: "journal") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("operation_id", .text).notNull().indexed()
                table.column("step", .text).notNull()
                table.column("phase", .text).notNull()
                table.column("at", .double).notNull()
                table.column("detail", .text).notNull()
            }
            try db.create(table: "operation") { table in
                table.primaryKey("id", .text)
                table.column("kind", .text).notNull()
                table.column("status", .text).notNull().indexed()
                table.column("started_at", .double).notNull().indexed()
                table.column("finished_at", .double)
                table.column("payload", .blob).notNull()
            }
            try db.create(table: "event") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("at", .double).notNull().indexed()
                table.column("type", .text).notNull()
                table.column("severity", .text).notNull()
                table.column("payload", .blob).notNull()
            }
            try db.create(table: "audit") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("at", .double).notNull().indexed()
                table.column("actor", .text).notNull()
                table.column("action", .text).notNull()
                table.column("payload", .blob).notNull()
            }
            try db.create(table: "control") { table in
                table.primaryKey("key", .text)
                table.column("value", .text).notNull()
            }
        }
        registerAlertingMigration(&migrator)
        registerSilencesMigration(&migrator)
        return migrator
    }

    // MARK: Journal

    /// One line of an operation's journal (the shared vocabulary's type, named here as before).
    public typealias JournalEntry = Vocabulary.JournalEntry

    public func appendJournal(_ entry: JournalEntry) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO journal (operation_id, step, phase, at, detail) VALUES (?, ?, ?, ?, ?)",
                arguments: [
                    entry.operationID, entry.step, entry.phase, entry.at.timeIntervalSince1970, entry.detail,
                ])
        }
    }

    /// The journal of one operation, oldest first.
    public func journal(operationID: String) async throws -> [JournalEntry] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM journal WHERE operation_id = ? ORDER BY id", arguments: [operationID]
            ).map { row in
                JournalEntry(
                    operationID: row["operation_id"], step: row["step"], phase: row["phase"],
                    at: Date(timeIntervalSince1970: row["at"]), detail: row["detail"])
            }
        }
    }

    // MARK: Operations (failovers, switchovers)

    /// A failover or switchover as the history keeps it; `payload` is the owner's full record.
    public struct Operation: Sendable, Equatable {
        public var id: String
        public var kind: String
        /// `in_progress`, `completed`, `failed` or `abandoned`.
        public var status: String
        public var startedAt: Date
        public var finishedAt: Date?
        public var payload: Data

        public init(id: String, kind: String, status: String, startedAt: Date, finishedAt: Date?, payload: Data) {
            self.id = id
            self.kind = kind
            self.status = status
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.payload = payload
        }

        init(row: Row) {
            self.init(
                id: row["id"], kind: row["kind"], status: row["status"],
                startedAt: Date(timeIntervalSince1970: row["started_at"]),
                finishedAt: (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
                payload: row["payload"])
        }
    }

    /// Inserts or replaces an operation by id.
    public func saveOperation(_ operation: Operation) async throws {
        try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO operation (id, kind, status, started_at, finished_at, payload)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, status = excluded.status,
                        started_at = excluded.started_at, finished_at = excluded.finished_at,
                        payload = excluded.payload
                    """,
                arguments: [
                    operation.id, operation.kind, operation.status, operation.startedAt.timeIntervalSince1970,
                    operation.finishedAt?.timeIntervalSince1970, operation.payload,
                ])
        }
    }

    /// The most recent operations first, at most `limit`.
    public func operations(limit: Int = 100) async throws -> [Operation] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM operation ORDER BY started_at DESC, rowid DESC LIMIT ?", arguments: [limit]
            ).map(Operation.init(row:))
        }
    }

    /// Operations between two instants, oldest first (for reports).
    public func operations(from start: Date, to end: Date) async throws -> [Operation] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM operation WHERE started_at >= ? AND started_at < ? ORDER BY started_at",
                arguments: [start.timeIntervalSince1970, end.timeIntervalSince1970]
            ).map(Operation.init(row:))
        }
    }

    /// Operations a crash interrupted: still `in_progress` in the store.
    public func operationsInProgress() async throws -> [Operation] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM operation WHERE status = 'in_progress' ORDER BY started_at")
                .map(Operation.init(row:))
        }
    }

    // MARK: Events and audit

    /// An entry of the event log (alerts) or the audit log; `payload` is the owner's JSON.
    public struct LogEntry: Sendable, Equatable {
        public var id: Int64?
        public var at: Date
        /// Event type (e.g. `failover_triggered`) or audit actor (a token name).
        public var kind: String
        /// Event severity or audited action.
        public var label: String
        public var payload: Data

        public init(id: Int64? = nil, at: Date, kind: String, label: String, payload: Data) {
            self.id = id
            self.at = at
            self.kind = kind
            self.label = label
            self.payload = payload
        }
    }

    /// The two log tables: the event log (type, severity) and the audit log (actor, action).
    private enum LogTable: String {
        case event
        case audit

        var columns: (kind: String, label: String) {
            switch self {
            case .event: ("type", "severity")
            case .audit: ("actor", "action")
            }
        }
    }

    private func append(_ entry: LogEntry, to table: LogTable) async throws -> Int64 {
        let (kind, label) = table.columns
        return try await database.write { db in
            try db.execute(
                sql: "INSERT INTO \(table.rawValue) (at, \(kind), \(label), payload) VALUES (?, ?, ?, ?)",
                arguments: [entry.at.timeIntervalSince1970, entry.kind, entry.label, entry.payload])
            return db.lastInsertedRowID
        }
    }

    private func recent(_ table: LogTable, limit: Int) async throws -> [LogEntry] {
        let (kind, label) = table.columns
        return try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM \(table.rawValue) ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map { row in
                    LogEntry(
                        id: row["id"], at: Date(timeIntervalSince1970: row["at"]), kind: row[kind], label: row[label],
                        payload: row["payload"])
                }
        }
    }

    @discardableResult
    public func appendEvent(_ entry: LogEntry) async throws -> Int64 { try await append(entry, to: .event) }

    /// The most recent events first.
    public func events(limit: Int = 100) async throws -> [LogEntry] { try await recent(.event, limit: limit) }

    @discardableResult
    public func appendAudit(_ entry: LogEntry) async throws -> Int64 { try await append(entry, to: .audit) }

    /// The most recent audit rows first.
    public func audit(limit: Int = 100) async throws -> [LogEntry] { try await recent(.audit, limit: limit) }

    // MARK: Control values

    /// Sets (or, with nil, removes) a control value such as the current write target.
    public func setControl(_ key: String, _ value: String?) async throws {
        try await database.write { db in
            if let value {
                try db.execute(
                    sql: "INSERT INTO control (key, value) VALUES (?, ?) "
                        + "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    arguments: [key, value])
            } else {
                try db.execute(sql: "DELETE FROM control WHERE key = ?", arguments: [key])
            }
        }
    }

    public func control(_ key: String) async throws -> String? {
        try await database.read { db in
            try String.fetchOne(db, sql: "SELECT value FROM control WHERE key = ?", arguments: [key])
        }
    }
}
