import Foundation

/// The CSV export: one row per event, columns in the fixed order of ``columns``, RFC 4180 (CRLF
/// line ends, fields holding a comma, quote, CR or LF quoted, quotes doubled). A period with no
/// event is the header alone. Unknown values are empty fields.
public enum CSVExport {
    /// The header, in order. New columns are only ever appended.
    public static let columns = [
        "id", "kind", "outcome", "trigger", "requested_by", "old_primary", "old_region", "new_primary",
        "new_region", "replication_mode", "onset_at", "detected_at", "decided_at", "promoted_at", "routed_at",
        "verified_at", "detection_seconds", "decision_seconds", "promotion_seconds", "routing_seconds",
        "verification_seconds", "rto_seconds", "rto_method", "rto_target_seconds", "rto_status", "rpo_bytes",
        "rpo_method", "rpo_estimated_seconds", "rpo_estimate_kind", "rpo_target_seconds", "rpo_status",
        "old_primary_position", "old_primary_position_source", "promoted_position", "candidates", "rejected",
        "error",
    ]

    public static func render(_ report: Report) -> String {
        var lines = [columns.map(quote).joined(separator: ",")]
        for event in report.events {
            let fields = row(event)
            lines.append(columns.map { quote(fields[$0] ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The values of one event by column name.
    public static func row(_ event: EventReport) -> [String: String] {
        func seconds(_ value: Double?) -> String { value.map { Formatting.seconds($0) } ?? "" }
        var fields: [String: String] = [
            "id": event.id, "kind": event.kind, "outcome": event.outcome, "trigger": event.trigger,
            "requested_by": event.requestedBy ?? "", "old_primary": event.oldPrimary.endpoint,
            "old_region": event.oldPrimary.region ?? "", "new_primary": event.newPrimary?.endpoint ?? "",
            "new_region": event.newPrimary?.region ?? "", "replication_mode": event.replicationMode,
            "onset_at": Formatting.date(event.timeline.onsetAt),
            "detected_at": Formatting.date(event.timeline.detectedAt),
            "decided_at": Formatting.date(event.timeline.decidedAt),
            "promoted_at": Formatting.date(event.timeline.promotedAt),
            "routed_at": Formatting.date(event.timeline.routedAt),
            "verified_at": Formatting.date(event.timeline.verifiedAt),
            "rto_seconds": seconds(event.rto.seconds), "rto_method": event.rto.method.rawValue,
            "rto_target_seconds": seconds(event.rto.targetSeconds), "rto_status": event.rto.status.rawValue,
            "rpo_bytes": event.rpo.bytes.map(String.init) ?? "", "rpo_method": event.rpo.method.rawValue,
            "rpo_estimated_seconds": seconds(event.rpo.estimatedSeconds),
            "rpo_estimate_kind": event.rpo.estimateKind.rawValue,
            "rpo_target_seconds": seconds(event.rpo.targetSeconds), "rpo_status": event.rpo.status.rawValue,
            "old_primary_position": event.rpo.oldPrimaryPosition ?? "",
            "old_primary_position_source": event.rpo.oldPrimaryPositionSource,
            "promoted_position": event.rpo.promotedPosition ?? "",
            "candidates": event.candidates.map(\.endpoint).joined(separator: "; "),
            "rejected": event.rejected.map { "\($0.endpoint): \($0.reason)" }.joined(separator: "; "),
            "error": event.error ?? "",
        ]
        for phase in event.phases { fields["\(phase.name)_seconds"] = seconds(phase.seconds) }
        return fields
    }

    /// One field, quoted when RFC 4180 requires it.
    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" })
        else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// Parses RFC 4180 text into records of fields (for tools and tests that read an export back).
    public static func parse(_ text: String) -> [[String]] {
        var records: [[String]] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var atFieldStart = true
        var scalars = Array(text.unicodeScalars)[...]
        while let scalar = scalars.popFirst() {
            if quoted {
                if scalar == "\"" {
                    if scalars.first == "\"" {
                        scalars.removeFirst()
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                    }
                } else {
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where atFieldStart:
                quoted = true
                atFieldStart = false
            case ",":
                record.append(field)
                field = ""
                atFieldStart = true
            case "\r", "\n":
                if scalar == "\r" && scalars.first == "\n" { scalars.removeFirst() }
                record.append(field)
                records.append(record)
                record = []
                field = ""
                atFieldStart = true
            default:
                field.unicodeScalars.append(scalar)
                atFieldStart = false
            }
        }
        if !atFieldStart || !record.isEmpty || !field.isEmpty {
            record.append(field)
            records.append(record)
        }
        return records
    }
}
