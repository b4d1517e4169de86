public import Foundation
import Postgres
public import StateStore
public import Vocabulary

/// Builds an ``EventReport`` from a history record and its journal. Pure: the same inputs give the
/// same report.
public enum EventReportBuilder {
    /// - Parameters:
    ///   - record: the operation as the history keeps it.
    ///   - journal: its journal, oldest first. Journal instants are stored at full precision, so they
    ///     refine the step times of the record (whose JSON dates may be whole seconds).
    ///   - startedAt: the operation's start as the store indexes it (full precision), if known.
    ///   - targets: the cluster's recovery objectives.
    ///   - deliveries: delivery outcome per alert kind, when the alerting pipeline recorded one.
    ///   - now: the end of an outage still in progress.
    public static func build(
        record: OperationRecord,
        journal: [StateStore.JournalEntry] = [],
        startedAt: Date? = nil,
        targets: ReportTargets,
        deliveries: [String: String] = [:],
        now: Date
    ) -> EventReport {
        let steps = refinedSteps(record.steps, journal: journal)
        let timeline = timeline(record: record, steps: steps, startedAt: startedAt)
        let phases = phases(timeline)
        let rto = rto(record: record, timeline: timeline, targets: targets)
        let rpo = rpo(record: record, timeline: timeline, targets: targets)
        let plan = record.plan
        let candidates = (plan?.ranked ?? []).map {
            CandidateReport(
                endpoint: $0.endpoint, region: $0.region, position: $0.position, lagBytes: $0.lagBytes,
                promoted: $0.endpoint == record.newPrimary)
        }
        return EventReport(
            id: record.id,
            kind: record.kind.rawValue,
            outcome: record.status,
            trigger: Redactor.scrub(record.trigger),
            requestedBy: record.requestedBy.map(Redactor.scrub),
            oldPrimary: EndpointReference(endpoint: record.oldPrimary, region: record.oldRegion),
            newPrimary: record.newPrimary.map { EndpointReference(endpoint: $0, region: record.newRegion) },
            replicationMode: record.replicationMode,
            candidates: candidates,
            rejected: (plan?.rejected ?? []).map {
                RejectionReport(endpoint: $0.endpoint, reason: Redactor.scrub($0.reason))
            },
            reasons: (plan?.reasons ?? []).map(Redactor.scrub),
            timeline: timeline,
            phases: phases,
            steps: steps.map {
                StepReport(
                    name: $0.name, startedAt: $0.startedAt, finishedAt: $0.finishedAt,
                    seconds: Formatting.rounded(optional: $0.seconds),
                    outcome: $0.outcome, detail: Redactor.scrub($0.detail))
            },
            rto: rto,
            rpo: rpo,
            alerts: alerts(record: record, steps: steps, deliveries: deliveries),
            outage: outage(record: record, timeline: timeline, now: now),
            error: record.error.map(Redactor.scrub))
    }

    // MARK: Time

    /// The record's steps with their instants taken from the journal where it has them: the n-th
    /// `started` entry of a step and the `finished`/`failed` entry after it belong to the n-th run.
    static func refinedSteps(_ steps: [StepRecord], journal: [StateStore.JournalEntry]) -> [StepRecord] {
        var runs: [String: [(start: Date, end: Date?)]] = [:]
        for entry in journal {
            switch entry.phase {
            case "started":
                runs[entry.step, default: []].append((entry.at, nil))
            case "finished", "failed":
                if var list = runs[entry.step], let last = list.indices.last, list[last].end == nil {
                    list[last].end = entry.at
                    runs[entry.step] = list
                }
            default:
                continue
            }
        }
        var seen: [String: Int] = [:]
        return steps.map { step in
            var refined = step
            let index = seen[step.name, default: 0]
            seen[step.name] = index + 1
            guard let list = runs[step.name], index < list.count else { return refined }
            let run = list[index]
            // A journal instant replaces the record's only when they agree to within the second the
            // record's JSON dates may have lost.
            if abs(run.start.timeIntervalSince(step.startedAt)) < 1 { refined.startedAt = run.start }
            if let end = run.end, let recorded = step.finishedAt, abs(end.timeIntervalSince(recorded)) < 1 {
                refined.finishedAt = end
            }
            return refined
        }
    }

