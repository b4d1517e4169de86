import Foundation

/// Removes secrets from free text before it goes into a report.
///
/// Reports copy step details, errors and hook output, which may quote a connection string, a
/// header or a webhook URL. Whatever looks like one is replaced by `<redacted>`: a `password=`,
/// `token:`-style assignment, the user information of a URL, a bearer token, and the path and
/// query of an http(s) URL (webhook URLs carry their token there); the host is kept so the line
/// still says where.
enum Redactor {
    static let marker = "<redacted>"

    static func scrub(_ text: String) -> String {
        var result = text
        result = replace(#"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"#, in: result) { _ in "Bearer \(marker)" }
        result = replace(
            #"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization|sslpassword)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)"#,
            in: result
        ) { groups in "\(groups[1])\(groups[2])\(marker)" }
        result = replace(#"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+(:[^@\s/]*)?@"#, in: result) { groups in
            "\(groups[1])\(marker)@"
        }
        result = replace(#"(?i)\b(https?://[^/\s?#<>"']+)([/?#][^\s<>"']*)"#, in: result) { groups in
            groups[2] == "/" ? "\(groups[1])/" : "\(groups[1])/\(marker)"
        }
        return result
    }

    private static func replace(_ pattern: String, in text: String, with make: ([String]) -> String) -> String {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return text }
        let source = text as NSString
        var output = ""
        var cursor = 0
        for match in expression.matches(in: text, range: NSRange(location: 0, length: source.length)) {
            output += source.substring(with: NSRange(location: cursor, length: match.range.location - cursor))
            let groups = (0..<match.numberOfRanges).map { index in
                let range = match.range(at: index)
                return range.location == NSNotFound ? "" : source.substring(with: range)
            }
            output += make(groups)
            cursor = match.range.location + match.range.length
        }
        output += source.substring(from: cursor)
        return output
    }
}

/// Number and date formats shared by the exports.
enum Formatting {
    /// Seconds with three decimals, e.g. `0.184`.
    static func seconds(_ value: Double) -> String { String(format: "%.3f", value) }

    static func seconds(_ value: Double?, unknown: String = "unknown") -> String {
        value.map { seconds($0) } ?? unknown
    }

    /// ISO 8601 in UTC with milliseconds, e.g. `2025-01-02T03:04:05.678Z`.
    static func date(_ date: Date) -> String {
        // Rounded to the millisecond here rather than truncated by the formatter, so that a date read
        // back from an export prints the same.
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (whole, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let second = Date(timeIntervalSince1970: Double(fraction < 0 ? whole - 1 : whole))
        let text = second.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC")!))
        return String(text.dropLast()) + String(format: ".%03dZ", fraction < 0 ? fraction + 1000 : fraction)
    }

    /// Seconds rounded to the microsecond: differences of dates carry binary noise below it.
    static func rounded(_ seconds: Double) -> Double { (seconds * 1_000_000).rounded() / 1_000_000 }

    static func rounded(optional seconds: Double?) -> Double? { seconds.map { rounded($0) } }

    static func date(_ value: Date?, unknown: String = "") -> String {
        value.map { date($0) } ?? unknown
    }

    /// A byte count with thousands separators, e.g. `1,048,576`.
    static func bytes(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(character)
        }
        return value < 0 ? "-" + grouped : grouped
    }

    /// A byte count in the largest binary unit that keeps it at least 1, e.g. `1.0 MiB`, `512 B`.
    static func compactBytes(_ value: Int64) -> String {
        let units = [("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] as [(String, Int64)]
        for (unit, size) in units where value >= size {
            return String(format: "%.1f", Double(value) / Double(size)) + " " + unit
        }
        return "\(value) B"
    }

    /// A duration for humans: `184 ms`, `12.4 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`.
    static func duration(_ seconds: Double) -> String {
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min \(whole % 60) s" }
        if whole < 86_400 { return "\(whole / 3600) h \(whole % 3600 / 60) min" }
        return "\(whole / 86_400) d \(whole % 86_400 / 3600) h"
    }
}
