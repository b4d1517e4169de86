import Foundation
import Reports
import StateStore
import Testing
import Vocabulary

@Suite("Event report: phases, RTO and RPO")
struct EventReportTests {
    private func build(_ record: OperationRecord, journal: [StateStore.JournalEntry] = []) -> EventReport {
        EventReportBuilder.build(
            record: record, journal: journal, targets: Fixtures.targets, now: Fixtures.at(3600))
    }

    @Test func phasesAndRTOFromKnownTimestamps() throws {
        let report = build(Fixtures.automaticFailover())
        let expected: [(String, Double)] = [
            ("detection", 0.5), ("decision", 0.1), ("promotion", 0.3), ("routing", 0.1), ("verification", 0.2),
        ]
        #expect(report.phases.map(\.name) == expected.map(\.0))
        for (name, seconds) in expected {
            let phase = try #require(report.phase(name))
            #expect(abs((phase.seconds ?? -1) - seconds) < 1e-6, "\(name)")
        }
        #expect(report.timeline.onsetAt == Fixtures.at(0))
        #expect(report.timeline.verifiedAt == Fixtures.at(1.2))
        #expect(abs((report.rto.seconds ?? 0) - 1.2) < 1e-6)
        #expect(report.rto.method == .fromOnset)
        #expect(report.rto.status == .met)
        // The phases add up to the RTO.
        #expect(abs(report.phases.compactMap(\.seconds).reduce(0, +) - 1.2) < 1e-6)
        #expect(report.outage?.start == Fixtures.at(0))
        #expect(report.outage?.end == Fixtures.at(1.2))
        #expect(report.outage?.endKnown == true)
        #expect(report.candidates.map(\.promoted) == [true])
        #expect(report.rejected.first?.reason.contains("max_lag_on_failover") == true)
        #expect(report.alerts.map(\.kind) == ["failover_triggered", "failover_completed"])
        #expect(report.alerts.allSatisfy { $0.delivery == "not_recorded" })
    }

    @Test func unknownOnsetGivesRTOFromDetectionAsALowerBound() {
        var record = Fixtures.automaticFailover()
        record.onsetAt = nil
        record.rtoSeconds = nil
        let report = build(record)
        #expect(report.rto.method == .fromDetection)
        #expect(abs((report.rto.seconds ?? 0) - 0.7) < 1e-6)
        #expect(report.rto.status == .unknown)
        #expect(report.phase("detection")?.seconds == nil)
    }

    @Test func rtoAboveTargetIsBreached() {
        var record = Fixtures.automaticFailover()
        record.onsetAt = Fixtures.at(-40)
        record.rtoSeconds = 41.2
        let report = build(record)
        #expect(report.rto.status == .breached)
        #expect(abs((report.rto.seconds ?? 0) - 41.2) < 1e-6)
    }

    @Test func failedAttemptHasNoRTOAndNoRPO() {
        var record = Fixtures.automaticFailover()
        record.status = "failed"
        record.newPrimary = nil
        record.newRegion = nil
        record.promotedPosition = nil
        record.rpoBytes = nil
        record.rtoSeconds = nil
        record.error = "no standby can be promoted (pg-c: lag 64MB exceeds max_lag_on_failover 16MB)"
        record.steps = Array(record.steps.prefix(3))
        let report = build(record)
        #expect(report.rto.method == .notRecovered)
        #expect(report.rto.seconds == nil)
        #expect(report.rpo.method == .notApplicable)
        #expect(report.rpo.bytes == nil)
        #expect(report.phase("promotion")?.seconds == nil)
        #expect(report.outage?.endKnown == false)
        #expect(report.alerts.map(\.kind) == ["failover_triggered", "failover_failed"])
    }

    // MARK: RPO method

    @Test func measuredPositionGivesExactBytes() {
        let report = build(
            Fixtures.automaticFailover(oldPosition: "0/3000100", source: "measured", rpoBytes: 0))
        #expect(report.rpo.method == .measured)
        #expect(report.rpo.bytes == 0)
        #expect(report.rpo.estimatedSeconds == 0)
        #expect(report.rpo.estimateKind == .exact)
        #expect(report.rpo.status == .met)
    }

    @Test func measuredLossWithoutRateHasNoSecondsEstimate() {
        let report = build(
            Fixtures.automaticFailover(
                oldPosition: "0/3000900", source: "measured", promoted: "0/3000100", rpoBytes: nil, mode: "asynchronous"
            ))
        #expect(report.rpo.method == .measured)
        #expect(report.rpo.bytes == 0x800)
        #expect(report.rpo.estimateKind == RPOReport.EstimateKind.none)
        #expect(report.rpo.status == .unknown)
        #expect(report.rpo.targetSeconds == 30)
    }

    @Test func stalePositionFromLastProbeIsALowerBound() {
        let caughtUp = build(Fixtures.automaticFailover(source: "last_probe", rpoBytes: 0))
        #expect(caughtUp.rpo.method == .lowerBound)
        #expect(caughtUp.rpo.bytes == 0)
        // Only commits between the last good probe (0 s) and detection (0.5 s) can be missing.
        #expect(caughtUp.rpo.estimateKind == .upperBound)
        #expect(abs((caughtUp.rpo.estimatedSeconds ?? 0) - 0.5) < 1e-6)
        #expect(caughtUp.rpo.status == .met)

        let behind = build(
            Fixtures.automaticFailover(
                oldPosition: "0/3001100", source: "last_probe", promoted: "0/3000100", rpoBytes: 4096))
        #expect(behind.rpo.method == .lowerBound)
        #expect(behind.rpo.bytes == 4096)
        #expect(behind.rpo.meaning.contains("at least 4096 bytes"))
        #expect(behind.rpo.estimatedSeconds == nil)
        #expect(behind.rpo.status == .unknown)
    }

    @Test func missingPositionIsUnknownNeverZero() {
        let report = build(
            Fixtures.automaticFailover(oldPosition: nil, source: "unknown", rpoBytes: nil))
        #expect(report.rpo.method == .unknown)
        #expect(report.rpo.bytes == nil)
        #expect(report.rpo.status == .unknown)
        #expect(report.rpo.meaning.contains("unknown, not zero"))
        #expect(SummaryText.rpo(report).contains("unknown"))
    }

    @Test func secretsAreRedacted() {
        var record = Fixtures.automaticFailover()
        record.trigger = "hook failed: host=db password=hunter2 token: abc123"
        record.error =
            "webhook https://hooks.example.com/services/T000/B000/XXXX returned 500; postgres://admin:pw@db/x"
        record.steps[0].detail = "Authorization: Bearer eyJhbGciOi.secret"
        let report = build(record)
        let text = "\(report.trigger) \(report.error ?? "") \(report.steps[0].detail)"
        for secret in ["hunter2", "abc123", "T000", "XXXX", "admin", ":pw@", "eyJhbGciOi"] {
            #expect(!text.contains(secret), "\(secret) leaked: \(text)")
        }
        #expect(text.contains("hooks.example.com"))
    }
}

/// The one-line texts the exports print, reached through the Markdown export.
enum SummaryText {
    static func rpo(_ event: EventReport) -> String {
        let report = Report(
            cluster: "lab", generatedAt: Fixtures.at(7200), from: Fixtures.at(-10), to: Fixtures.at(7200),
            targets: Fixtures.targets, events: [event])
        return MarkdownExport.render(report)
    }
}
