import Foundation
import Reports
import Testing
import Vocabulary

@Suite("Period aggregates")
struct PeriodSummaryTests {
    @Test func countsPercentilesAndTargets() {
        let report = Fixtures.sampleReport()
        let summary = report.summary
        #expect(summary.eventCount == 4)
        #expect(summary.byKind == ["automatic_failover": 2, "manual_failover": 1, "switchover": 1])
        #expect(summary.byOutcome == ["completed": 3, "failed": 1, "abandoned": 0, "in_progress": 0])
        // RTOs 0.7, 0.7, 1.2: nearest rank p50 is the 2nd, p95 the 3rd.
        #expect(summary.rto.samples == 3)
        #expect(abs((summary.rto.p50Seconds ?? 0) - 0.7) < 1e-6)
        #expect(abs((summary.rto.p95Seconds ?? 0) - 1.2) < 1e-6)
        #expect(abs((summary.rto.maxSeconds ?? 0) - 1.2) < 1e-6)
        #expect(summary.rpo.maxBytes == 1_048_576)
        #expect(summary.rpo.totalBytes == 1_048_576)
        #expect(summary.rpo.measuredEvents == 1)
        #expect(summary.rpo.lowerBoundEvents == 2)
        #expect(summary.rpoTargets.notApplicable == 1)
        #expect(summary.rtoTargets.met == 3)
        #expect(summary.rtoTargets.unknown == 1)
        #expect(summary.failovers == 3)
        #expect(report.note == nil)
    }

    @Test func availabilityIsThePeriodMinusTheUnionOfOutages() {
        let report = Fixtures.sampleReport()
        let availability = report.summary.availability
        // Outages 1.2 + 0.7 + 0.7 + 0.8 (the failed attempt, until it stopped) seconds.
        #expect(abs(availability.outageSeconds - 3.4) < 1e-6)
        #expect(abs(availability.periodSeconds - 86_400) < 1e-6)
        #expect(abs((availability.ratio ?? 0) - (86_400 - 3.4) / 86_400) < 1e-9)
        // The failed automatic failover's end is not when writes came back.
        #expect(availability.exact == false)
        let mtbf = report.summary.meanTimeBetweenFailoversSeconds ?? 0
        #expect(abs(mtbf - (86_400 - 3.4) / 3) < 1e-6)
    }

    @Test func overlappingAndOutOfPeriodOutagesCountOnce() {
        var first = Fixtures.automaticFailover(id: "x1")
        first.onsetAt = Fixtures.at(-50)
        first.rtoSeconds = 51.2
        let second = Fixtures.automaticFailover(id: "x2", offset: 0.5)
        let events = [first, second].map {
            EventReportBuilder.build(record: $0, targets: Fixtures.targets, now: Fixtures.at(100))
        }
        let report = Report(
            cluster: "lab", generatedAt: Fixtures.at(100), from: Fixtures.at(0), to: Fixtures.at(100),
            targets: Fixtures.targets, events: events)
        // [-50, 1.2] clipped to [0, 1.2], and [0.5, 1.7]: union [0, 1.7].
        #expect(abs(report.summary.availability.outageSeconds - 1.7) < 1e-6)
        #expect(report.summary.availability.exact)
        #expect(report.summary.rtoTargets.breached == 1)
    }

    @Test func emptyPeriodSaysSo() {
        let report = Fixtures.emptyReport()
        #expect(report.summary.eventCount == 0)
        #expect(report.summary.rto.p50Seconds == nil)
        #expect(report.summary.meanTimeBetweenFailoversSeconds == nil)
        #expect(report.summary.availability.ratio == 1)
        #expect(report.note?.hasPrefix("No failover or switchover happened between") == true)
    }
}
