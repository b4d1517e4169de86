import Foundation

/// The Markdown export: a summary table, then one section per event (timeline of phases, RTO, RPO
/// and what it means, candidates, rejections, alerts, steps).
public enum MarkdownExport {
    public static func render(_ report: Report) -> String {
        var out: [String] = []
        out.append("# RTO/RPO report: \(cell(report.cluster))")
        out.append("")
        out.append(
            "Period \(Formatting.date(report.from)) to \(Formatting.date(report.to)); "
                + "generated \(Formatting.date(report.generatedAt)); schema version \(report.schemaVersion).")
        out.append("")
        if let note = report.note {
            out.append("**\(note)**")
            out.append("")
        }
        out.append("## Summary")
        out.append("")
        out.append("| Measure | Value |")
        out.append("| --- | --- |")
        for (name, value) in SummaryLines.lines(report) { out.append("| \(cell(name)) | \(cell(value)) |") }
        out.append("")
        if !report.events.isEmpty {
            out.append("## Events")
            out.append("")
            out.append("| Event | Kind | Outcome | Old → new primary | RTO | RPO |")
            out.append("| --- | --- | --- | --- | --- | --- |")
            for event in report.events {
                out.append(
                    "| [\(event.id.prefix(8))](#event-\(event.id)) | \(event.kind) | \(event.outcome) | "
                        + "\(cell(SummaryLines.move(event))) | \(cell(SummaryLines.rto(event))) | "
                        + "\(cell(SummaryLines.rpo(event))) |")
            }
            out.append("")
        }
        for event in report.events { out.append(contentsOf: section(event)) }
        return out.joined(separator: "\n")
    }

    static func section(_ event: EventReport) -> [String] {
        var out: [String] = []
        out.append("<a id=\"event-\(event.id)\"></a>")
        out.append("### \(event.kind.replacingOccurrences(of: "_", with: " ")) \(event.id)")
        out.append("")
        out.append("- Outcome: **\(event.outcome)**")
        out.append("- Trigger: \(inline(event.trigger))")
        if let requester = event.requestedBy { out.append("- Requested by: \(inline(requester))") }
        out.append("- Primary: \(inline(SummaryLines.move(event)))")
        out.append("- Replication: \(event.replicationMode)")
        out.append("- RTO: \(inline(SummaryLines.rto(event)))")
        out.append("- RPO: \(inline(SummaryLines.rpo(event))). \(inline(event.rpo.meaning))")
        if let error = event.error { out.append("- Error: \(inline(error))") }
        out.append("")
        out.append("| Phase | From | To | Seconds |")
        out.append("| --- | --- | --- | --- |")
        for phase in event.phases {
            out.append(
                "| \(phase.name) | \(Formatting.date(phase.startedAt, unknown: "unknown")) | "
                    + "\(Formatting.date(phase.finishedAt, unknown: "—")) | "
                    + "\(Formatting.seconds(phase.seconds, unknown: "—")) |")
        }
        out.append("")
        if !event.candidates.isEmpty {
            out.append("Candidates, best first:")
            out.append("")
            for candidate in event.candidates {
                let lag = candidate.lagBytes.map { ", lag \(Formatting.bytes($0)) bytes" } ?? ""
                out.append(
                    "- \(inline(candidate.endpoint)) (\(inline(candidate.region)))"
                        + " at \(candidate.position ?? "unknown")\(lag)\(candidate.promoted ? " — promoted" : "")")
            }
            out.append("")
        }
        if !event.rejected.isEmpty {
            out.append("Rejected:")
            out.append("")
            for rejection in event.rejected {
                out.append("- \(inline(rejection.endpoint)): \(inline(rejection.reason))")
            }
            out.append("")
        }
        if !event.alerts.isEmpty {
            out.append("Alerts: " + event.alerts.map { "\($0.kind) (\($0.delivery))" }.joined(separator: ", "))
            out.append("")
        }
        out.append("| Step | Started | Seconds | Outcome | Detail |")
        out.append("| --- | --- | --- | --- | --- |")
        for step in event.steps {
            out.append(
                "| \(step.name) | \(Formatting.date(step.startedAt)) | \(Formatting.seconds(step.seconds, unknown: "—")) "
                    + "| \(step.outcome) | \(cell(step.detail)) |")
        }
        out.append("")
        return out
    }

    /// Text safe inside a table cell: no pipe, no line break, no HTML.
    static func cell(_ text: String) -> String {
        inline(text).replacingOccurrences(of: "|", with: "\\|")
    }

    /// Text safe on one Markdown line: line breaks folded, markup characters escaped.
    static func inline(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\r\n", "\n", "\r": out += " "
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "*", "_", "`", "[", "]", "#", "\\": out += "\\\(character)"
            default: out.append(character)
            }
        }
        return out
    }
}

