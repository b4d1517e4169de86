public import Foundation
import GRDB

/// The alert outbox: every notification is stored here before its first delivery attempt, and each
/// attempt is logged, so delivery survives a restart and its history can be read back.
///
/// Rows hold the channel's name, never its URL or keys: history is safe to show.
extension StateStore {
    static func registerAlertingMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v2-alerting") { db in
            try db.create(table: "alert_outbox") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("channel", .text).notNull()
                table.column("idempotency_key", .text).notNull().unique()
                table.column("created_at", .double).notNull()
                // pending, delivered, failed (permanent answer) or abandoned (gave up retrying).
                table.column("status", .text).notNull()
                table.column("attempts", .integer).notNull().defaults(to: 0)
                table.column("summary", .text).notNull()
                table.column("payload", .blob).notNull()
                table.column("last_http_status", .integer)
                table.column("last_error", .text)
                table.column("finished_at", .double)
            }
            try db.create(index: "alert_outbox_pending", on: "alert_outbox", columns: ["status", "channel", "id"])
            try db.create(table: "alert_attempt") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("outbox_id", .integer).notNull().indexed()
                    .references("alert_outbox", onDelete: .cascade)
                table.column("at", .double).notNull()
                table.column("http_status", .integer)
                table.column("latency_ms", .double).notNull()
                // delivered, retry, failed or abandoned.
                table.column("outcome", .text).notNull()
                table.column("error", .text)
            }
        }
    }

    /// A notification waiting to be stored in the outbox.
    public struct NewAlertDelivery: Sendable, Equatable {
        public var channel: String
        /// Unique; receivers that support it use it to drop a repeated delivery.
        public var idempotencyKey: String
        public var createdAt: Date
        /// One line for history listings (no secrets).
        public var summary: String
        /// The owner's encoded notification (no secrets).
        public var payload: Data

        public init(channel: String, idempotencyKey: String, createdAt: Date, summary: String, payload: Data) {
            self.channel = channel
            self.idempotencyKey = idempotencyKey
            self.createdAt = createdAt
            self.summary = summary
            self.payload = payload
        }
    }

    /// One row of the outbox.
    public struct AlertDelivery: Sendable, Equatable {
        public var id: Int64
        public var channel: String
        public var idempotencyKey: String
        public var createdAt: Date
        /// `pending`, `delivered`, `failed` or `abandoned`.
        public var status: String
        public var attempts: Int
        public var summary: String
        public var payload: Data
        public var lastHTTPStatus: Int?
        public var lastError: String?
        public var finishedAt: Date?

        init(row: Row) {
            id = row["id"]
            channel = row["channel"]
            idempotencyKey = row["idempotency_key"]
            createdAt = Date(timeIntervalSince1970: row["created_at"])
            status = row["status"]
            attempts = row["attempts"]
            summary = row["summary"]
            payload = row["payload"]
            lastHTTPStatus = row["last_http_status"]
            lastError = row["last_error"]
            finishedAt = (row["finished_at"] as Double?).map(Date.init(timeIntervalSince1970:))
        }
    }

    /// One delivery attempt.
    public struct AlertAttempt: Sendable, Equatable {
        public var deliveryID: Int64
        public var at: Date
        /// The receiver's HTTP status; nil when no answer came (refused, timed out).
        public var httpStatus: Int?
        /// Milliseconds from the start of the request to its end.
        public var latencyMilliseconds: Double
        /// `delivered`, `retry`, `failed` or `abandoned`; the last three but `retry` end the delivery.
        public var outcome: String
        /// What went wrong, with the receiver's host only, never its URL.
        public var error: String?

        public init(
            deliveryID: Int64, at: Date, httpStatus: Int?, latencyMilliseconds: Double, outcome: String,
            error: String?
        ) {
            self.deliveryID = deliveryID
            self.at = at
            self.httpStatus = httpStatus
            self.latencyMilliseconds = latencyMilliseconds
            self.outcome = outcome
            self.error = error
        }
    }

    /// Stores notifications as `pending` in one transaction and returns them with their ids, in order.
    public func enqueueAlertDeliveries(_ deliveries: [NewAlertDelivery]) async throws -> [AlertDelivery] {
        guard !deliveries.isEmpty else { return [] }
        return try await database.write { db in
            try deliveries.map { delivery in
                try db.execute(
                    sql: """
                        INSERT INTO alert_outbox (channel, idempotency_key, created_at, status, summary, payload)
                        VALUES (?, ?, ?, 'pending', ?, ?)
                        """,
                    arguments: [
                        delivery.channel, delivery.idempotencyKey, delivery.createdAt.timeIntervalSince1970,
                        delivery.summary, delivery.payload,
                    ])
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM alert_outbox WHERE id = ?", arguments: [db.lastInsertedRowID])
                guard let row else { throw DatabaseError(message: "inserted outbox row not found") }
                return AlertDelivery(row: row)
            }
        }
    }

    /// Deliveries still `pending`, oldest first; all channels when `channel` is nil.
    public func pendingAlertDeliveries(channel: String? = nil) async throws -> [AlertDelivery] {
        try await database.read { db in
            if let channel {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM alert_outbox WHERE status = 'pending' AND channel = ? ORDER BY id",
                    arguments: [channel]
                ).map(AlertDelivery.init(row:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM alert_outbox WHERE status = 'pending' ORDER BY id")
                .map(AlertDelivery.init(row:))
        }
    }

    /// Logs attempts and updates their deliveries (attempt count, status, last answer) in one transaction.
    public func recordAlertAttempts(_ attempts: [AlertAttempt]) async throws {
        guard !attempts.isEmpty else { return }
        try await database.write { db in
            for attempt in attempts {
                try db.execute(
                    sql: """
                        INSERT INTO alert_attempt (outbox_id, at, http_status, latency_ms, outcome, error)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        attempt.deliveryID, attempt.at.timeIntervalSince1970, attempt.httpStatus,
                        attempt.latencyMilliseconds, attempt.outcome, attempt.error,
                    ])
                let status = attempt.outcome == "retry" ? "pending" : attempt.outcome
                let finished = attempt.outcome == "retry" ? nil : attempt.at.timeIntervalSince1970
                try db.execute(
                    sql: """
                        UPDATE alert_outbox SET attempts = attempts + 1, status = ?, last_http_status = ?,
                            last_error = ?, finished_at = ?
                        WHERE id = ?
                        """,
                    arguments: [status, attempt.httpStatus, attempt.error, finished, attempt.deliveryID])
            }
        }
    }

    /// The most recent deliveries first, at most `limit`.
    public func alertDeliveries(limit: Int = 100) async throws -> [AlertDelivery] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM alert_outbox ORDER BY id DESC LIMIT ?", arguments: [limit])
                .map(AlertDelivery.init(row:))
        }
    }

    /// Every attempt of one delivery, oldest first.
    public func alertAttempts(deliveryID: Int64) async throws -> [AlertAttempt] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM alert_attempt WHERE outbox_id = ? ORDER BY id", arguments: [deliveryID]
            ).map { row in
                AlertAttempt(
                    deliveryID: row["outbox_id"], at: Date(timeIntervalSince1970: row["at"]),
                    httpStatus: row["http_status"], latencyMilliseconds: row["latency_ms"], outcome: row["outcome"],
                    error: row["error"])
            }
        }
    }
}
