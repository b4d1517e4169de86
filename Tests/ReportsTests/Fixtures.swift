import Foundation
import Reports
import StateStore

@testable import Failover

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