/// The summary measures as label and value, shared by the Markdown and HTML exports.
enum SummaryLines {
    static func lines(_ report: Report) -> [(String, String)] {
        let summary = report.summary
        let kinds = PeriodSummary.kinds.map {
            "\($0.replacingOccurrences(of: "_", with: " ")) \(summary.byKind[$0] ?? 0)"
        }
        let outcomes = PeriodSummary.outcomes.map {
            "\($0.replacingOccurrences(of: "_", with: " ")) \(summary.byOutcome[$0] ?? 0)"
        }
        var availability = "n/a"
        if let ratio = summary.availability.ratio {
            availability =
                String(format: "%.5f %%", ratio * 100)
                + " (writes unavailable \(Formatting.duration(summary.availability.outageSeconds)))"
                + (summary.availability.exact ? "" : "; at most this: an outage's end is not known")
        }
        let rpo = summary.rpo
        var rpoText = "none measured"
        if let max = rpo.maxBytes {
            rpoText =
                "max \(Formatting.bytes(max)) bytes, total \(Formatting.bytes(rpo.totalBytes)) bytes"
                + (rpo.lowerBoundEvents > 0 ? " (at least: \(rpo.lowerBoundEvents) event(s) give a lower bound)" : "")
        }
        if rpo.unknownEvents > 0 { rpoText += "; loss unknown for \(rpo.unknownEvents) event(s)" }
        return [
            ("Events", "\(summary.eventCount)"),
            ("By kind", kinds.joined(separator: ", ")),
            ("By outcome", outcomes.joined(separator: ", ")),
            (
                "RTO p50 / p95 / max",
                summary.rto.samples == 0
                    ? "no recovered event"
                    : [summary.rto.p50Seconds, summary.rto.p95Seconds, summary.rto.maxSeconds]
                        .map { Formatting.seconds($0, unknown: "—") + " s" }.joined(separator: " / ")
                        + " (\(summary.rto.samples) event(s))"
            ),
            ("RTO target", "\(Formatting.seconds(report.targets.rtoSeconds)) s: " + counts(summary.rtoTargets)),
            ("RPO", rpoText),
            (
                "RPO target",
                "\(Formatting.seconds(report.targets.rpoSecondsSynchronous)) s synchronous, "
                    + "\(Formatting.seconds(report.targets.rpoSecondsAsynchronous)) s asynchronous: "
                    + counts(summary.rpoTargets)
            ),
            ("Write availability", availability),
            (
                "Mean time between failovers",
                summary.meanTimeBetweenFailoversSeconds.map { Formatting.duration($0) }
                    ?? "no failover in the period"
            ),
        ]
    }

    static func counts(_ counts: TargetCounts) -> String {
        var parts = ["met \(counts.met)", "breached \(counts.breached)", "unknown \(counts.unknown)"]
        if counts.notApplicable > 0 { parts.append("not applicable \(counts.notApplicable)") }
        return parts.joined(separator: ", ")
    }

    static func move(_ event: EventReport) -> String {
        func name(_ reference: EndpointReference) -> String {
            reference.region.map { "\(reference.endpoint) (\($0))" } ?? reference.endpoint
        }
        return "\(name(event.oldPrimary)) → \(event.newPrimary.map(name) ?? "none")"
    }

    static func rto(_ event: EventReport) -> String {
        guard let seconds = event.rto.seconds else { return "not recovered (\(event.rto.status.rawValue))" }
        let prefix = event.rto.method == .fromDetection ? "≥ " : ""
        return "\(prefix)\(Formatting.seconds(seconds)) s, target \(Formatting.seconds(event.rto.targetSeconds)) s: "
            + event.rto.status.rawValue
    }

    static func rpo(_ event: EventReport) -> String {
        let rpo = event.rpo
        let amount: String
        switch rpo.method {
        case .measured: amount = "\(Formatting.bytes(rpo.bytes ?? 0)) bytes (measured)"
        case .lowerBound: amount = "≥ \(Formatting.bytes(rpo.bytes ?? 0)) bytes (from the last probe)"
        case .unknown: amount = "unknown"
        case .notApplicable: return "not applicable: nothing promoted"
        }
        var estimate = ""
        if let seconds = rpo.estimatedSeconds {
            estimate =
                rpo.estimateKind == .upperBound
                ? ", ≤ \(Formatting.seconds(seconds)) s" : ", \(Formatting.seconds(seconds)) s"
        }
        return "\(amount)\(estimate), target \(Formatting.seconds(rpo.targetSeconds)) s: \(rpo.status.rawValue)"
    }
}
