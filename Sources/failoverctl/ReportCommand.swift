import ArgumentParser
import Foundation
import Reports
import StateStore
import Topology

/// `failoverctl report`: the RTO/RPO report of a period, read from the daemon's state store file.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the RTO/RPO report of a period as JSON, CSV, Markdown or HTML.",
        discussion: """
            Asks failoverd's API for the report; with --state, reads the history from the state store \
            file directly instead (the daemon may keep running). \
            Targets come from the cluster file's health settings (--config), else the defaults. \
            Dates are ISO 8601 in UTC: 2025-06-15 or 2025-06-15T12:00:00Z. \
            See docs/reports.md for every field. Exit status: 0 written, 1 failed, 2 usage error.
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case json, csv, md, html
    }

    @Option(help: "Output format: json, csv, md or html.")
    var format: Format = .md

    @Option(help: "Start of the period (inclusive). Default: 30 days before --to.")
    var from: String?

    @Option(help: "End of the period (exclusive). Default: now.")
    var to: String?

    @Option(help: "Write to this file instead of standard output.")
    var out: String?

    @Option(help: "The daemon's state store file (SQLite); without it the report comes from the API.")
    var state: String?

    @OptionGroup var api: APIOptions

    @Option(help: "Cluster file whose health settings give the RTO/RPO targets and the cluster name.")
    var config: String?

    func validate() throws {
        if let from, Self.parseDate(from) == nil { throw ValidationError("--from \(from): \(Self.dateHelp)") }
        if let to, Self.parseDate(to) == nil { throw ValidationError("--to \(to): \(Self.dateHelp)") }
        if let start = from.flatMap(Self.parseDate), let end = to.flatMap(Self.parseDate), start >= end {
            throw ValidationError("--from must be before --to")
        }
    }

    func run() async throws {
        guard let state else { return try await fromAPI() }
        let now = Date()
        let end = to.flatMap(Self.parseDate) ?? now
        let start = from.flatMap(Self.parseDate) ?? end.addingTimeInterval(-30 * 86_400)
        var cluster = "cluster"
        var health = HealthSettings()
        if let config {
            do throws(TopologyLoadError) {
                let topology = try TopologyLoader.load(path: config)
                cluster = topology.name
                health = topology.defaults
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
        }
        guard FileManager.default.fileExists(atPath: state) else {
            printError("no state store at \(state); pass the file the daemon writes (its --state)")
            throw ExitCode(1)
        }
        let report: Report
        do {
            let store = try StateStore(path: state)
            report = try await ReportSource.report(
                store: store, cluster: cluster, from: start, to: end, targets: ReportTargets(health), now: now)
        } catch {
            printError("cannot read the state store \(state): \(error)")
            throw ExitCode(1)
        }
        let text: String
        switch format {
        case .json: text = try JSONExport.render(report)
        case .csv: text = CSVExport.render(report)
        case .md: text = MarkdownExport.render(report)
        case .html: text = HTMLExport.render(report)
        }
        try write(text)
    }

    private func fromAPI() async throws {
        var query = "format=\(format.rawValue)"
        if let from { query += "&from=\(from.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? from)" }
        if let to { query += "&to=\(to.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? to)" }
        let answer = try await api.client().call("GET", "/api/database/export?\(query)")
        try write(answer.text)
    }

    private func write(_ text: String) throws {
        if let out {
            do {
                try text.write(toFile: out, atomically: true, encoding: .utf8)
            } catch {
                printError("cannot write \(out): \(error.localizedDescription)")
                throw ExitCode(1)
            }
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }

    static let dateHelp = "expected an ISO 8601 date in UTC, e.g. 2025-06-15 or 2025-06-15T12:00:00Z"

    static func parseDate(_ text: String) -> Date? {
        let utc = TimeZone(identifier: "UTC")!
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: utc).parse(text) {
            return date
        }
        if let date = try? Date.ISO8601FormatStyle(timeZone: utc).parse(text) { return date }
        return try? Date.ISO8601FormatStyle(timeZone: utc).year().month().day().parse(text)
    }
}
