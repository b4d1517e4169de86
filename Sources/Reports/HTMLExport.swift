import Foundation

/// The HTML export: one self-contained page (inline CSS and SVG, no script, font, image or link to
/// anything outside it) with the summary, a chart of RTO per event against the target, RPO per
/// event, and each event's timeline of phases. Prints on A4/Letter without losing content.
public enum HTMLExport {
    public static func render(_ report: Report) -> String {
        var body: [String] = []
        body.append("<header><h1>RTO/RPO report: \(escape(report.cluster))</h1>")
        body.append(
            "<p class=\"meta\">Period \(escape(Formatting.date(report.from))) to \(escape(Formatting.date(report.to)))"
                + " · generated \(escape(Formatting.date(report.generatedAt))) · schema version \(report.schemaVersion)"
                + "</p></header>")
        if let note = report.note { body.append("<p class=\"empty\">\(escape(note))</p>") }
        body.append("<section><h2>Summary</h2><table class=\"summary\">")
        for (name, value) in SummaryLines.lines(report) {
            body.append("<tr><th>\(escape(name))</th><td>\(escape(value))</td></tr>")
        }
        body.append("</table></section>")
        if !report.events.isEmpty {
            body.append("<section><h2>RTO per event</h2>")
            body.append(Charts.rto(report))
            body.append("</section><section><h2>RPO per event</h2>")
            body.append(Charts.rpo(report))
            body.append("</section><section><h2>Events</h2><table class=\"events\">")
            body.append(
                "<tr><th>#</th><th>Started</th><th>Kind</th><th>Outcome</th><th>Primary</th><th>RTO</th><th>RPO</th></tr>"
            )
            for (index, event) in report.events.enumerated() {
                body.append(
                    "<tr><td><a href=\"#event-\(escape(event.id))\">\(index + 1)</a></td>"
                        + "<td class=\"when\">\(escape(Formatting.date(event.timeline.detectedAt)))</td>"
                        + "<td>\(escape(event.kind))</td><td class=\"\(escape(event.outcome))\">\(escape(event.outcome))</td>"
                        + "<td>\(escape(SummaryLines.move(event)))</td>"
                        + "<td class=\"\(event.rto.status.rawValue)\">\(escape(SummaryLines.rto(event)))</td>"
                        + "<td class=\"\(event.rpo.status.rawValue)\">\(escape(SummaryLines.rpo(event)))</td></tr>")
            }
            body.append("</table></section>")
            for (index, event) in report.events.enumerated() { body.append(section(event, number: index + 1)) }
        }
        return """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>RTO/RPO report: \(escape(report.cluster))</title>
            <style>\(style)</style>
            </head>
            <body>
            \(body.joined(separator: "\n"))
            </body>
            </html>

            """
    }

    static func section(_ event: EventReport, number: Int) -> String {
        var out: [String] = []
        out.append("<section class=\"event\" id=\"event-\(escape(event.id))\">")
        out.append(
            "<h3>\(number). \(escape(event.kind.replacingOccurrences(of: "_", with: " "))) · \(escape(event.outcome))"
                + " <span class=\"id\">\(escape(event.id))</span></h3>")
        out.append("<dl>")
        var facts: [(String, String)] = [
            ("Trigger", event.trigger), ("Primary", SummaryLines.move(event)),
            ("Replication", event.replicationMode), ("RTO", SummaryLines.rto(event)),
            ("RPO", SummaryLines.rpo(event)), ("What the RPO means", event.rpo.meaning),
        ]
        if let by = event.requestedBy { facts.insert(("Requested by", by), at: 1) }
        if let error = event.error { facts.append(("Error", error)) }
        if !event.alerts.isEmpty {
            facts.append(("Alerts", event.alerts.map { "\($0.kind) (\($0.delivery))" }.joined(separator: ", ")))
        }
        for (name, value) in facts { out.append("<dt>\(escape(name))</dt><dd>\(escape(value))</dd>") }
        out.append("</dl>")
        out.append(Charts.timeline(event))
        if !event.candidates.isEmpty || !event.rejected.isEmpty {
            out.append("<table><tr><th>Standby</th><th>Region / reason</th><th>Position</th><th>Lag (bytes)</th></tr>")
            for candidate in event.candidates {
                out.append(
                    "<tr><td>\(escape(candidate.endpoint))\(candidate.promoted ? " <b>promoted</b>" : "")</td>"
                        + "<td>\(escape(candidate.region))</td><td>\(escape(candidate.position ?? "unknown"))</td>"
                        + "<td>\(candidate.lagBytes.map { Formatting.bytes($0) } ?? "")</td></tr>")
            }
            for rejection in event.rejected {
                out.append(
                    "<tr class=\"rejected\"><td>\(escape(rejection.endpoint)) <i>rejected</i></td>"
                        + "<td colspan=\"3\">\(escape(rejection.reason))</td></tr>")
            }
            out.append("</table>")
        }
        out.append("<details open><summary>Steps</summary><table class=\"steps\">")
        out.append("<tr><th>Step</th><th>Started</th><th>Seconds</th><th>Outcome</th><th>Detail</th></tr>")
        for step in event.steps {
            out.append(
                "<tr><td>\(escape(step.name))</td><td>\(escape(Formatting.date(step.startedAt)))</td>"
                    + "<td>\(escape(Formatting.seconds(step.seconds, unknown: "—")))</td>"
                    + "<td class=\"\(escape(step.outcome))\">\(escape(step.outcome))</td><td>\(escape(step.detail))</td></tr>"
            )
        }
        out.append("</table></details></section>")
        return out.joined(separator: "\n")
    }

    /// Text safe in HTML content and attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static let style = """
        body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1b1f24;margin:2rem auto;max-width:1100px;padding:0 1rem;line-height:1.4}
        h1{font-size:1.6rem;margin:0}h2{font-size:1.25rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
        h3{font-size:1.05rem}.id{font:0.8rem ui-monospace,monospace;color:#57606a}.meta{color:#57606a;margin:.2rem 0 0}
        .empty{font-size:1.1rem;padding:1rem;background:#f6f8fa;border:1px solid #d0d7de;border-radius:6px}
        table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}
        th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}th{background:#f6f8fa}
        table.summary th{width:16rem}.steps td:last-child{font:0.8rem ui-monospace,monospace;word-break:break-word}
        td.met{color:#116329}td.breached,td.failed,td.abandoned{color:#a40e26;font-weight:600}
        dl{display:grid;grid-template-columns:12rem 1fr;gap:.2rem .8rem;margin:.5rem 0}dt{font-weight:600}dd{margin:0}
        svg{display:block;max-width:100%;height:auto}svg text{font-family:inherit}
        .event{border-top:1px solid #d0d7de;margin-top:1.5rem}tr.rejected td{color:#57606a}td.when{white-space:nowrap}
        @media print{body{margin:0;max-width:none;font-size:10pt}section{break-inside:avoid}.event{break-before:auto}
        details>summary{display:none}a{color:inherit;text-decoration:none}}
        """
}
