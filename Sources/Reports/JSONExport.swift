import Foundation

/// The JSON export: the ``Report`` itself, keys in snake case and sorted, dates in ISO 8601 UTC with
/// milliseconds. Its schema is `docs/reports.schema.json`.
public enum JSONExport {
    public static func render(_ report: Report) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Formatting.date(date))
        }
        encoder.nonConformingFloatEncodingStrategy = .throw
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    /// Reads a JSON export back.
    public static func parse(_ text: String) throws -> Report {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            return try parseDate(try container.decode(String.self), in: container)
        }
        return try decoder.decode(Report.self, from: Data(text.utf8))
    }

    /// ISO 8601 with or without fractional seconds: how history records and exports write dates.
    static func parseDate(_ text: String, in container: any SingleValueDecodingContainer) throws -> Date {
        let utc = TimeZone(identifier: "UTC")!
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: utc).parse(text) {
            return date
        }
        if let date = try? Date.ISO8601FormatStyle(timeZone: utc).parse(text) { return date }
        throw DecodingError.dataCorruptedError(
            in: container, debugDescription: "expected an ISO 8601 date, got \(text)")
    }
}
