import Foundation
import Reports
import StateStore
import Vocabulary

/// Records with known timestamps: an instant is `t0` plus the seconds given.
enum Fixtures {
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000)
    static let targets = ReportTargets(rtoSeconds: 30, rpoSecondsSynchronous: 1, rpoSecondsAsynchronous: 30)

    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func step(_ name: String, _ start: Double, _ end: Double, outcome: String = "ok", detail: String = "")
        -> StepRecord
    {
        StepRecord(name: name, startedAt: at(start), finishedAt: at(end), outcome: outcome, detail: detail)
    }

    /// An automatic failover of `pg-a` (us-east) to `pg-b` (eu-west): onset at 0 s, detection at
    /// 0.5 s, selection done at 0.6 s, promotion done at 0.9 s, routing at 1.0 s, verified at 1.2 s.
    static func automaticFailover(
        id: String = "op-1",
        offset: Double = 0,
        oldPosition: String? = "0/3000100",
        source: String = "last_probe",
        promoted: String? = "0/3000100",
        rpoBytes: Int64? = 0,
        mode: String = "synchronous"
    ) -> OperationRecord {
        let plan = FailoverPlan(
            oldPrimary: "pg-a", candidate: "pg-b", catchUpFrom: nil, fallback: nil,
            ranked: [
                Candidate(
                    endpoint: "pg-b", region: "eu-west", preference: 1, position: promoted, lagBytes: 0,
                    latencyMilliseconds: 1.5)
            ],
            rejected: [Rejection(endpoint: "pg-c", reason: "lag 64MB exceeds max_lag_on_failover 16MB")],
            oldPrimaryPosition: oldPosition, promotedPosition: promoted, predictedLossBytes: rpoBytes,
            followers: [], synchronousStandbyNames: nil, reasons: ["pg-b: leader of eu-west, most advanced"])
        let o = offset
        return OperationRecord(
            id: id, kind: .automaticFailover, status: "completed",
            trigger: "primary pg-a failed 3 probes; standbys confirm", requestedBy: nil, oldPrimary: "pg-a",
            oldRegion: "us-east", newPrimary: "pg-b", newRegion: "eu-west", plan: plan, onsetAt: at(o),
            detectedAt: at(o + 0.5), finishedAt: at(o + 1.25),
            steps: [
                step("detection", o + 0.5, o + 0.51), step("alert", o + 0.51, o + 0.52),
                step("selection", o + 0.52, o + 0.6), step("fencing", o + 0.6, o + 0.7),
                step("repoint_before_promotion", o + 0.7, o + 0.75), step("promotion", o + 0.75, o + 0.9),
                step("routing", o + 0.9, o + 1.0), step("verification", o + 1.0, o + 1.2),
                step("notification", o + 1.2, o + 1.21),
            ],
            oldPrimaryPosition: oldPosition, oldPrimaryPositionSource: source, promotedPosition: promoted,
            rpoBytes: rpoBytes, rtoSeconds: 1.2, replicationMode: mode, error: nil)
    }
}

extension Fixtures {
    /// Four events over a day: a failover, a switchover, a forced manual failover that lost data
    /// (its reasons hold commas, quotes and line breaks) and a failed attempt.
    static func sampleEvents() -> [OperationRecord] {
        let failover = automaticFailover(id: "a1b2c3d4-0001")

        var switchover = automaticFailover(
            id: "a1b2c3d4-0002", offset: 3600, oldPosition: "0/3000200", source: "measured", promoted: "0/3000200",
            rpoBytes: 0)
        switchover.kind = .switchover
        switchover.trigger = "switchover requested by alice"
        switchover.requestedBy = "alice"
        switchover.oldPrimary = "pg-b"
        switchover.oldRegion = "eu-west"
        switchover.newPrimary = "pg-a"
        switchover.newRegion = "us-east"
        switchover.plan?.ranked[0].endpoint = "pg-a"
        switchover.plan?.ranked[0].region = "us-east"
        switchover.plan?.rejected = []
        switchover.onsetAt = at(3600.5)
        switchover.rtoSeconds = 0.7

        var manual = automaticFailover(
            id: "a1b2c3d4-0003", offset: 7200, oldPosition: "0/3100000", source: "last_probe", promoted: "0/3000000",
            rpoBytes: 1_048_576, mode: "asynchronous")
        manual.kind = .manualFailover
        manual.requestedBy = "bob \"on call\""
        manual.trigger = "manual failover requested by bob, forced:\nregion \"ap-south\", lag ignored"
        manual.plan?.rejected = [
            Rejection(endpoint: "pg-c", reason: "not in the requested region ap-south, \"eu-west\"\r\nskipped")
        ]
        manual.onsetAt = at(7200.5)
        manual.rtoSeconds = 0.7

        var failed = automaticFailover(id: "a1b2c3d4-0004", offset: 20_000, oldPosition: nil, source: "unknown")
        failed.status = "failed"
        failed.newPrimary = nil
        failed.newRegion = nil
        failed.promotedPosition = nil
        failed.rpoBytes = nil
        failed.rtoSeconds = nil
        failed.finishedAt = at(20_000.8)
        failed.steps = Array(failed.steps.prefix(3))
        failed.error = "no standby can be promoted (pg-c: lag 64MB exceeds max_lag_on_failover 16MB)"
        return [failover, switchover, manual, failed]
    }

    static func sampleReport(events records: [OperationRecord]? = nil) -> Report {
        let events = (records ?? sampleEvents()).map {
            EventReportBuilder.build(record: $0, targets: targets, now: at(86_400))
        }
        return Report(
            cluster: "lab", generatedAt: at(86_400), from: at(-100), to: at(86_300), targets: targets, events: events)
    }

    static func emptyReport() -> Report {
        Report(cluster: "lab", generatedAt: at(86_400), from: at(-100), to: at(86_300), targets: targets, events: [])
    }

    /// The repository's root, found from this file's path.
    static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }
}
