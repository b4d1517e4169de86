public import Foundation
import GRDB
public import Vocabulary

/// The SQLite file as the engine's state: records as JSON payloads in `operations`, control
/// values as rows of `control` under the keys below (unchanged since the first release, so an
/// existing state file keeps working).
extension StateStore: ControlStateStore {
    private enum Key {
        static let writeTarget = "write_target"
        static let fenced = "fenced"
        static let paused = "paused"
        static let promotionInDoubt = "promotion_in_doubt"
        static let lastAutomaticFailoverAt = "last_automatic_failover_at"
        static let routingGeneration = "routing_generation"
    }

    public func saveRecord(_ record: OperationRecord) async throws {
        try await saveOperation(
            Operation(
                id: record.id, kind: record.kind.rawValue, status: record.status, startedAt: record.detectedAt,
                finishedAt: record.finishedAt, payload: try OperationRecord.encoder().encode(record)))
    }

    public func records(limit: Int) async throws -> [OperationRecord] {
        try await operations(limit: limit).compactMap(Self.record)
    }

    public func recordsInProgress() async throws -> [OperationRecord] {
        try await operationsInProgress().compactMap(Self.record)
    }

    /// A stored payload this version cannot read is skipped, never fatal.
    private static func record(_ operation: Operation) -> OperationRecord? {
        try? OperationRecord.decoder().decode(OperationRecord.self, from: operation.payload)
    }

    public func controlValues() async throws -> ControlValues {
        ControlValues(
            writeTarget: try await control(Key.writeTarget),
            fenced: Set((try await control(Key.fenced) ?? "").split(separator: ",").map(String.init)),
            paused: try await control(Key.paused) == "true",
            promotionInDoubt: try await control(Key.promotionInDoubt),
            lastAutomaticFailoverAt: try await control(Key.lastAutomaticFailoverAt).flatMap(Double.init).map {
                Date(timeIntervalSince1970: $0)
            })
    }

    public func setWriteTarget(_ endpoint: String?) async throws {
        try await setControl(Key.writeTarget, endpoint)
    }

    public func setFenced(_ endpoints: Set<String>) async throws {
        try await setControl(Key.fenced, endpoints.sorted().joined(separator: ","))
    }

    public func setPaused(_ paused: Bool) async throws {
        try await setControl(Key.paused, paused ? "true" : nil)
    }

    public func setPromotionInDoubt(_ endpoint: String?) async throws {
        try await setControl(Key.promotionInDoubt, endpoint)
    }

    public func setLastAutomaticFailover(at date: Date?) async throws {
        try await setControl(Key.lastAutomaticFailoverAt, date.map { String($0.timeIntervalSince1970) })
    }

    public func nextRoutingGeneration() async throws -> UInt64 {
        // Read and write in one transaction: two starts never get the same generation.
        try await database.write { db in
            let stored = try String.fetchOne(
                db, sql: "SELECT value FROM control WHERE key = ?", arguments: [Key.routingGeneration])
            let generation = (stored.flatMap { UInt64($0) } ?? 0) + 1
            try db.execute(
                sql: "INSERT INTO control (key, value) VALUES (?, ?) "
                    + "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                arguments: [Key.routingGeneration, String(generation)])
            return generation
        }
    }
}
