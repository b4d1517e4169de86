import Foundation

/// Inline SVG charts for the HTML export. Every number drawn is also in the tables beside it.
enum Charts {
    static let width = 1000.0
    static let phaseColors = [
        "detection": "#cf222e", "decision": "#bf8700", "promotion": "#0969da", "routing": "#8250df",
        "verification": "#1a7f37",
    ]

    /// One point per event on a logarithmic axis of seconds, with the RTO target as a dashed line.
    /// An event without an RTO is a hollow point on the axis marked "not recovered".
    static func rto(_ report: Report) -> String {
        let events = report.events
        let target = report.targets.rtoSeconds
        let values = events.compactMap(\.rto.seconds).filter { $0 > 0 } + [target]
        let low = pow(10, floor(log10(max(values.min() ?? 0.01, 0.001))))
        let high = pow(10, ceil(log10(max(values.max() ?? 1, low * 10) * 1.01)))
        let (left, right, top, bottom, height) = (70.0, 20.0, 20.0, 50.0, 280.0)
        let plotHeight = height - top - bottom
        func y(_ seconds: Double) -> Double {
            let clamped = min(max(seconds, low), high)
            return top + plotHeight * (1 - (log10(clamped) - log10(low)) / (log10(high) - log10(low)))
        }
        let step = (width - left - right) / Double(max(events.count, 1))
        func x(_ index: Int) -> Double { left + step * (Double(index) + 0.5) }
        var svg = [
            "<svg class=\"chart rto\" viewBox=\"0 0 \(int(width)) \(int(height))\" role=\"img\" "
                + "aria-label=\"RTO per event in seconds against the target\">"
        ]
        var decade = low
        while decade <= high * 1.0001 {
            let yy = y(decade)
            svg.append(
                "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(fmt(yy))\" y2=\"\(fmt(yy))\" stroke=\"#eaeef2\"/>"
                    + "<text x=\"\(left - 6)\" y=\"\(fmt(yy + 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#57606a\">"
                    + "\(tick(decade)) s</text>")
            decade *= 10
        }
        svg.append(axes(left: left, right: right, top: top, bottom: height - bottom))
        let targetY = y(target)
        svg.append(
            "<line class=\"target\" x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(fmt(targetY))\" y2=\"\(fmt(targetY))\" "
                + "stroke=\"#cf222e\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>"
                + "<text x=\"\(width - right - 4)\" y=\"\(fmt(targetY - 5))\" text-anchor=\"end\" font-size=\"12\" "
                + "fill=\"#cf222e\">target \(HTMLExport.escape(Formatting.duration(target)))</text>")
        let points = events.enumerated().compactMap { index, event in
            event.rto.seconds.map { "\(fmt(x(index))),\(fmt(y($0)))" }
        }
        if points.count > 1 {
            svg.append(
                "<polyline points=\"\(points.joined(separator: " "))\" fill=\"none\" stroke=\"#8c959f\" stroke-width=\"1\"/>"
            )
        }
        for (index, event) in events.enumerated() {
            let title = "#\(index + 1) \(event.kind): \(SummaryLines.rto(event))"
            if let seconds = event.rto.seconds {
                let color = event.rto.status == .breached ? "#cf222e" : "#0969da"
                svg.append(
                    "<circle class=\"rto-point\" cx=\"\(fmt(x(index)))\" cy=\"\(fmt(y(seconds)))\" r=\"5\" fill=\"\(color)\">"
                        + "<title>\(HTMLExport.escape(title))</title></circle>"
                        + "<text x=\"\(fmt(x(index)))\" y=\"\(fmt(y(seconds) - 9))\" text-anchor=\"middle\" font-size=\"11\">"
                        + "\(HTMLExport.escape(Formatting.duration(seconds)))</text>")
            } else {
                svg.append(
                    "<circle class=\"rto-point unknown\" cx=\"\(fmt(x(index)))\" cy=\"\(fmt(height - bottom))\" r=\"5\" "
                        + "fill=\"#fff\" stroke=\"#cf222e\" stroke-width=\"2\"><title>\(HTMLExport.escape(title))</title></circle>"
                        + "<text x=\"\(fmt(x(index)))\" y=\"\(fmt(height - bottom - 10))\" text-anchor=\"middle\" "
                        + "font-size=\"11\" fill=\"#cf222e\">not recovered</text>")
            }
        }
        svg.append(xLabels(events, x: x, y: height - bottom))
        svg.append("</svg>")
        return svg.joined(separator: "\n")
    }