    static func timeline(record: OperationRecord, steps: [StepRecord], startedAt: Date?) -> EventTimeline {
        func finished(_ name: String) -> Date? {
            steps.last { $0.name == name && $0.outcome == "ok" }?.finishedAt
        }
        var detected = record.detectedAt
        if let startedAt, abs(startedAt.timeIntervalSince(detected)) < 1 { detected = startedAt }
        let verified = record.newPrimary == nil ? nil : finished("verification")
        // Records keep milliseconds: the onset is the record's own (for a requested operation, the
        // moment writes stopped at the fence; nil when it never got that far).
        let onset = record.onsetAt
        return EventTimeline(
            onsetAt: onset,
            detectedAt: detected,
            decidedAt: finished("selection"),
            promotedAt: record.newPrimary == nil ? nil : finished("promotion"),
            routedAt: record.newPrimary == nil ? nil : finished("routing"),
            verifiedAt: verified,
            finishedAt: record.finishedAt)
    }

    static func phases(_ timeline: EventTimeline) -> [PhaseReport] {
        let instants: [Date?] = [
            timeline.onsetAt, timeline.detectedAt, timeline.decidedAt, timeline.promotedAt, timeline.routedAt,
            timeline.verifiedAt,
        ]
        return PhaseReport.names.enumerated().map { index, name in
            let start = instants[index]
            let end = instants[index + 1]
            let seconds: Double? =
                if let start, let end { end.timeIntervalSince(start) } else { nil }
            return PhaseReport(
                name: name, startedAt: start, finishedAt: end, seconds: Formatting.rounded(optional: seconds))
        }
    }

    // MARK: Objectives

    static func rto(record: OperationRecord, timeline: EventTimeline, targets: ReportTargets) -> RTOReport {
        let target = targets.rtoSeconds
        if record.status == "completed", let verified = timeline.verifiedAt {
            let method: RTOReport.Method = timeline.onsetAt == nil ? .fromDetection : .fromOnset
            let seconds = Formatting.rounded(verified.timeIntervalSince(timeline.onsetAt ?? timeline.detectedAt))
            let status: TargetStatus
            if seconds > target {
                status = .breached
            } else {
                // From detection, the true RTO is longer: it meets the target only if that is known.
                status = method == .fromOnset ? .met : .unknown
            }
            return RTOReport(seconds: seconds, method: method, targetSeconds: target, status: status)
        }
        var status = TargetStatus.unknown
        if record.status != "in_progress", let end = timeline.finishedAt,
            end.timeIntervalSince(timeline.onsetAt ?? timeline.detectedAt) > target
        {
            status = .breached
        }
        return RTOReport(seconds: nil, method: .notRecovered, targetSeconds: target, status: status)
    }

