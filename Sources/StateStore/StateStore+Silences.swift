public import Foundation
import GRDB

/// Silences added at runtime through the admin API: label matchers, an end, a comment and the
/// name of the token that added them. They live here, not in the alert file, so they survive a
/// restart; the alerting pipeline applies them together with the file's silences.
///
/// The store knows nothing of alert labels: matchers are stored as a JSON object of label name to
/// accepted values, which the alerting module checks and reads.
extension StateStore {
    static func registerSilencesMigration(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v3-silences") { db in
            try db.create(table: "silence") { table in
                table.autoIncrementedPrimaryKey("id")
                // {"region": ["ap-south"], "severity": ["low", "medium"]}
                table.column("matchers", .text).notNull()
                table.column("starts_at", .double).notNull()
                table.column("ends_at", .double).notNull().indexed()
                table.column("comment", .text).notNull()
                table.column("created_by", .text).notNull()
                table.column("created_at", .double).notNull()
            }
        }
    }

    /// A silence as stored.
    public struct StoredSilence: Sendable, Equatable, Codable {
        public var id: Int64
        /// Label name to the values accepted; an alert is silenced when every label has one of its values.
        public var matchers: [String: [String]]
        public var startsAt: Date
        public var endsAt: Date
        public var comment: String
        /// The name of the API token that added it (never the token itself).
        public var createdBy: String
        public var createdAt: Date

        public init(
            id: Int64, matchers: [String: [String]], startsAt: Date, endsAt: Date, comment: String,
            createdBy: String, createdAt: Date
        ) {
            self.id = id
            self.matchers = matchers
            self.startsAt = startsAt
            self.endsAt = endsAt
            self.comment = comment
            self.createdBy = createdBy
            self.createdAt = createdAt
        }

        init(row: Row) {
            let text: String = row["matchers"]
            let decoded = try? JSONDecoder().decode([String: [String]].self, from: Data(text.utf8))
            self.init(
                id: row["id"], matchers: decoded ?? [:], startsAt: Date(timeIntervalSince1970: row["starts_at"]),
                endsAt: Date(timeIntervalSince1970: row["ends_at"]), comment: row["comment"],
                createdBy: row["created_by"], createdAt: Date(timeIntervalSince1970: row["created_at"]))
        }

        public func isActive(at now: Date) -> Bool {
            startsAt <= now && now < endsAt
        }
    }

    /// Stores a silence and returns it with its id.
    public func addSilence(
        matchers: [String: [String]], startsAt: Date, endsAt: Date, comment: String, createdBy: String,
        createdAt: Date
    ) async throws -> StoredSilence {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(matchers), as: UTF8.self)
        return try await database.write { db in
            try db.execute(
                sql: """
                    INSERT INTO silence (matchers, starts_at, ends_at, comment, created_by, created_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    text, startsAt.timeIntervalSince1970, endsAt.timeIntervalSince1970, comment, createdBy,
                    createdAt.timeIntervalSince1970,
                ])
            return StoredSilence(
                id: db.lastInsertedRowID, matchers: matchers, startsAt: startsAt, endsAt: endsAt, comment: comment,
                createdBy: createdBy, createdAt: createdAt)
        }
    }

    /// Silences that have not ended at `now` (including those that start later), oldest first.
    public func silences(notEndedAt now: Date) async throws -> [StoredSilence] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM silence WHERE ends_at > ? ORDER BY id", arguments: [now.timeIntervalSince1970]
            ).map(StoredSilence.init(row:))
        }
    }

    /// Removes a silence; false when there is none with that id.
    @discardableResult
    public func removeSilence(id: Int64) async throws -> Bool {
        try await database.write { db in
            try db.execute(sql: "DELETE FROM silence WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }
}
