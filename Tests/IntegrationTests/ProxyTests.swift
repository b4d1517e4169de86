import Failover
import Foundation
import Health
import Lab
import Logging
import Postgres
import Proxy
import Routing
import Testing
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// The read/write proxy against a real lab primary and standby on 127.0.0.1, with the real health
/// monitor feeding it snapshots and the test publishing routing tables as the failover service does.
@Suite(.serialized) struct ProxyTests {
    static let logger = Logger(label: "proxy-tests")

    static func primaryAndStandby() throws -> [LabNodeSpec] {
        let ports = try LabCluster.freePorts(2)
        return [
            LabNodeSpec(name: "pg-primary", region: "us-east", port: ports[0], upstream: nil),
            LabNodeSpec(name: "pg-standby", region: "eu-west", port: ports[1], upstream: "pg-primary"),
        ]
    }

    static func table(_ epoch: UInt64, _ writeTarget: String?, paused: Bool = false, fenced: [String] = [])
        -> RoutingTable
    {
        var object: [String: Any] = ["epoch": epoch, "writesPaused": paused, "fenced": fenced]
        object["writeTarget"] = writeTarget
        let data = try! JSONSerialization.data(withJSONObject: object)
        return try! JSONDecoder().decode(RoutingTable.self, from: data)
    }

    /// A running proxy (ports chosen by the system), the monitor behind it, and the table feed.
    struct Harness {
        var proxy: ProxyService
        var monitor: HealthMonitor
        var tables: AsyncStream<RoutingTable>.Continuation
        var readWritePort: Int
        var readOnlyPort: Int
        var lab: LabCluster

        func connect(_ port: Int, timeout: Duration = .seconds(10)) async throws -> PostgresConnection {
            let configuration = PostgresConfiguration(
                host: "127.0.0.1", port: port, user: lab.user, password: lab.password, sslMode: "disable",
                applicationName: "proxy-test")
            // A replica whose last probe failed (one slow probe on a busy machine) is out of the
            // reader set until its next one: a reader retries, as an application would (bounded).
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                let outcome: Result<PostgresConnection, PostgresError>
                do throws(PostgresError) {
                    outcome = .success(try await PostgresConnection.connect(configuration, timeout: timeout))
                } catch {
                    outcome = .failure(error)
                }
                if case .failure(let error) = outcome, port == readOnlyPort, "\(error)".contains("57P03"),
                    ContinuousClock.now < deadline
                {
                    try await Task.sleep(for: .milliseconds(200))
                    continue
                }
                return try outcome.get()
            }
        }

        func serverPort(_ connection: PostgresConnection) async throws -> Int64? {
            try await connection.query("select inet_server_port() as port", timeout: .seconds(5)).first?.int("port")
        }

