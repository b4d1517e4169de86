import ArgumentParser
import Foundation
import StateStore

/// `failoverctl alerts`: recent control-plane events from the daemon's API or, with `--state FILE`,
/// the alert delivery history kept in the state store.
struct AlertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Show alert deliveries, newest first, with each attempt (time, HTTP status, latency, error).",
        discussion: """
            Without --state, asks failoverd's API for its recent events (what alerting delivers). With --state, \
            reads the deliveries from the state store file directly. Neither shows webhook URLs or keys.
            """
    )

    @Option(name: .long, help: "The state store file of failoverd, e.g. /var/lib/failoverd/state.sqlite.")
    var state: String?

    @OptionGroup var api: APIOptions

    @Flag(help: "Print the API's JSON (without --state).") var json = false

    @Option(name: .long, help: "How many deliveries to show.")
    var limit: Int = 20

    @Flag(name: .long, help: "Show only deliveries that are not delivered yet (with --state).")
    var pending = false

    func validate() throws {
        if let state, !FileManager.default.fileExists(atPath: state) {
            throw ValidationError("no state store at \(state); pass failoverd's --state file")
        }
        guard limit > 0 else { throw ValidationError("--limit must be at least 1") }
        if pending && state == nil {
            throw ValidationError("--pending reads the outbox in the state store: give --state FILE")
        }
    }

    func run() async throws {
        guard let state else { return try await fromAPI() }
        let store = try StateStore(path: state)
        let deliveries =
            pending ? try await store.pendingAlertDeliveries() : try await store.alertDeliveries(limit: limit)
        if deliveries.isEmpty {
            print(pending ? "no pending alert deliveries" : "no alert deliveries")
            return
        }
        let time = Date.ISO8601FormatStyle()
        for delivery in deliveries {
            print(
                "#\(delivery.id) \(delivery.createdAt.formatted(time)) \(delivery.channel) \(delivery.status) "
                    + "attempts=\(delivery.attempts): \(delivery.summary)")
            for attempt in try await store.alertAttempts(deliveryID: delivery.id) {
                let status = attempt.httpStatus.map { "HTTP \($0)" } ?? "no answer"
                let latency = String(format: "%.1f ms", attempt.latencyMilliseconds)
                print(
                    "    \(attempt.at.formatted(time)) \(attempt.outcome) \(status) \(latency)"
                        + (attempt.error.map { ": \($0)" } ?? ""))
            }
        }
    }

    private func fromAPI() async throws {
        let answer = try await api.client().call("GET", "/api/database/alerts?limit=\(limit)")
        if json { return printJSON(answer.body) }
        let rows = answer.array.map { row -> [String] in
            let event = row["event"] as? [String: Any] ?? [:]
            return [
                row["at"] as? String ?? "", row["severity"] as? String ?? "", row["type"] as? String ?? "",
                event["endpoint"] as? String ?? "", event["summary"] as? String ?? "",
            ]
        }
        if rows.isEmpty { return print("no events") }
        print(table(["At", "Severity", "Event", "Endpoint", "Summary"], rows))
    }
}