    /// Chooses the RPO method from how the old primary's position was known.
    static func rpo(record: OperationRecord, timeline: EventTimeline, targets: ReportTargets) -> RPOReport {
        let target = targets.rpoSeconds(replicationMode: record.replicationMode)
        let source = record.oldPrimaryPositionSource
        var report = RPOReport(
            bytes: nil, method: .unknown, oldPrimaryPosition: record.oldPrimaryPosition,
            oldPrimaryPositionSource: source, promotedPosition: record.promotedPosition, estimatedSeconds: nil,
            estimateKind: .none, meaning: "", targetSeconds: target, status: .unknown)
        guard record.newPrimary != nil else {
            report.method = .notApplicable
            report.status = .notApplicable
            report.meaning = "Nothing was promoted: the old primary kept its data; this attempt lost none by itself."
            return report
        }
        var bytes = record.rpoBytes
        if bytes == nil, let old = record.oldPrimaryPosition.flatMap({ LSN($0) }),
            let new = record.promotedPosition.flatMap({ LSN($0) })
        {
            bytes = max(0, new.distance(to: old))
        }
        guard let bytes, source == "measured" || source == "last_probe" else {
            report.meaning =
                "The old primary's WAL position was never known (unreachable before any probe recorded it): "
                + "the loss is unknown, not zero."
            return report
        }
        report.bytes = bytes
        let synchronousNote =
            record.replicationMode == "synchronous" && record.kind == .automaticFailover && bytes > 0
            ? " Replication was synchronous and only a synchronous standby is promoted automatically, so these "
                + "bytes are WAL of commits that were never acknowledged to a client."
            : ""
        if source == "measured" {
            report.method = .measured
            if bytes == 0 {
                report.estimatedSeconds = 0
                report.estimateKind = .exact
                report.status = .met
                report.meaning = "Measured on the fenced old primary: the new primary had every byte it wrote."
            } else {
                report.meaning =
                    "Measured on the fenced old primary: \(bytes) bytes of WAL it wrote never reached the new "
                    + "primary. No WAL rate is recorded, so there is no estimate in seconds." + synchronousNote
            }
            return report
        }
        report.method = .lowerBound
        let lastGoodProbe = record.lastGoodProbeAt ?? timeline.onsetAt
        let sinceProbe = lastGoodProbe.map { timeline.detectedAt.timeIntervalSince($0) }
        if bytes == 0, let sinceProbe {
            // Everything up to the last good probe reached the new primary; anything lost was written
            // after that probe and before detection.
            report.estimatedSeconds = Formatting.rounded(max(0, sinceProbe))
            report.estimateKind = .upperBound
            // Synchronous replication, failed over under the quorum rule: every acknowledged commit
            // was on a reachable synchronous standby, so none of those seconds held an acknowledged one.
            report.status = sinceProbe <= target || record.replicationMode == "synchronous" ? .met : .unknown
            report.meaning =
                "The old primary could not be read after the failure; at its last good probe the new primary "
                + "had every byte it had written. Only commits of the \(Formatting.seconds(sinceProbe)) s between "
                + "that probe and detection can be missing."
        } else {
            report.meaning =
                "The old primary could not be read after the failure; at its last good probe it was \(bytes) "
                + "bytes ahead of the new primary, and it may have written more before it died: the loss is at "
                + "least \(bytes) bytes. No WAL rate is recorded, so there is no estimate in seconds."
                + synchronousNote
        }
        return report
    }

    // MARK: Alerts and outage

    static func alerts(record: OperationRecord, steps: [StepRecord], deliveries: [String: String]) -> [AlertReport] {
        var alerts: [AlertReport] = []
        func add(_ kind: String, _ at: Date?) {
            alerts.append(AlertReport(kind: kind, at: at, delivery: deliveries[kind] ?? "not_recorded"))
        }
        if let step = steps.first(where: { $0.name == "alert" && $0.outcome == "ok" }) {
            add("failover_triggered", step.finishedAt)
        }
        if record.status == "completed", let step = steps.last(where: { $0.name == "notification" }) {
            add(record.kind == .switchover ? "switchover_completed" : "failover_completed", step.startedAt)
        } else if record.status == "failed" {
            add("failover_failed", record.finishedAt)
        }
        return alerts
    }

    static func outage(record: OperationRecord, timeline: EventTimeline, now: Date) -> OutageWindow? {
        let start = timeline.onsetAt ?? timeline.detectedAt
        switch record.status {
        case "completed":
            guard let end = timeline.verifiedAt ?? timeline.finishedAt else { return nil }
            return OutageWindow(start: start, end: max(start, end), endKnown: true)
        case "in_progress":
            return OutageWindow(start: start, end: max(start, now), endKnown: false)
        default:
            // A failed switchover gives the primary back; any other failure may leave the cluster
            // without one after the attempt stopped.
            let end = timeline.finishedAt ?? timeline.detectedAt
            return OutageWindow(start: start, end: max(start, end), endKnown: record.kind == .switchover)
        }
    }
}
