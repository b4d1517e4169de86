import Foundation
import StateStore
import Testing
import Vocabulary

/// What every implementation of ``ControlStateStore`` must do, written against the protocol so
/// that another implementation runs the same checks; here on the SQLite store, in a fresh file.
@Suite struct ControlStateStoreContractTests {
    static func freshStore() throws -> StateStore {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "control-state-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return try StateStore(path: directory.appendingPathComponent("state.sqlite").path)
    }

    static func record(_ id: String, status: String, at seconds: Double) -> OperationRecord {
        OperationRecord(
            id: id, kind: .automaticFailover, status: status, trigger: "test", oldPrimary: "pg-a",
            detectedAt: Date(timeIntervalSince1970: seconds), steps: [], oldPrimaryPositionSource: "unknown",
            replicationMode: "synchronous")
    }

    @Test func controlValuesStartEmptyAndKeepWhatWasSet() async throws {
        let store: any ControlStateStore = try Self.freshStore()
        #expect(try await store.controlValues() == ControlValues())

        let finished = Date(timeIntervalSince1970: 1_750_000_000.25)
        try await store.setWriteTarget("pg-b")
        try await store.setFenced(["pg-a", "pg-c"])
        try await store.setPaused(true)
        try await store.setPromotionInDoubt("pg-d")
        try await store.setLastAutomaticFailover(at: finished)
        let values = try await store.controlValues()
        #expect(values.writeTarget == "pg-b")
        #expect(values.fenced == ["pg-a", "pg-c"])
        #expect(values.paused)
        #expect(values.promotionInDoubt == "pg-d")
        #expect(abs((values.lastAutomaticFailoverAt ?? .distantPast).timeIntervalSince(finished)) < 0.001)

        try await store.setWriteTarget(nil)
        try await store.setFenced([])
        try await store.setPaused(false)
        try await store.setPromotionInDoubt(nil)
        try await store.setLastAutomaticFailover(at: nil)
        #expect(try await store.controlValues() == ControlValues())
    }

    @Test func everyStartGetsANewerRoutingGeneration() async throws {
        let store: any ControlStateStore = try Self.freshStore()
        let first = try await store.nextRoutingGeneration()
        let second = try await store.nextRoutingGeneration()
        #expect(first >= 1)
        #expect(second == first + 1)
    }

    @Test func recordsAreReplacedByIDAndListedMostRecentFirst() async throws {
        let store: any ControlStateStore = try Self.freshStore()
        try await store.saveRecord(Self.record("op-1", status: "in_progress", at: 100))
        try await store.saveRecord(Self.record("op-2", status: "in_progress", at: 200))
        #expect(try await store.recordsInProgress().map(\.id).sorted() == ["op-1", "op-2"])

        var finished = Self.record("op-1", status: "completed", at: 100)
        finished.newPrimary = "pg-b"
        try await store.saveRecord(finished)
        #expect(try await store.recordsInProgress().map(\.id) == ["op-2"])
        let all = try await store.records(limit: 10)
        #expect(all.map(\.id) == ["op-2", "op-1"])
        #expect(all.last == finished)
        #expect(try await store.records(limit: 1).map(\.id) == ["op-2"])
    }

    @Test func theJournalKeepsEachOperationsEntriesInOrder() async throws {
        let store: any ControlStateStore = try Self.freshStore()
        let at = Date(timeIntervalSince1970: 1_750_000_000)
        for (index, step) in ["detection", "alert", "selection"].enumerated() {
            try await store.appendJournal(
                JournalEntry(operationID: "op-1", step: step, phase: "started", at: at + Double(index), detail: "{}"))
            try await store.appendJournal(
                JournalEntry(operationID: "op-2", step: step, phase: "note", at: at, detail: "{}"))
        }
        let journal = try await store.journal(operationID: "op-1")
        #expect(journal.map(\.step) == ["detection", "alert", "selection"])
        #expect(journal.allSatisfy { $0.operationID == "op-1" && $0.phase == "started" })
        #expect(try await store.journal(operationID: "op-3").isEmpty)
    }
}
