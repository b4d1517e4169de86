import ArgumentParser
import Foundation

/// `failoverctl status` (alias `list`): the cluster as a table.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show the cluster: state, primary, and every endpoint as a table.",
        aliases: ["list"])

    @OptionGroup var api: APIOptions
    @Flag(help: "Print the API's JSON instead of the table.") var json = false

    func run() async throws {
        let answer = try await api.client().call("GET", "/api/database/status")
        if json { return printJSON(answer.body) }
        let status = answer.object
        let paused = status["automaticFailoverPaused"] as? Bool == true ? " (automatic failover paused)" : ""
        print(
            "Cluster: \(status["cluster"] as? String ?? "?")  State: \(status["state"] as? String ?? "?")"
                + "  Primary: \(status["primary"] as? String ?? "none")\(paused)")
        let endpoints = status["endpoints"] as? [[String: Any]] ?? []
        let primary = status["primary"] as? String
        let rows = endpoints.map { endpoint -> [String] in
            let name = endpoint["name"] as? String ?? "?"
            let role = name == primary ? "Leader" : ((endpoint["role"] as? String) == "standby" ? "Replica" : "-")
            var state = endpoint["healthy"] as? Bool == true ? "running" : "down"
            if endpoint["fenced"] as? Bool == true { state += ", fenced" }
            let lag = (endpoint["lagBytes"] as? Int).map(formatBytes) ?? ""
            let latency = (endpoint["latencyMilliseconds"] as? Double).map { String(format: "%.1f ms", $0) } ?? ""
            return [endpoint["region"] as? String ?? "?", name, role, state, lag, latency]
        }
        print(table(["Region", "Endpoint", "Role", "State", "Lag", "Latency"], rows))
    }
}

func formatBytes(_ bytes: Int) -> String {
    bytes < 1024 ? "\(bytes) B" : bytes < 1_048_576 ? "\(bytes / 1024) kB" : "\(bytes / 1_048_576) MB"
}

/// `failoverctl history`: failovers and switchovers, newest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "history", abstract: "Show failovers and switchovers, newest first.")

    @OptionGroup var api: APIOptions
    @Flag(help: "Print the API's JSON instead of the table.") var json = false
    @Option(help: "How many to show (1-1000).") var limit = 20

    func run() async throws {
        let answer = try await api.client().call("GET", "/api/database/failover-history?limit=\(limit)")
        if json { return printJSON(answer.body) }
        let rows = answer.array.map { record -> [String] in
            [
                record["detectedAt"] as? String ?? "", record["kind"] as? String ?? "",
                record["status"] as? String ?? "", record["oldPrimary"] as? String ?? "",
                record["newPrimary"] as? String ?? "",
                (record["rtoSeconds"] as? Double).map { String(format: "%.1f s", $0) } ?? "",
                (record["rpoBytes"] as? Int).map(formatBytes) ?? "", record["requestedBy"] as? String ?? "",
            ]
        }
        if rows.isEmpty { return print("no failover or switchover yet") }
        print(table(["Detected", "Kind", "Status", "From", "To", "RTO", "RPO", "By"], rows))
    }
}

/// Prints an operation record's outcome; exits 1 unless it completed.
func reportOperation(_ answer: AdminClient.Answer, json: Bool) throws {
    if json { printJSON(answer.body) }
    let record = answer.object
    let status = record["status"] as? String ?? "?"
    if !json {
        print(
            "\(record["kind"] as? String ?? "operation") \(record["id"] as? String ?? ""): \(status), "
                + "\(record["oldPrimary"] as? String ?? "?") -> \(record["newPrimary"] as? String ?? "none")"
                + ((record["error"] as? String).map { " (\($0))" } ?? ""))
    }
    if status != "completed" { throw ExitCode(ExitStatus.failed) }
}