    /// One bar per event, in bytes (linear). A lower bound is labelled "≥", an unknown loss is an
    /// outlined bar marked "unknown", and an event that promoted nothing is marked "n/a".
    static func rpo(_ report: Report) -> String {
        let events = report.events
        let (left, right, top, bottom, height) = (70.0, 20.0, 20.0, 50.0, 220.0)
        let plotHeight = height - top - bottom
        let maxBytes = Double(max(events.compactMap(\.rpo.bytes).max() ?? 0, 1))
        let step = (width - left - right) / Double(max(events.count, 1))
        func x(_ index: Int) -> Double { left + step * (Double(index) + 0.5) }
        let barWidth = min(40, step * 0.6)
        var svg = [
            "<svg class=\"chart rpo\" viewBox=\"0 0 \(int(width)) \(int(height))\" role=\"img\" "
                + "aria-label=\"RPO per event in bytes of WAL\">"
        ]
        svg.append(
            "<text x=\"\(left - 6)\" y=\"\(fmt(top + 4))\" text-anchor=\"end\" font-size=\"11\" fill=\"#57606a\">"
                + "\(HTMLExport.escape(Formatting.compactBytes(Int64(maxBytes))))</text>"
                + "<text x=\"\(left - 6)\" y=\"\(fmt(height - bottom + 4))\" text-anchor=\"end\" font-size=\"11\" "
                + "fill=\"#57606a\">0 B</text>")
        svg.append(axes(left: left, right: right, top: top, bottom: height - bottom))
        for (index, event) in events.enumerated() {
            let center = x(index)
            let title = HTMLExport.escape("#\(index + 1) \(event.kind): \(SummaryLines.rpo(event))")
            switch event.rpo.method {
            case .measured, .lowerBound:
                let bytes = event.rpo.bytes ?? 0
                let barHeight = max(plotHeight * Double(bytes) / maxBytes, 1)
                let color = event.rpo.method == .measured ? "#0969da" : "#bf8700"
                let label = (event.rpo.method == .lowerBound ? "≥ " : "") + Formatting.bytes(bytes) + " B"
                svg.append(
                    "<rect class=\"rpo-bar\" x=\"\(fmt(center - barWidth / 2))\" y=\"\(fmt(height - bottom - barHeight))\" "
                        + "width=\"\(fmt(barWidth))\" height=\"\(fmt(barHeight))\" fill=\"\(color)\"><title>\(title)</title></rect>"
                        + "<text x=\"\(fmt(center))\" y=\"\(fmt(height - bottom - barHeight - 5))\" text-anchor=\"middle\" "
                        + "font-size=\"11\">\(HTMLExport.escape(label))</text>")
            case .unknown, .notApplicable:
                let label = event.rpo.method == .unknown ? "unknown" : "n/a"
                svg.append(
                    "<rect class=\"rpo-bar \(event.rpo.method.rawValue)\" x=\"\(fmt(center - barWidth / 2))\" "
                        + "y=\"\(fmt(top))\" width=\"\(fmt(barWidth))\" height=\"\(fmt(plotHeight))\" fill=\"none\" "
                        + "stroke=\"#8c959f\" stroke-dasharray=\"4 3\"><title>\(title)</title></rect>"
                        + "<text x=\"\(fmt(center))\" y=\"\(fmt(top + plotHeight / 2))\" text-anchor=\"middle\" "
                        + "font-size=\"11\" fill=\"#57606a\">\(label)</text>")
            }
        }
        svg.append(xLabels(events, x: x, y: height - bottom))
        svg.append(
            "<text x=\"\(fmt(width - right))\" y=\"\(fmt(height - 6))\" text-anchor=\"end\" font-size=\"11\" "
                + "fill=\"#57606a\">blue: measured · amber: at least (from the last probe) · dashed: unknown or n/a</text>"
        )
        svg.append("</svg>")
        return svg.joined(separator: "\n")
    }

