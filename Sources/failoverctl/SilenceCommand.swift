import ArgumentParser
import Foundation

/// `failoverctl silence add|list|remove`: runtime silences through the admin API.
struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence",
        abstract: "Add, list and remove runtime silences (stored by failoverd; they survive a restart).",
        subcommands: [SilenceAddCommand.self, SilenceListCommand.self, SilenceRemoveCommand.self],
        defaultSubcommand: SilenceListCommand.self)
}

struct SilenceAddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Silence alerts whose labels match, until an instant or for a duration.",
        discussion: """
            Labels: type, severity, cluster, region, endpoint, dedup_key. Repeat --match for several labels \
            (all must hold); separate values with commas for alternatives, e.g. \
            --match region=ap-south --match severity=low,medium --duration 2h --comment "maintenance".
            """)

    @OptionGroup var api: APIOptions
    @Option(name: .customLong("match"), help: ArgumentHelp("LABEL=VALUE[,VALUE...]", valueName: "label=values"))
    var matches: [String] = []
    @Option(help: "How long from now, e.g. 30m or 2h.") var duration: String?
    @Option(help: "End instant, ISO 8601, e.g. 2026-01-31T18:00:00Z.") var until: String?
    @Option(help: "Why (required).") var comment: String
    @Flag(help: "Print the API's JSON.") var json = false

    func validate() throws {
        guard !matches.isEmpty else { throw ValidationError("give at least one --match LABEL=VALUE") }
        guard (duration == nil) != (until == nil) else {
            throw ValidationError("give exactly one of --duration or --until")
        }
        _ = try matchers()
    }

    func matchers() throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for match in matches {
            let parts = match.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw ValidationError("--match \(match): write LABEL=VALUE, e.g. region=ap-south")
            }
            result[parts[0], default: []] += parts[1].split(separator: ",").map(String.init)
        }
        return result
    }

    func run() async throws {
        var body: [String: Any] = ["matchers": try matchers(), "comment": comment]
        if let duration { body["duration"] = duration }
        if let until { body["endsAt"] = until }
        let answer = try await api.client().call("POST", "/api/alerts/silences", json: body)
        if json { return printJSON(answer.body) }
        let silence = answer.object
        print(
            "silence \(silence["id"] as? Int ?? 0) added until \(silence["endsAt"] as? String ?? "?"): "
                + describe(silence["matchers"]))
    }
}

struct SilenceListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "Show runtime silences that have not ended, with their ids.")

    @OptionGroup var api: APIOptions
    @Flag(help: "Print the API's JSON instead of the table.") var json = false

    func run() async throws {
        let answer = try await api.client().call("GET", "/api/alerts/silences")
        if json { return printJSON(answer.body) }
        let rows = answer.array.map { silence -> [String] in
            [
                "\(silence["id"] as? Int ?? 0)", describe(silence["matchers"]), silence["endsAt"] as? String ?? "",
                silence["createdBy"] as? String ?? "", silence["comment"] as? String ?? "",
            ]
        }
        if rows.isEmpty { return print("no runtime silences") }
        print(table(["Id", "Matchers", "Ends", "By", "Comment"], rows))
    }
}

struct SilenceRemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove a runtime silence by id; matching alerts are sent again.")

    @OptionGroup var api: APIOptions
    @Argument(help: "The silence id (see failoverctl silence list).") var id: Int
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the API's JSON.") var json = false

    func run() async throws {
        try confirm("Remove silence \(id)? Alerts it mutes are sent again.", yes: yes)
        let answer = try await api.client().call("DELETE", "/api/alerts/silences/\(id)")
        if json { return printJSON(answer.body) }
        print("silence \(id) removed")
    }
}

/// `region=ap-south severity=low,medium`.
private func describe(_ matchers: Any?) -> String {
    let object = matchers as? [String: [String]] ?? [:]
    return object.keys.sorted().map { "\($0)=\(object[$0, default: []].joined(separator: ","))" }.joined(separator: " ")
}