/// `failoverctl failover --region R [--dry-run]`.
struct FailoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Move the primary to a region's best standby now (--dry-run shows what would happen).")

    @OptionGroup var api: APIOptions
    @Option(help: "Region to move the primary to.") var region: String
    @Flag(help: "Show the plan (candidate, rejections, predicted loss) without acting.") var dryRun = false
    @Flag(help: "Ignore the lag limit: may lose data.") var force = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the API's JSON.") var json = false

    func run() async throws {
        let region = self.region.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? self.region
        if dryRun {
            let answer = try await api.client().call(
                "POST", "/api/database/failover/\(region)?dry_run=true&force=\(force)")
            if json { return printJSON(answer.body) }
            let plan = answer.object
            print("Would promote: \(plan["candidate"] as? String ?? "nobody")")
            for rejection in plan["rejected"] as? [[String: Any]] ?? [] {
                print("  not \(rejection["endpoint"] as? String ?? "?"): \(rejection["reason"] as? String ?? "")")
            }
            if let loss = plan["predictedLossBytes"] as? Int { print("Predicted loss: \(formatBytes(loss))") }
            return
        }
        try confirm(
            "Fail over the primary to region \(self.region)\(force ? " ignoring the lag limit" : "")?", yes: yes)
        try reportOperation(
            try await api.client().call("POST", "/api/database/failover/\(region)?force=\(force)"), json: json)
    }
}

/// `failoverctl switchover --region R | --endpoint E`.
struct SwitchoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "switchover", abstract: "Planned change of primary without data loss.")

    @OptionGroup var api: APIOptions
    @Option(help: "Region to move the primary to.") var region: String?
    @Option(help: "Endpoint to promote.") var endpoint: String?
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Flag(help: "Print the API's JSON.") var json = false

    func validate() throws {
        guard (region == nil) != (endpoint == nil) else {
            throw ValidationError("give exactly one of --region or --endpoint")
        }
    }

    func run() async throws {
        try confirm("Switch the primary over to \(region ?? endpoint ?? "")?", yes: yes)
        var body: [String: Any] = [:]
        if let region { body["region"] = region }
        if let endpoint { body["endpoint"] = endpoint }
        try reportOperation(try await api.client().call("POST", "/api/switchover", json: body), json: json)
    }
}

/// A command that POSTs to one route and prints its message.
protocol SimplePost: AsyncParsableCommand {
    var api: APIOptions { get }
    var json: Bool { get }
    var path: String { get }
    var question: String? { get }
    var yes: Bool { get }
}

extension SimplePost {
    func run() async throws {
        if let question { try confirm(question, yes: yes) }
        let answer = try await api.client().call("POST", path)
        if json { return printJSON(answer.body) }
        let object = answer.object
        print([object["status"] as? String, object["detail"] as? String].compactMap { $0 }.joined(separator: ": "))
    }
}

struct PauseCommand: SimplePost {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Pause automatic failover (maintenance); manual commands still work.")
    @OptionGroup var api: APIOptions
    @Flag(help: "Print the API's JSON.") var json = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    var path: String { "/api/pause" }
    var question: String? { "Pause automatic failover?" }
}

struct ResumeCommand: SimplePost {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume automatic failover.")
    @OptionGroup var api: APIOptions
    @Flag(help: "Print the API's JSON.") var json = false
    var yes: Bool { true }
    var path: String { "/api/resume" }
    var question: String? { nil }
}

struct RejoinCommand: SimplePost {
    static let configuration = CommandConfiguration(
        commandName: "rejoin",
        abstract: "Rejoin a fenced endpoint (an old primary) as a standby through failover.rejoin_command.")
    @OptionGroup var api: APIOptions
    @Argument(help: "The endpoint to rejoin.") var endpoint: String
    @Flag(help: "Print the API's JSON.") var json = false
    @Flag(help: "Do not ask for confirmation.") var yes = false
    var path: String {
        "/api/rejoin/\(endpoint.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? endpoint)"
    }
    var question: String? { "Rejoin \(endpoint) as a standby of the current primary (its diverged WAL is discarded)?" }
}

struct ReloadCommand: SimplePost {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Reload the cluster file (validated first; on error the running one stays).")
    @OptionGroup var api: APIOptions
    @Flag(help: "Print the API's JSON.") var json = false
    var yes: Bool { true }
    var path: String { "/api/reload" }
    var question: String? { nil }
}
