import Foundation
import Reports
import StateStore
import Testing
import Vocabulary

@Suite("Reading history from the state store")
struct ReportSourceTests {
    /// Stores records the way the failover service does (its encoder: ISO 8601 dates with
    /// milliseconds) with their journal, and reads the period back at full precision.
    @Test func readsOperationsOfThePeriodWithPreciseTimes() async throws {
        let store = try StateStore()
        let encoder = OperationRecord.encoder()
        var records = Fixtures.sampleEvents()
        records[0] = Fixtures.automaticFailover(id: "a1b2c3d4-0001", offset: 0.37)
        for record in records {
            try await store.saveOperation(
                StateStore.Operation(
                    id: record.id, kind: record.kind.rawValue, status: record.status, startedAt: record.detectedAt,
                    finishedAt: record.finishedAt, payload: try encoder.encode(record)))
            for step in record.steps {
                try await store.appendJournal(
                    .init(operationID: record.id, step: step.name, phase: "started", at: step.startedAt, detail: "{}"))
                try await store.appendJournal(
                    .init(
                        operationID: record.id, step: step.name, phase: step.outcome == "ok" ? "finished" : "failed",
                        at: step.finishedAt!, detail: "{}"))
            }
        }
        try await store.saveOperation(
            StateStore.Operation(
                id: "garbage", kind: "switchover", status: "completed", startedAt: Fixtures.at(100), finishedAt: nil,
                payload: Data("not json".utf8)))

        let report = try await ReportSource.report(
            store: store, cluster: "lab", from: Fixtures.at(-1), to: Fixtures.at(10_000), targets: Fixtures.targets,
            now: Fixtures.at(10_000))
        // The failed attempt at 20 000 s is outside the period; the undecodable payload is skipped.
        #expect(report.events.map(\.id) == ["a1b2c3d4-0001", "a1b2c3d4-0002", "a1b2c3d4-0003"])
        let first = report.events[0]
        #expect(abs((first.rto.seconds ?? 0) - 1.2) < 1e-3)
        #expect(abs((first.phase("promotion")?.seconds ?? 0) - 0.3) < 1e-3)
        #expect(abs((first.phase("detection")?.seconds ?? 0) - 0.5) < 1e-3)
    }
}