        func inRecovery(_ connection: PostgresConnection) async throws -> Bool? {
            try await connection.query("select pg_is_in_recovery() as r", timeout: .seconds(5)).first?.bool("r")
        }
    }

    static func withProxy<T: Sendable>(
        _ lab: LabCluster,
        routing configure: (inout RoutingSettings) -> Void = { _ in },
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        // A probe timeout a loaded machine can meet: a replica must not flap out of the reader set.
        let health = HealthSettings(probeInterval: .seconds(1), probeTimeout: .milliseconds(900))
        var topology = HealthMonitorTests.topology(lab, health: health)
        var routing = RoutingSettings(
            enabled: true,
            listenReadWrite: ListenAddress(host: "127.0.0.1", port: 0),
            listenReadOnly: ListenAddress(host: "127.0.0.1", port: 0),
            holdTimeout: .seconds(15)
        )
        configure(&routing)
        topology.routing = routing
        let monitor = HealthMonitor(topology: topology, logger: logger)
        let (tables, continuation) = AsyncStream.makeStream(of: RoutingTable.self)
        let proxy = ProxyService(
            topology: topology, snapshot: { monitor.latest }, routingUpdates: tables, logger: logger)
        let monitorTask = Task { try await monitor.run() }
        let proxyTask = Task { try await proxy.run() }
        defer {
            monitorTask.cancel()
            proxyTask.cancel()
        }
        let addresses = try #require(await proxy.listeningAddresses(timeout: .seconds(10)))
        let ready = try await HealthMonitorTests.eventually(within: .seconds(15)) {
            monitor.latest.endpoints.allSatisfy { $0.isHealthy && $0.lagBytes != nil || $0.role == .primary }
        }
        #expect(ready)
        continuation.yield(table(1, "pg-primary"))
        let harness = Harness(
            proxy: proxy, monitor: monitor, tables: continuation,
            readWritePort: Int(addresses.readWrite.split(separator: ":").last!)!,
            readOnlyPort: Int(addresses.readOnly.split(separator: ":").last!)!, lab: lab)
        _ = try await HealthMonitorTests.eventually(within: .seconds(5)) { proxy.status().epoch == 1 }
        let result = try await body(harness)
        proxyTask.cancel()
        monitorTask.cancel()
        try? await proxyTask.value
        try? await monitorTask.value
        return result
    }

    @Test(.timeLimit(.minutes(2)))
    func readWriteReachesThePrimaryAndReadOnlyAReplica() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            try await Self.withProxy(lab) { harness in
                let writer = try await harness.connect(harness.readWritePort)
                defer { writer.close() }
                #expect(try await harness.inRecovery(writer) == false)
                #expect(try await harness.serverPort(writer) == Int64(lab.node("pg-primary").port))
                _ = try await writer.query("create table proxied (id int)", timeout: .seconds(5))

                let reader = try await harness.connect(harness.readOnlyPort)
                defer { reader.close() }
                #expect(try await harness.inRecovery(reader) == true)
                #expect(try await harness.serverPort(reader) == Int64(lab.node("pg-standby").port))

                let status = harness.proxy.status()
                #expect(status.pools.first { $0.name == "writes" }?.inUse == 1)
                #expect(status.pools.first { $0.name == "reads" }?.inUse == 1)
                #expect(status.endpoints.map(\.activeConnections) == [1, 1])
                #expect(status.bytesServerToClient > 0)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func afterAKillNewWritesAreHeldThenReachTheNewPrimary() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            try await Self.withProxy(lab) { harness in
                let before = try await harness.connect(harness.readWritePort)
                defer { before.close() }
                #expect(try await harness.inRecovery(before) == false)

                try lab.signal("pg-primary", SIGKILL)
                // As the failover service does: pause writes, promote, publish the new primary.
                harness.tables.yield(Self.table(2, "pg-primary", paused: true))
                _ = try await HealthMonitorTests.eventually(within: .seconds(5)) {
                    harness.proxy.status().writesPaused
                }
                let clock = ContinuousClock()
                let started = clock.now
                let held = Task { try await harness.connect(harness.readWritePort, timeout: .seconds(60)) }
                // Promote only once the proxy holds the connection: on a slow machine the client's
                // connect may take longer than any fixed pause.
                _ = try await HealthMonitorTests.eventually(within: .seconds(30)) {
                    harness.proxy.status().held >= 1
                }
                _ = try lab.sql(
                    "pg-standby", "select pg_promote(wait => true, wait_seconds => 30)", timeout: .seconds(35))
                harness.tables.yield(Self.table(3, "pg-standby", fenced: ["pg-primary"]))

                let after = try await held.value
                defer { after.close() }
                print("held read-write connection served after \(clock.now - started)")
                #expect(try await harness.inRecovery(after) == false)
                #expect(try await harness.serverPort(after) == Int64(lab.node("pg-standby").port))
                #expect(harness.proxy.status().held >= 1)

                // The connection opened before the failover is gone.
                await #expect(throws: PostgresError.self) {
                    _ = try await before.query("select 1", timeout: .seconds(2))
                }
                // An older table is ignored.
                harness.tables.yield(Self.table(2, "pg-primary"))
                try await Task.sleep(for: .milliseconds(100))
                #expect(harness.proxy.status().writeTarget == "pg-standby")
                let again = try await harness.connect(harness.readWritePort)
                defer { again.close() }
                #expect(try await harness.serverPort(again) == Int64(lab.node("pg-standby").port))
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func writeConnectionsAreClosedTheMomentWritesPause() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            try await Self.withProxy(lab) { harness in
                let writer = try await harness.connect(harness.readWritePort)
                defer { writer.close() }
                _ = try await writer.query("create table paused_t(id int)", timeout: .seconds(5))
                let reader = try await harness.connect(harness.readOnlyPort)
                defer { reader.close() }

                // A hung primary whose failover starts: writes pause before any new primary exists.
                try lab.signalServer("pg-primary", SIGSTOP)
                var resumed = false
                defer { if !resumed { try? lab.signalServer("pg-primary", SIGCONT) } }
                harness.tables.yield(Self.table(2, "pg-primary", paused: true))
                _ = try await HealthMonitorTests.eventually(within: .seconds(5)) {
                    harness.proxy.status().writesPaused
                }
                try await Task.sleep(for: .milliseconds(200))
                // The primary resumes: the session opened before the pause must not commit through it.
                try lab.signalServer("pg-primary", SIGCONT)
                resumed = true
                await #expect(throws: PostgresError.self) {
                    _ = try await writer.query("insert into paused_t values (1)", timeout: .seconds(3))
                }
                #expect(try lab.sql("pg-primary", "select count(*) from paused_t") == "0")
                // Reads are not writes: the read-only session stays.
                #expect(try await harness.inRecovery(reader) == true)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func connectionsToAnOldPrimaryAreClosedWhenTheWriteTargetMoves() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            try await Self.withProxy(lab) { harness in
                let writer = try await harness.connect(harness.readWritePort)
                defer { writer.close() }
                #expect(try await harness.inRecovery(writer) == false)
                // Both servers stay up: only the proxy can end this session.
                harness.tables.yield(Self.table(2, "pg-standby"))
                let closed = try await HealthMonitorTests.eventually(within: .seconds(5)) {
                    harness.proxy.status().closedByRouting == 1
                }
                #expect(closed)
                let error = await #expect(throws: PostgresError.self) {
                    _ = try await writer.query("select 1", timeout: .seconds(2))
                }
                #expect(error?.sqlState == nil)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func overBudgetTheClientGetsSQLState53300NamingThePool() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            try await Self.withProxy(
                lab,
                routing: {
                    $0.maxConnections = 4
                    $0.pools = [ConnectionPool(name: "writes", size: 2), ConnectionPool(name: "reads", size: 2)]
                    $0.queueTimeout = .milliseconds(300)
                }
            ) { harness in
                let first = try await harness.connect(harness.readWritePort)
                let second = try await harness.connect(harness.readWritePort)
                let error = await #expect(throws: PostgresError.self) {
                    _ = try await harness.connect(harness.readWritePort)
                }
                #expect(error?.sqlState == "53300")
                #expect(error?.message.contains("\"writes\" pool") == true)
                #expect(error?.description.contains(lab.password) == false)
                #expect(harness.proxy.status().pools.first { $0.name == "writes" }?.rejected == 1)

                // The other pool is independent; a freed place is taken by the next client.
                let reader = try await harness.connect(harness.readOnlyPort)
                reader.close()
                first.close()
                let freed = try await HealthMonitorTests.eventually(within: .seconds(5)) {
                    harness.proxy.status().pools.first { $0.name == "writes" }?.inUse == 1
                }
                #expect(freed)
                let third = try await harness.connect(harness.readWritePort)
                #expect(try await harness.inRecovery(third) == false)
                third.close()
                second.close()
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSlowReaderDoesNotMakeTheProxyBuffer() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            try await Self.withProxy(lab) { harness in
                // psql writes COPY rows to a pipe nobody reads: it blocks, stops reading its socket,
                // and the proxy must stop reading from the server instead of buffering ~2 GB.
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/bin/sh")
                process.arguments = [
                    "-c",
                    "\(LabOptions().binDirectory)/psql -X -q -h 127.0.0.1 -p \(harness.readWritePort) -U postgres -d postgres "
                        + "-c \"copy (select repeat('x', 1000) from generate_series(1, 2000000)) to stdout\" | sleep 60",
                ]
                process.environment = ["PGPASSWORD": lab.password, "PGSSLMODE": "disable"]
                process.standardError = FileHandle.nullDevice
                try process.run()
                defer {
                    if process.isRunning {
                        for child in LabCluster.childProcesses(of: process.processIdentifier) {
                            kill(child, SIGKILL)
                        }
                        process.terminate()
                    }
                }
                let started = try await HealthMonitorTests.eventually(within: .seconds(10)) {
                    harness.proxy.status().bytesServerToClient > 1_000_000
                }
                #expect(started)
                try await Task.sleep(for: .seconds(2))
                let first = harness.proxy.status().bytesServerToClient
                try await Task.sleep(for: .seconds(2))
                let second = harness.proxy.status().bytesServerToClient
                print("slow reader: \(first) then \(second) bytes relayed to the client")
                // Unbounded buffering would have relayed most of the 2 GB by now.
                #expect(second < 64 * 1024 * 1024)
                #expect(second - first < 1024 * 1024)

                // Killing the client closes its server session too.
                let children = LabCluster.childProcesses(of: process.processIdentifier)
                for child in children {
                    kill(child, SIGKILL)
                }
                process.terminate()
                let gone = try await HealthMonitorTests.eventually(within: .seconds(10)) {
                    harness.proxy.status().pools.first { $0.name == "writes" }?.inUse == 0
                }
                #expect(gone)
            }
        }
    }
}
