import ArgumentParser
import Foundation
import Postgres

/// `failover-chaos writer`: one client committing single-row inserts into `chaos(client, id)`,
/// started by the trial inside a region's namespace (`ip netns exec`), so it sees the network as an
/// application in that region does. Every acknowledged commit is appended at once to `--out` as
/// one JSON line `{"client", "id", "server", "at"}`: a line is written with one `write(2)` right
/// after the acknowledgement, so a writer stopped by a signal loses no line it had acknowledged.
struct WriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "writer", abstract: "Commit inserts and record each acknowledged one (used by the trials).")

    @Option(help: "Client name recorded with each write (unique per trial).")
    var client: String

    @Option(help: "Where the acknowledged writes go, one JSON line each.")
    var out: String

    @Option(
        name: .customLong("host"),
        help: "HOST:PORT to connect to; several: a multi-host connection with target_session_attrs=read-write.")
    var hosts: [String]

    @Option(help: "Seconds after which the writer stops by itself (a bound if nobody stops it).")
    var duration = 600

    @Option(help: "Milliseconds between two commits of one session (keeps a 2-core machine responsive).")
    var intervalMs = 20

    func run() async throws {
        guard FileManager.default.createFile(atPath: out, contents: nil),
            let file = FileHandle(forWritingAtPath: out)
        else { throw ChaosError("cannot create \(out)") }
        defer { try? file.close() }
        let configuration = try connectionConfiguration()
        let deadline = ContinuousClock.now + .seconds(duration)
        var next = 1
        while ContinuousClock.now < deadline {
            guard let connection = try? await PostgresConnection.connect(configuration, timeout: .seconds(5)) else {
                try await Task.sleep(for: .milliseconds(50))
                continue
            }
            while ContinuousClock.now < deadline {
                do {
                    // A hung or cut-off server never answers: a client gives up after 2 s, as
                    // applications do. The id is never reused, acknowledged or not.
                    let id = next
                    next += 1
                    let result = try await connection.query(
                        "insert into chaos (client, id) values ($1, $2) "
                            + "returning host(inet_server_addr()) as address, inet_server_port() as port",
                        [client, String(id)], timeout: .seconds(2))
                    let at = Date().timeIntervalSince1970
                    let server = "\(result.first?.string("address") ?? "?"):\(result.first?.string("port") ?? "?")"
                    let line = "{\"client\":\"\(client)\",\"id\":\(id),\"server\":\"\(server)\",\"at\":\(at)}\n"
                    file.write(Data(line.utf8))
                    try await Task.sleep(for: .milliseconds(intervalMs))
                } catch {
                    break
                }
            }
            connection.close()
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func connectionConfiguration() throws -> PostgresConfiguration {
        let endpoints = try hosts.map { text -> (host: String, port: Int) in
            guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]) else {
                throw ValidationError("--host \(text): write HOST:PORT")
            }
            return (String(text[..<colon]), port)
        }
        guard let first = endpoints.first else { throw ValidationError("give at least one --host") }
        var configuration = PostgresConfiguration(
            host: first.host, port: first.port, password: ProcessInfo.processInfo.environment["PGPASSWORD"],
            sslMode: "disable", applicationName: "chaos-\(client)", connectTimeout: .seconds(5))
        if endpoints.count > 1 {
            configuration.alternateHosts = Array(endpoints.dropFirst())
            configuration.targetSessionAttributes = "read-write"
            configuration.perHostConnectTimeoutSeconds = 1
        }
        return configuration
    }
}

/// One acknowledged write as a writer recorded it.
struct AcknowledgedWrite: Decodable, Sendable {
    var client: String
    var id: Int
    /// `address:port` of the server that acknowledged it (`inet_server_addr()`, `inet_server_port()`).
    var server: String
    /// Wall-clock seconds since 1970 when the acknowledgement arrived.
    var at: Double

    /// Every line of a writer's file; a torn last line (the writer was killed mid-write) is skipped.
    static func read(_ path: String) -> [AcknowledgedWrite] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        let decoder = JSONDecoder()
        return text.split(separator: "\n").compactMap { try? decoder.decode(Self.self, from: Data($0.utf8)) }
    }
}