    /// The phases of one event as a horizontal bar, each segment as long as the phase.
    static func timeline(_ event: EventReport) -> String {
        let phases = event.phases.filter { ($0.seconds ?? 0) > 0 }
        let total = phases.compactMap(\.seconds).reduce(0, +)
        let (left, right, height) = (10.0, 10.0, 78.0)
        var svg = [
            "<svg class=\"timeline\" viewBox=\"0 0 \(int(width)) \(int(height))\" role=\"img\" "
                + "aria-label=\"Phases of the event\">"
        ]
        guard total > 0 else {
            svg.append(
                "<text x=\"\(left)\" y=\"30\" font-size=\"12\" fill=\"#57606a\">No phase timing recorded.</text></svg>")
            return svg.joined(separator: "\n")
        }
        var cursor = left
        let usable = width - left - right
        for phase in phases {
            let seconds = phase.seconds ?? 0
            let segment = usable * seconds / total
            let color = phaseColors[phase.name] ?? "#8c959f"
            svg.append(
                "<rect class=\"phase\" x=\"\(fmt(cursor))\" y=\"8\" width=\"\(fmt(max(segment, 1)))\" height=\"26\" "
                    + "fill=\"\(color)\"><title>\(phase.name): \(Formatting.seconds(seconds)) s</title></rect>")
            // A label only where it fits (about 6.5 px per character at 11 px); the legend names all.
            let full = "\(phase.name) \(Formatting.duration(seconds))"
            let label = [full, phase.name].first { Double($0.count) * 6.5 + 8 <= segment }
            if let label {
                svg.append(
                    "<text x=\"\(fmt(cursor + 4))\" y=\"26\" font-size=\"11\" fill=\"#fff\">"
                        + "\(HTMLExport.escape(label))</text>")
            }
            cursor += segment
        }
        svg.append(
            "<text x=\"\(left)\" y=\"46\" font-size=\"10\" fill=\"#57606a\">onset</text>"
                + "<text x=\"\(fmt(width - right))\" y=\"46\" font-size=\"10\" fill=\"#57606a\" text-anchor=\"end\">"
                + "verified after \(HTMLExport.escape(Formatting.duration(total)))</text>")
        // A legend below, so that short phases are named too.
        var legendX = left
        for phase in event.phases {
            let color = phaseColors[phase.name] ?? "#8c959f"
            let label = "\(phase.name) \(phase.seconds.map { Formatting.duration($0) } ?? "—")"
            svg.append(
                "<rect x=\"\(fmt(legendX))\" y=\"56\" width=\"10\" height=\"10\" fill=\"\(color)\"/>"
                    + "<text x=\"\(fmt(legendX + 14))\" y=\"65\" font-size=\"11\">\(HTMLExport.escape(label))</text>")
            legendX += 190
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n")
    }

    static func axes(left: Double, right: Double, top: Double, bottom: Double) -> String {
        "<line x1=\"\(left)\" x2=\"\(left)\" y1=\"\(top)\" y2=\"\(bottom)\" stroke=\"#57606a\"/>"
            + "<line x1=\"\(left)\" x2=\"\(width - right)\" y1=\"\(bottom)\" y2=\"\(bottom)\" stroke=\"#57606a\"/>"
    }

    static func xLabels(_ events: [EventReport], x: (Int) -> Double, y: Double) -> String {
        let every = max(1, events.count / 20)
        return events.enumerated().filter { $0.offset % every == 0 }.map { index, event in
            let date = Formatting.date(event.timeline.detectedAt).prefix(10)
            return
                "<text x=\"\(fmt(x(index)))\" y=\"\(fmt(y + 16))\" text-anchor=\"middle\" font-size=\"11\">#\(index + 1)</text>"
                + "<text x=\"\(fmt(x(index)))\" y=\"\(fmt(y + 30))\" text-anchor=\"middle\" font-size=\"10\" "
                + "fill=\"#57606a\">\(date)</text>"
        }.joined(separator: "\n")
    }

    static func fmt(_ value: Double) -> String { String(format: "%.1f", value) }
    static func int(_ value: Double) -> Int { Int(value) }

    static func tick(_ value: Double) -> String {
        value >= 1 ? String(Int(value)) : String(format: "%g", value)
    }
}
