import Failover
import Foundation
import Lab
import Logging
import Postgres
import Proxy
import Synchronization
import Testing
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// `failoverd proxy` as its own process, following a real `failoverd` process over
/// `GET /api/routing/watch`, on a real lab; both processes started and stopped by PID.
@Suite(.serialized) struct ProxyProcessTests {
    static let viewerToken = "proxy-view-" + String(repeating: "5", count: 32)
    static let operatorToken = "proxy-op-" + String(repeating: "9", count: 32)

    /// Processes a test started; each is stopped by its PID at the end, whatever happens.
    final class Processes: Sendable {
        private let started = Mutex<[Process]>([])

        /// `.build/debug/failoverd` with `arguments`; output appended to `log`.
        func start(_ arguments: [String], log: String, environment: [String: String]) throws -> Process {
            let path = DaemonRecoveryTests.daemonPath
            guard FileManager.default.isExecutableFile(atPath: path) else {
                Issue.record("\(path) is missing: build it with `swift build --build-tests`")
                throw CancellationError()
            }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            if !FileManager.default.fileExists(atPath: log) {
                _ = FileManager.default.createFile(atPath: log, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            try handle.seekToEnd()
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            started.withLock { $0.append(process) }
            return process
        }

        func stopAll() {
            for process in started.withLock({ $0 }) { DaemonRecoveryTests.stop(process) }
        }
    }

    static func query(_ port: Int, _ sql: String, lab: LabCluster) async throws -> PostgresRow? {
        let connection = try await PostgresConnection.connect(
            PostgresConfiguration(
                host: "127.0.0.1", port: port, user: lab.user, password: lab.password, sslMode: "disable",
                applicationName: "proxy-process-test"),
            timeout: .seconds(10))
        defer { connection.close() }
        return try await connection.query(sql, timeout: .seconds(10)).first
    }

    /// The watch route read by the follower in this process: 401 with a wrong token (said without
    /// the token), the current table first, heartbeats, and a prompt stop.
    @Test(.timeLimit(.minutes(2)))
    func watchRouteFeedsAFollower() async throws {
        try await FailoverFixture.run { fixture in
            try await AdminAPIIntegrationTests.withAPI(fixture) { client in
                let logger = Logger(label: "test.follower")
                let wrongToken = "wrong-" + String(repeating: "4", count: 32)
                let refused = RoutingFollower(control: client.base, token: wrongToken, logger: logger)
                let refusedTask = Task { try await refused.run() }
                try await fixture.waitFor("the follower to be refused", timeout: .seconds(10)) {
                    refused.status().lastError?.contains("401") == true
                }
                refusedTask.cancel()
                try? await refusedTask.value
                #expect(refused.status().stale && !refused.status().connected)
                #expect(!"\(refused.status())".contains(wrongToken))

                var options = RoutingFollower.Options()
                options.heartbeat = .seconds(1)
                let follower = RoutingFollower(
                    control: client.base + "/", token: AdminAPIIntegrationTests.viewerToken, options: options,
                    logger: logger)
                let received = Mutex<[RoutingTable]>([])
                let stopped = Mutex(false)
                let collector = Task {
                    for await table in follower.tables { received.withLock { $0.append(table) } }
                }
                let task = Task {
                    try? await follower.run()
                    stopped.withLock { $0 = true }
                }
                defer {
                    task.cancel()
                    collector.cancel()
                }
                try await fixture.waitFor("the current table", timeout: .seconds(10)) {
                    received.withLock { $0.first?.writeTarget == "us-east-1" }
                }
                #expect(received.withLock { $0.first } == fixture.service.routing)
                let heard = try #require(follower.status().lastHeardAt)
                try await fixture.waitFor("a heartbeat", timeout: .seconds(5)) {
                    (follower.status().lastHeardAt ?? heard) > heard
                }
                let status = follower.status()
                #expect(status.connected && !status.stale && status.connects == 1 && status.lastError == nil)
                #expect(status.epoch == fixture.service.routing.epoch)
                task.cancel()
                try await fixture.waitFor("the follower to stop", timeout: .seconds(5)) { stopped.withLock { $0 } }
            }
        }
    }

    @Test(.timeLimit(.minutes(4)))
    func separateProxyKeepsRoutingWhileTheDaemonIsGoneAndFollowsItsReturn() async throws {
        try await FailoverFixture.run(synchronous: false, startControlPlane: false) { fixture in
            let lab = fixture.lab
            let directory = lab.baseDirectory + "/proxy-process"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let free = try LabCluster.freePorts(4)
            let (readWritePort, readOnlyPort, apiPort, statusPort) = (free[0], free[1], free[2], free[3])
            let ports = Dictionary(uniqueKeysWithValues: lab.nodes.map { ($0.name, $0.port) })
            let config = directory + "/cluster.yaml"
            // One file for both: the daemon does not run the proxy itself (enabled: false).
            let yaml =
                FailoverFixture.topologyYAML(ports: ports, synchronous: false) + """

                    routing:
                      enabled: false
                      listen_rw: "127.0.0.1:\(readWritePort)"
                      listen_ro: "127.0.0.1:\(readOnlyPort)"
                      hold_timeout: 10s
                    api:
                      listen: "127.0.0.1:\(apiPort)"
                      tokens:
                        - { name: proxy, role: viewer, token: "${PROXY_TEST_VIEWER_TOKEN}" }
                        - { name: oncall, role: operator, token: "${PROXY_TEST_OPERATOR_TOKEN}" }

                    """
            try yaml.write(toFile: config, atomically: true, encoding: .utf8)
            let environment = [
                "PROXY_TEST_VIEWER_TOKEN": Self.viewerToken, "PROXY_TEST_OPERATOR_TOKEN": Self.operatorToken,
            ]
            let state = directory + "/state.sqlite"
            let daemonLog = directory + "/failoverd.log"
            let proxyLog = directory + "/proxy.log"
            let daemonArguments = ["--config", config, "--state", state, "--log-level", "info"]

            let processes = Processes()
            defer {
                processes.stopAll()
                if ProcessInfo.processInfo.environment["PROXY_TEST_DUMP"] != nil {
                    for log in [daemonLog, proxyLog] {
                        print((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")
                    }
                }
            }
            let api = APIClient(base: "http://127.0.0.1:\(apiPort)")
            let statusClient = APIClient(base: "http://127.0.0.1:\(statusPort)")
            /// `(control, proxy)` of the proxy's `GET /status`, or empty objects while it does not answer.
            func proxyStatus() async -> (control: [String: Any], proxy: [String: Any]) {
                let object = (try? await statusClient.get("/status"))?.object ?? [:]
                return (object["control"] as? [String: Any] ?? [:], object["proxy"] as? [String: Any] ?? [:])
            }

            let daemon = try processes.start(daemonArguments, log: daemonLog, environment: environment)
            try await fixture.waitFor("the daemon to adopt us-east-1", timeout: .seconds(30)) {
                let status = try? await api.get("/api/database/status", token: Self.viewerToken)
                return status?.object["primary"] as? String == "us-east-1"
            }
            _ = try processes.start(
                [
                    "proxy", "--config", config, "--control", "http://127.0.0.1:\(apiPort)", "--token-env",
                    "PROXY_TEST_VIEWER_TOKEN", "--status-listen", "127.0.0.1:\(statusPort)", "--status-interval", "1",
                    "--log-level", "info",
                ], log: proxyLog, environment: environment)
            try await fixture.waitFor("the proxy to follow the daemon", timeout: .seconds(30)) {
                let status = await proxyStatus()
                return status.control["connected"] as? Bool == true
                    && status.proxy["writeTarget"] as? String == "us-east-1"
            }

            // Through the proxy: writes reach the primary, reads a replica.
            let primaryPort = Int64(ports["us-east-1"]!)
            let writer = try await PostgresConnection.connect(
                PostgresConfiguration(
                    host: "127.0.0.1", port: readWritePort, user: lab.user, password: lab.password,
                    sslMode: "disable", applicationName: "proxy-process-test"),
                timeout: .seconds(10))
            defer { writer.close() }
            #expect(
                try await writer.query("select inet_server_port() as port", timeout: .seconds(5)).first?.int("port")
                    == primaryPort)
            _ = try await writer.query("create table through_proxy (id int)", timeout: .seconds(5))
            _ = try await writer.query("insert into through_proxy values (1)", timeout: .seconds(5))
            try await fixture.waitFor("a read through the proxy on a replica", timeout: .seconds(20)) {
                (try? await Self.query(readOnlyPort, "select pg_is_in_recovery() as r", lab: lab))?.bool("r") == true
            }
            let epochBefore = try #require(await proxyStatus().proxy["epoch"] as? Int)

            // The control plane dies: the proxy says its table is stale and keeps routing with it.
            kill(daemon.processIdentifier, SIGKILL)
            try await fixture.waitFor("the daemon to die", timeout: .seconds(10)) { !daemon.isRunning }
            try await fixture.waitFor("the proxy to report a stale table", timeout: .seconds(20)) {
                await proxyStatus().control["stale"] as? Bool == true
            }
            #expect(await proxyStatus().proxy["writeTarget"] as? String == "us-east-1")
            _ = try await writer.query("insert into through_proxy values (2)", timeout: .seconds(5))
            let newWrite = try await Self.query(
                readWritePort, "insert into through_proxy values (3) returning inet_server_port() as port", lab: lab)
            #expect(newWrite?.int("port") == primaryPort)
            let newRead = try await Self.query(readOnlyPort, "select pg_is_in_recovery() as r", lab: lab)
            #expect(newRead?.bool("r") == true)

            // A restarted daemon is followed again: its tables are newer, and a failover it makes moves writes.
            _ = try processes.start(daemonArguments, log: daemonLog, environment: environment)
            try await fixture.waitFor("the proxy to follow the restarted daemon", timeout: .seconds(30)) {
                let status = await proxyStatus()
                return status.control["stale"] as? Bool == false && (status.proxy["epoch"] as? Int ?? 0) > epochBefore
            }
            let failover = try await api.post("/api/database/failover/eu-west", token: Self.operatorToken)
            #expect(failover.status == 200, "\(failover.text)")
            #expect(failover.object["newPrimary"] as? String == "eu-west-1")
            try await fixture.waitFor("the proxy to route writes to eu-west-1", timeout: .seconds(20)) {
                await proxyStatus().proxy["writeTarget"] as? String == "eu-west-1"
            }
            let afterFailover = try await Self.query(
                readWritePort,
                "insert into through_proxy values (4) returning inet_server_port() as port, pg_is_in_recovery() as r",
                lab: lab)
            #expect(afterFailover?.int("port") == Int64(ports["eu-west-1"]!))
            #expect(afterFailover?.bool("r") == false)

            try await fixture.waitFor("a status line in the proxy's log", timeout: .seconds(5)) {
                ((try? String(contentsOfFile: proxyLog, encoding: .utf8)) ?? "").contains("proxy status")
            }
            processes.stopAll()
            // Tokens never reach a log.
            let logs = [daemonLog, proxyLog].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            #expect(logs.count == 2)
            for text in logs {
                #expect(!text.contains(Self.viewerToken) && !text.contains(Self.operatorToken))
            }
            let proxyText = logs.last ?? ""
            #expect(proxyText.contains("control plane unreachable; routing with the last table"))
            #expect(proxyText.contains("proxy status"))
        }
    }
}
