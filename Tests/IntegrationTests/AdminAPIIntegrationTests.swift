import AdminAPI
import Failover
import Foundation
import Health
import Logging
import Proxy
import StateStore
import Synchronization
import Testing
import Topology

/// Every log line of the API, for the check that none holds a secret.
struct CapturingLogHandler: LogHandler {
    static let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        Self.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }
}

/// The admin API in this process on a free port, over the control plane of a real lab.
@Suite(.serialized) struct AdminAPIIntegrationTests {
    static let operatorToken = "op-" + String(repeating: "7", count: 40)
    static let viewerToken = "view-" + String(repeating: "3", count: 40)
    static let labPassword = "failover-lab"

    static func withAPI<T: Sendable>(
        _ fixture: FailoverFixture, metricsAuth: Bool = false, proxy: ProxyService? = nil,
        _ body: (APIClient) async throws -> T
    ) async throws -> T {
        let settings = APISettings(
            host: "127.0.0.1", port: 0,
            tokens: [
                APIToken(name: "oncall", role: .operator, token: Secret(operatorToken)),
                APIToken(name: "grafana", role: .viewer, token: Secret(viewerToken)),
            ], metricsAuth: metricsAuth)
        let port = Mutex<Int?>(nil)
        var logger = Logger(label: "test.api") { _ in CapturingLogHandler() }
        logger.logLevel = .trace
        let api = AdminAPI(
            settings: settings,
            dependencies: .init(service: fixture.service, monitor: fixture.monitor, store: fixture.store, proxy: proxy),
            logger: logger, onListening: { bound in port.withLock { $0 = bound } })
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await api.run() }
            defer { group.cancelAll() }
            try await fixture.waitFor("the API to listen", timeout: .seconds(10)) { port.withLock { $0 } != nil }
            let client = APIClient(base: "http://127.0.0.1:\(port.withLock { $0 }!)")
            return try await body(client)
        }
    }

    /// Nothing the API says may contain a token or the database password.
    static func expectNoSecret(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in [operatorToken, viewerToken, labPassword] {
            #expect(!text.contains(secret), "a response contains a secret", sourceLocation: sourceLocation)
        }
    }

    @Test(.timeLimit(.minutes(5))) func routesAuthAuditAndAManualFailoverOnALab() async throws {
        try await FailoverFixture.run { fixture in
            try await Self.withAPI(fixture) { client in
                // The daemon's own probes: open.
                #expect(try await client.get("/healthz").status == 200)
                try await fixture.waitFor("readiness", timeout: .seconds(10)) {
                    try await client.get("/readyz").status == 200
                }
                let document = try await client.get("/openapi.json")
                #expect(document.status == 200)
                #expect(document.object["openapi"] as? String == "3.1.0")

                // Every read with a viewer token; none without.
                for path in [
                    "/api/database/status", "/api/database/health", "/api/database/alerts?limit=5",
                    "/api/database/metrics?endpoint=us-east-2&limit=5", "/api/database/failover-history",
                    "/api/database/performance", "/api/database/export?format=json", "/api/database/export?format=csv",
                    "/failover/status", "/failover/metrics", "/failover/health", "/failover/history?limit=3",
                    "/api/audit",
                ] {
                    let answer = try await client.get(path, token: Self.viewerToken)
                    #expect(answer.status == 200, "\(path): \(answer.status) \(answer.text)")
                    Self.expectNoSecret(answer.text)
                    let refused = try await client.get(path)
                    #expect(refused.status == 401, "\(path) without a token")
                    #expect(refused.object["error"] as? String == "unauthorized")
                    #expect(try await client.get(path, token: "wrong-token-of-some-length").status == 401)
                }
                let status = try await client.get("/api/database/status", token: Self.viewerToken).object
                #expect(status["cluster"] as? String == "test")
                #expect(status["primary"] as? String == "us-east-1")
                let endpoints = status["endpoints"] as? [[String: Any]] ?? []
                #expect(Set(endpoints.compactMap { $0["name"] as? String }) == Set(FailoverFixture.names))
                #expect((status["router"] as? [String: Any])?["writeTarget"] as? String == "us-east-1")

                // Metrics: open by default, with the names of docs/metrics.md.
                let metrics = try await client.get("/metrics")
                #expect(metrics.status == 200)
                for name in [
                    "failover_state", "failover_total", "failover_primary_healthy", "failover_standby_healthy",
                    "failover_endpoint_up", "failover_probe_latency_seconds", "failover_replication_lag_bytes",
                    "failover_health_check_failures_total",
                ] {
                    #expect(metrics.text.contains(name), "metric \(name) missing")
                }

                // The auth matrix on every mutating route: 401 without a token, 403 for a viewer.
                let auditBefore = try await fixture.store.audit(limit: 1000).count
                let mutations = AdminAPI.routeTable.filter { !$0.hasPrefix("GET ") }
                for route in mutations {
                    let parts = route.split(separator: " ", maxSplits: 1)
                    let path = parts[1].replacingOccurrences(of: "{region}", with: "eu-west")
                        .replacingOccurrences(of: "{endpoint}", with: "us-east-2").replacingOccurrences(
                            of: "{id}", with: "1")
                    let anonymous = try await client.send(String(parts[0]), path)
                    #expect(anonymous.status == 401, "\(route) without a token: \(anonymous.status)")
                    let viewer = try await client.send(String(parts[0]), path, token: Self.viewerToken)
                    #expect(viewer.status == 403, "\(route) with a viewer token: \(viewer.status)")
                    #expect(viewer.object["field"] as? String == "authorization")
                }
                let refusedRows = try await fixture.store.audit(limit: 1000)
                #expect(refusedRows.count - auditBefore == mutations.count * 2)
                #expect(refusedRows.contains { $0.kind == "anonymous" && $0.label == "POST /api/pause" })
                #expect(refusedRows.contains { $0.kind == "grafana" && $0.label == "POST /api/pause" })

                // Operator mutations that change nothing for good.
                #expect(try await client.post("/api/pause", token: Self.operatorToken).status == 200)
                #expect(await fixture.service.status().automaticFailoverPaused)
                #expect(try await client.post("/api/resume", token: Self.operatorToken).status == 200)
                #expect(await !fixture.service.status().automaticFailoverPaused)
                let probed = try await client.post("/api/database/health-check", token: Self.operatorToken)
                #expect(probed.status == 200)
                #expect((probed.object["endpoints"] as? [Any])?.count == FailoverFixture.names.count)
                let plan = try await client.post(
                    "/api/database/failover/eu-west?dry_run=true", token: Self.operatorToken)
                #expect(plan.status == 200, "\(plan.text)")
                #expect(plan.object["candidate"] as? String == "eu-west-1")
                let refreshed = try await client.post("/api/database/connections/refresh", token: Self.operatorToken)
                #expect(refreshed.status == 200, "\(refreshed.text)")
                #expect(refreshed.object["proxyRunning"] as? Bool == false)
                let explained = try await client.post(
                    "/api/database/analyze-query", token: Self.operatorToken, json: #"{"sql": "select 1"}"#)
                #expect(explained.status == 200, "\(explained.text)")
                #expect((explained.object["plan"] as? String)?.contains("Result") == true)
                // Planned as a role without superuser: a superuser-only function is refused, and
                // the answer is generic (a SQLSTATE, not the server's message).
                let privileged = try await client.post(
                    "/api/database/analyze-query", token: Self.operatorToken,
                    json: #"{"sql": "select pg_read_file('postgresql.conf')"}"#)
                #expect(privileged.status == 400, "\(privileged.text)")
                #expect(privileged.text.contains("could not be explained (SQLSTATE 42501)"), "\(privileged.text)")
                #expect(!privileged.text.contains("permission denied"), "\(privileged.text)")

                // Bad input: 400 naming the field; unknown routes: 404; always the JSON error shape.
                let bad: [(String, String, String?, String)] = [
                    ("GET", "/api/database/alerts?limit=abc", nil, "limit"),
                    ("GET", "/api/database/failover-history?limit=0", nil, "limit"),
                    ("GET", "/api/database/metrics?endpoint=nowhere", nil, "endpoint"),
                    ("GET", "/api/database/export?format=pdf", nil, "format"),
                    ("GET", "/api/database/export?from=yesterday", nil, "from"),
                    ("POST", "/api/database/failover/nowhere", nil, "region"),
                    ("POST", "/api/database/failover/eu-west?dry_run=perhaps", nil, "dry_run"),
                    ("POST", "/api/rejoin/nowhere", nil, "endpoint"),
                    ("POST", "/api/switchover", "{not json", "body"),
                    ("POST", "/api/switchover", #"{"region": 5}"#, "region"),
                    ("POST", "/api/switchover", #"{"regoin": "eu-west"}"#, "regoin"),
                    ("POST", "/api/switchover", "{}", "region"),
                    ("POST", "/failover/trigger", #"{"region": "nowhere"}"#, "region"),
                    ("POST", "/api/database/analyze-query", #"{"sql": "delete from t"}"#, "sql"),
                    ("POST", "/api/database/analyze-query", #"{"sql": "select 1; select 2"}"#, "sql"),
                    ("POST", "/api/database/analyze-query", "{}", "sql"),
                    (
                        "POST", "/api/switchover",
                        "{\"region\": \"" + String(repeating: "x", count: AdminAPI.maximumBodySize) + "\"}", "body"
                    ),
                ]
                for (method, path, body, field) in bad {
                    let answer = try await client.send(
                        method, path, token: Self.operatorToken, body: body.map { Data($0.utf8) })
                    #expect(answer.status == 400, "\(method) \(path): \(answer.status) \(answer.text)")
                    #expect(answer.object["field"] as? String == field, "\(method) \(path): \(answer.text)")
                    #expect(answer.object["reason"] is String)
                }
                let unknown = try await client.get("/api/nothing-here", token: Self.operatorToken)
                #expect(unknown.status == 404)
                #expect(unknown.object["error"] as? String == "not_found")

                // A manual failover through the API, end to end, then in the history.
                let failover = try await client.post("/api/database/failover/eu-west", token: Self.operatorToken)
                #expect(failover.status == 200, "\(failover.text)")
                #expect(failover.object["newPrimary"] as? String == "eu-west-1")
                #expect(failover.object["status"] as? String == "completed")
                #expect(failover.object["requestedBy"] as? String == "oncall")
                let history = try await client.get("/api/database/failover-history?limit=5", token: Self.viewerToken)
                #expect(history.array.first?["id"] as? String == failover.object["id"] as? String)
                let after = try await client.get("/api/database/status", token: Self.viewerToken).object
                #expect(after["primary"] as? String == "eu-west-1")

                // Audit rows: who, what, the result; never a token.
                let audit = try await client.get("/api/audit?limit=200", token: Self.viewerToken)
                let rows = audit.array
                let failoverRow = rows.first { $0["action"] as? String == "POST /api/database/failover/{region}" }
                #expect(failoverRow?["actor"] as? String == "oncall")
                let detail = failoverRow?["detail"] as? [String: Any]
                #expect(detail?["result"] as? String == "ok")
                #expect((detail?["parameters"] as? [String: String])?["region"] == "eu-west")
                Self.expectNoSecret(audit.text)
                for row in try await fixture.store.audit(limit: 1000) {
                    Self.expectNoSecret(String(decoding: row.payload, as: UTF8.self) + row.kind + row.label)
                }
                let logged = CapturingLogHandler.lines.withLock { $0 }
                #expect(logged.contains { $0.contains("admin API mutation") })
                Self.expectNoSecret(logged.joined(separator: "\n"))
                let finalMetrics = try await client.get("/metrics")
                #expect(finalMetrics.text.contains(#"failover_total{kind="manual_failover"} 1"#))
                Self.expectNoSecret(finalMetrics.text)
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func metricsAuthAndTheProxyRoutes() async throws {
        try await FailoverFixture.run { fixture in
            var topology = fixture.topology
            topology.routing = RoutingSettings(
                enabled: true, listenReadWrite: ListenAddress(host: "127.0.0.1", port: 0),
                listenReadOnly: ListenAddress(host: "127.0.0.1", port: 0))
            var logger = Logger(label: "test.proxy")
            logger.logLevel = .warning
            let monitor = fixture.monitor
            let proxy = ProxyService(
                topology: topology, snapshot: { monitor.latest },
                routingUpdates: fixture.service.routingUpdates(), logger: logger)
            let proxyTask = Task { try await proxy.run() }
            defer { proxyTask.cancel() }
            #expect(await proxy.listeningAddresses(timeout: .seconds(10)) != nil)
            try await Self.withAPI(fixture, metricsAuth: true, proxy: proxy) { client in
                let connections = try await client.get("/api/database/connections", token: Self.viewerToken)
                #expect(connections.status == 200, "\(connections.text)")
                #expect(connections.object["pools"] is [Any])
                let reset = try await client.post(
                    "/api/circuit-breakers/reset", token: Self.operatorToken, json: #"{"endpoint": "us-east-2"}"#)
                #expect(reset.status == 200, "\(reset.text)")
                let unknown = try await client.post(
                    "/api/circuit-breakers/reset", token: Self.operatorToken, json: #"{"endpoint": "nowhere"}"#)
                #expect(unknown.status == 400)
                #expect(unknown.object["field"] as? String == "endpoint")
                let scraped = try await client.get("/metrics", token: Self.viewerToken)
                #expect(scraped.text.contains("failover_endpoint_breaker_state"))
                let anonymous = try await client.get("/metrics")
                let viewer = try await client.get("/metrics", token: Self.viewerToken)
                let health = try await client.get("/healthz")
                #expect(anonymous.status == 401)
                #expect(viewer.status == 200)
                #expect(health.status == 200)
            }
        }
    }
}

/// `failoverctl` against the admin API of a lab: tables, JSON, prompts and exit statuses.
@Suite(.serialized) struct FailoverctlOverHTTPTests {
    struct Run {
        var status: Int32
        var output: String
        var errors: String
    }

    /// Runs the built `failoverctl` with no terminal on standard input; killed after 60 s.
    static func failoverctl(_ arguments: [String], url: String, token: String?) async throws -> Run {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("failoverctl")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("no failoverctl next to the test bundle at \(binary.path); run swift build --build-tests")
            throw CancellationError()
        }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["FAILOVER_API_URL"] = url
        environment["FAILOVER_API_TOKEN"] = token
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(60)
        while process.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning {
            process.terminate()
            Issue.record("failoverctl \(arguments) did not finish within 60 s")
        }
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            output: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            errors: String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }

    @Test(.timeLimit(.minutes(5))) func commandsTablesJSONAndExitStatuses() async throws {
        try await FailoverFixture.run { fixture in
            try await AdminAPIIntegrationTests.withAPI(fixture) { client in
                let url = client.base
                let viewer = AdminAPIIntegrationTests.viewerToken
                let ops = AdminAPIIntegrationTests.operatorToken

                let list = try await Self.failoverctl(["list"], url: url, token: viewer)
                #expect(list.status == 0, "\(list.errors)")
                #expect(list.output.contains("| Region"))
                #expect(list.output.contains("us-east-1"))
                #expect(list.output.contains("Leader"))
                let json = try await Self.failoverctl(["status", "--json"], url: url, token: viewer)
                #expect(json.status == 0)
                let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
                #expect(object?["primary"] as? String == "us-east-1")

                let anonymous = try await Self.failoverctl(["status"], url: url, token: nil)
                #expect(anonymous.status == 3)
                #expect(anonymous.errors.contains("unauthorized"))
                let viewerPause = try await Self.failoverctl(["pause", "--yes"], url: url, token: viewer)
                #expect(viewerPause.status == 3)
                let unprompted = try await Self.failoverctl(["failover", "--region", "eu-west"], url: url, token: ops)
                #expect(unprompted.status == 2)
                #expect(unprompted.errors.contains("--yes"))
                let unknown = try await Self.failoverctl(
                    ["failover", "--region", "nowhere", "--yes"], url: url, token: ops)
                #expect(unknown.status == 2)
                #expect(unknown.errors.contains("region"))
                let unreachable = try await Self.failoverctl(["status"], url: "http://127.0.0.1:1", token: viewer)
                #expect(unreachable.status == 5)

                let plan = try await Self.failoverctl(
                    ["failover", "--region", "eu-west", "--dry-run"], url: url, token: ops)
                #expect(plan.status == 0, "\(plan.errors)")
                #expect(plan.output.contains("Would promote: eu-west-1"))
                #expect(try await Self.failoverctl(["pause", "--yes"], url: url, token: ops).status == 0)
                #expect(await fixture.service.status().automaticFailoverPaused)
                #expect(try await Self.failoverctl(["resume"], url: url, token: ops).status == 0)

                let failover = try await Self.failoverctl(
                    ["failover", "--region", "eu-west", "--yes"], url: url, token: ops)
                #expect(failover.status == 0, "\(failover.errors)")
                #expect(failover.output.contains("completed"))
                let history = try await Self.failoverctl(["history"], url: url, token: viewer)
                #expect(history.output.contains("manual_failover"))
                let report = try await Self.failoverctl(["report", "--format", "csv"], url: url, token: viewer)
                #expect(report.status == 0, "\(report.errors)")
                let alerts = try await Self.failoverctl(["alerts", "--json"], url: url, token: viewer)
                #expect(alerts.status == 0, "\(alerts.errors)")
                let silenced = try await Self.failoverctl(
                    [
                        "silence", "add", "--match", "region=eu-west", "--match", "severity=high,critical",
                        "--duration", "2h", "--comment", "maintenance", "--json",
                    ], url: url, token: ops)
                #expect(silenced.status == 0, "\(silenced.errors)")
                let silence = try JSONSerialization.jsonObject(with: Data(silenced.output.utf8)) as? [String: Any]
                let silenceID = try #require(silence?["id"] as? Int)
                let silences = try await Self.failoverctl(["silence", "list"], url: url, token: viewer)
                #expect(silences.status == 0, "\(silences.errors)")
                #expect(silences.output.contains("region=eu-west severity=critical,high"))
                let badSilence = try await Self.failoverctl(
                    ["silence", "add", "--match", "regoin=eu-west", "--duration", "1h", "--comment", "x"], url: url,
                    token: ops)
                #expect(badSilence.status == 2)
                #expect(badSilence.errors.contains("matchers.regoin"))
                let unconfirmed = try await Self.failoverctl(
                    ["silence", "remove", "\(silenceID)"], url: url, token: ops)
                #expect(unconfirmed.status == 2)
                let unsilenced = try await Self.failoverctl(
                    ["silence", "remove", "\(silenceID)", "--yes"], url: url, token: ops)
                #expect(unsilenced.status == 0, "\(unsilenced.errors)")
                let gone = try await Self.failoverctl(
                    ["silence", "remove", "\(silenceID)", "--yes"], url: url, token: ops)
                #expect(gone.status == 2)
                let reload = try await Self.failoverctl(["reload"], url: url, token: ops)
                #expect(reload.status == 6, "no reload configured in this test: not available")
                for run in [list, json, anonymous, plan, failover, history, report, alerts] {
                    AdminAPIIntegrationTests.expectNoSecret(run.output + run.errors)
                }
            }
        }
    }
}
