import ArgumentParser
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Options every command that talks to failoverd shares.
struct APIOptions: ParsableArguments {
    @Option(help: "The admin API of failoverd. Default: $FAILOVER_API_URL, else http://127.0.0.1:8008.")
    var url: String?

    @Option(
        help: ArgumentHelp(
            "Bearer token. Default: $FAILOVER_API_TOKEN. Prefer the variable: a flag shows in ps.",
            valueName: "token"))
    var token: String?

    @Option(help: "Seconds to wait for an answer (a failover can take a while).")
    var timeout: Double = 120

    var baseURL: String {
        (url ?? ProcessInfo.processInfo.environment["FAILOVER_API_URL"] ?? "http://127.0.0.1:8008")
            .trimmingCharacters(in: CharacterSet(charactersIn: "/"))
    }

    var bearer: String? { token ?? ProcessInfo.processInfo.environment["FAILOVER_API_TOKEN"] }

    func client() -> AdminClient { AdminClient(base: baseURL, token: bearer, timeout: timeout) }
}

/// Exit statuses scripts can rely on (docs/cli.md).
enum ExitStatus {
    /// The command worked.
    static let success: Int32 = 0
    /// The operation failed or was declined at the prompt.
    static let failed: Int32 = 1
    /// The command line or the request was wrong (HTTP 400).
    static let usage: Int32 = 2
    /// No token, an unknown token, or a viewer token on an operator command (HTTP 401, 403).
    static let unauthorized: Int32 = 3
    /// Another operation is running, failover is paused, or no standby qualifies (HTTP 409).
    static let conflict: Int32 = 4
    /// The daemon could not be reached.
    static let unreachable: Int32 = 5
    /// The daemon does not offer this (HTTP 503).
    static let notAvailable: Int32 = 6
}

/// A minimal client of the admin API.
struct AdminClient {
    let base: String
    let token: String?
    let timeout: Double

    struct Answer {
        var status: Int
        var body: Data
        var object: [String: Any] { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:] }
        var array: [[String: Any]] { (try? JSONSerialization.jsonObject(with: body)) as? [[String: Any]] ?? [] }
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    /// Sends the request; on an error status prints the API's reason and exits with its status.
    func call(_ method: String, _ path: String, json: [String: Any]? = nil) async throws -> Answer {
        guard let url = URL(string: base + path) else {
            printError("--url \(base) is not a URL; write e.g. http://127.0.0.1:8008")
            throw ExitCode(ExitStatus.usage)
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = timeout
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            printError("cannot reach failoverd at \(base): \(error.localizedDescription)")
            throw ExitCode(ExitStatus.unreachable)
        }
        let answer = Answer(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data)
        guard (200..<300).contains(answer.status) else {
            let object = answer.object
            let field = (object["field"] as? String).map { " (\($0))" } ?? ""
            printError(
                "error: \(object["error"] as? String ?? "HTTP \(answer.status)")\(field): "
                    + "\(object["reason"] as? String ?? answer.text)")
            throw ExitCode(Self.exitStatus(http: answer.status))
        }
        return answer
    }

    static func exitStatus(http status: Int) -> Int32 {
        switch status {
        case 400, 404: ExitStatus.usage
        case 401, 403: ExitStatus.unauthorized
        case 409: ExitStatus.conflict
        case 503: ExitStatus.notAvailable
        default: ExitStatus.failed
        }
    }
}

/// Asks before a destructive command unless `yes`; without a terminal, refuses and asks for --yes.
func confirm(_ question: String, yes: Bool) throws {
    if yes { return }
    guard isatty(STDIN_FILENO) == 1 else {
        printError("\(question) Not asked without a terminal: pass --yes to confirm.")
        throw ExitCode(ExitStatus.usage)
    }
    FileHandle.standardError.write(Data("\(question) [y/N] ".utf8))
    let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased()
    guard answer == "y" || answer == "yes" else {
        printError("aborted")
        throw ExitCode(ExitStatus.failed)
    }
}

/// Prints the raw JSON answer, pretty.
func printJSON(_ data: Data) {
    if let object = try? JSONSerialization.jsonObject(with: data),
        let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
    {
        print(String(decoding: pretty, as: UTF8.self))
    } else {
        print(String(decoding: data, as: UTF8.self))
    }
}

/// Left-aligned columns, like `patronictl list`.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    let line = "+" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "+") + "+"
    func render(_ row: [String]) -> String {
        "| "
            + row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }
            .joined(separator: " | ") + " |"
    }
    return ([line, render(header), line] + rows.map(render) + [line]).joined(separator: "\n")
}
