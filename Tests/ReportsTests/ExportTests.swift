import Foundation
import Reports
import Testing
import Vocabulary

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite("Exports")
struct ExportTests {
    /// A directory of its own under the temporary directory.
    private func scratch(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(
            "reports-\(name)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program; returns its exit status and combined output.
    private func run(_ executable: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    // MARK: JSON

    @Test(arguments: [false, true])
    func jsonValidatesAgainstItsSchema(empty: Bool) throws {
        let report = empty ? Fixtures.emptyReport() : Fixtures.sampleReport()
        let directory = try scratch("json")
        let file = directory.appendingPathComponent("report.json")
        try JSONExport.render(report).write(to: file, atomically: true, encoding: .utf8)
        let schema = Fixtures.repositoryRoot.appendingPathComponent("docs/reports.schema.json").path
        let script = """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
            errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(json.load(open(sys.argv[2])))]
            print("\\n".join(errors)); sys.exit(1 if errors else 0)
            """
        let (status, output) = try run("python3", ["-c", script, schema, file.path])
        #expect(status == 0, "python3 with jsonschema (Debian python3-jsonschema) says: \(output)")
    }

    @Test func jsonReadsBackToTheSameReport() throws {
        let report = Fixtures.sampleReport()
        let text = try JSONExport.render(report)
        let parsed = try JSONExport.parse(text)
        // Dates travel with millisecond precision.
        #expect(try JSONExport.render(parsed) == text)
        #expect(parsed.events.map(\.id) == report.events.map(\.id))
        #expect(text.contains("\"schema_version\" : 1"))
    }

    // MARK: CSV

    @Test func csvParsesBackToTheSameValues() throws {
        let report = Fixtures.sampleReport()
        let text = CSVExport.render(report)
        #expect(text.hasSuffix("\r\n"))
        let records = CSVExport.parse(text)
        #expect(records.count == report.events.count + 1)
        #expect(records[0] == CSVExport.columns)
        for (record, event) in zip(records.dropFirst(), report.events) {
            #expect(record.count == CSVExport.columns.count)
            let expected = CSVExport.row(event)
            for (column, value) in zip(CSVExport.columns, record) {
                #expect(value == expected[column] ?? "", "\(event.id) \(column)")
            }
        }
        let manual = try #require(records.first { $0[0] == "a1b2c3d4-0003" })
        let column = { (name: String) in CSVExport.columns.firstIndex(of: name)! }
        #expect(
            manual[column("trigger")] == "manual failover requested by bob, forced:\nregion \"ap-south\", lag ignored")
        #expect(manual[column("requested_by")] == "bob \"on call\"")
        #expect(manual[column("rejected")].contains("\"eu-west\"\r\nskipped"))
        #expect(manual[column("rpo_bytes")] == "1048576")
        #expect(manual[column("rpo_method")] == "lower_bound")
    }

    @Test func csvColumnOrderIsStable() {
        #expect(
            CSVExport.columns.prefix(6) == ["id", "kind", "outcome", "trigger", "requested_by", "old_primary"])
        #expect(Set(CSVExport.columns).count == CSVExport.columns.count)
        #expect(CSVExport.render(Fixtures.emptyReport()) == CSVExport.columns.joined(separator: ",") + "\r\n")
    }

    // MARK: Markdown and HTML

    @Test func markdownHasTheSummaryAndEveryEvent() {
        let report = Fixtures.sampleReport()
        let text = MarkdownExport.render(report)
        #expect(text.contains("## Summary"))
        for event in report.events {
            #expect(text.contains("### \(event.kind.replacingOccurrences(of: "_", with: " ")) \(event.id)"))
        }
        #expect(text.contains("≥ 1,048,576 bytes (from the last probe)"))
        let empty = MarkdownExport.render(Fixtures.emptyReport())
        #expect(empty.contains("**No failover or switchover happened between"))
    }

    @Test func htmlIsSelfContainedWithOnePointPerEvent() throws {
        let report = Fixtures.sampleReport()
        let html = HTMLExport.render(report)
        for event in report.events { #expect(html.contains("id=\"event-\(event.id)\"")) }
        for reference in ["http://", "https://", "src=", "<link", "<script", "@import", "url(", "@font-face"] {
            #expect(!html.contains(reference), "external reference \(reference)")
        }
        #expect(html.components(separatedBy: "class=\"rto-point").count - 1 == report.events.count)
        #expect(html.components(separatedBy: "class=\"rpo-bar").count - 1 == report.events.count)
        #expect(html.components(separatedBy: "<svg class=\"timeline\"").count - 1 == report.events.count)
        #expect(html.contains("class=\"target\""))
        // The XML parser accepts every chart.
        for chart in html.components(separatedBy: "<svg").dropFirst() {
            let svg = "<svg" + chart.components(separatedBy: "</svg>")[0] + "</svg>"
            let parser = XMLParser(data: Data(svg.utf8))
            #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        }
        let empty = HTMLExport.render(Fixtures.emptyReport())
        #expect(empty.contains("No failover or switchover happened between"))
        #expect(!empty.contains("<svg"))
    }

    @Test func noExportLeaksASecret() throws {
        var records = Fixtures.sampleEvents()
        records[0].trigger = "primary down; hook said password=s3cr3t-pw"
        records[0].steps[1].detail = "webhook https://hooks.slack.com/services/TSECRET/BSECRET/ZSECRET failed"
        let report = Fixtures.sampleReport(events: records)
        let outputs = [
            try JSONExport.render(report), CSVExport.render(report), MarkdownExport.render(report),
            HTMLExport.render(report),
        ]
        for output in outputs {
            #expect(!output.contains("s3cr3t-pw"))
            #expect(!output.contains("SECRET"))
        }
    }
}
