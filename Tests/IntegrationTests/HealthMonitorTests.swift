import Foundation
import Health
import Lab
import Logging
import Postgres
import Testing
import Topology

#if canImport(Glibc)
    import Glibc
#endif

/// The health monitor with the real libpq probe and watch connections, against a lab primary and
/// standby on 127.0.0.1: roles and upstreams, crash detection (`kill -9`), hang detection (`SIGSTOP`).
@Suite(.serialized) struct HealthMonitorTests {
    static let logger = Logger(label: "health-monitor-tests")

    static func primaryAndStandby() throws -> [LabNodeSpec] {
        let ports = try LabCluster.freePorts(2)
        return [
            LabNodeSpec(name: "pg-primary", region: "us-east", port: ports[0], upstream: nil),
            LabNodeSpec(name: "pg-standby", region: "eu-west", port: ports[1], upstream: "pg-primary"),
        ]
    }

    /// The lab as a topology: one region per node, the primary's first.
    static func topology(_ lab: LabCluster, health: HealthSettings) -> ClusterTopology {
        let regions = lab.nodes.enumerated().map { index, node in
            Region(
                name: node.region,
                priority: 100 - index,
                leader: Endpoint(
                    name: node.name,
                    region: node.region,
                    role: .leader,
                    host: node.host,
                    port: node.port,
                    health: health
                ),
                replicas: []
            )
        }
        return ClusterTopology(
            name: "lab",
            sourceFile: "lab.yaml",
            connection: ConnectionSettings(
                user: lab.user,
                password: Secret(lab.password),
                connectTimeout: .seconds(1)
            ),
            replication: ReplicationSettings(),
            defaults: health,
            regions: regions
        )
    }

    /// Runs a monitor for the duration of `body`; stops it (bounded) before the lab stops.
    static func withMonitor<T>(
        _ lab: LabCluster,
        health: HealthSettings,
        _ body: (HealthMonitor) async throws -> T
    ) async throws -> T {
        let monitor = HealthMonitor(topology: topology(lab, health: health), logger: logger)
        let task = Task { try await monitor.run() }
        let result: T
        do {
            result = try await body(monitor)
        } catch {
            task.cancel()
            throw error
        }
        let stopping = ContinuousClock.now
        task.cancel()
        try await task.value
        #expect(ContinuousClock.now - stopping < .seconds(10), "run() should end promptly on cancellation")
        return result
    }

    /// Polls `condition` every 5 ms until it holds or `timeout` passes; returns whether it held.
    static func eventually(within timeout: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() {
                return true
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    @Test(.timeLimit(.minutes(2)))
    func theSnapshotShowsRolesUpstreamAndLag() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            // What the snapshot holds, not how fast: thresholds a busy machine stays under (one slow
            // probe among the first few would otherwise make the error rate critical).
            let health = HealthSettings(
                probeInterval: .milliseconds(500), probeTimeout: .milliseconds(450),
                responseTimeWarning: .seconds(5), responseTimeCritical: .seconds(10), errorRateWarning: 0.9,
                errorRateCritical: 1.0)
            try await Self.withMonitor(lab, health: health) { monitor in
                let ready = try await Self.eventually(within: .seconds(10)) {
                    let snapshot = monitor.latest
                    return snapshot[endpoint: "pg-primary"]?.role == .primary
                        && snapshot[endpoint: "pg-standby"]?.upstream != nil
                }
                #expect(ready)
                // A busy machine can restart the standby's WAL receiver between two probes: ask
                // (bounded) until one probe sees both servers whole, then check everything it saw.
                var snapshot = await monitor.probeNow()
                for _ in 0..<20 where snapshot[endpoint: "pg-standby"]?.walReceiver?.status != "streaming" {
                    try await Task.sleep(for: .milliseconds(250))
                    snapshot = await monitor.probeNow()
                }
                let primary = try #require(snapshot[endpoint: "pg-primary"])
                let standby = try #require(snapshot[endpoint: "pg-standby"])
                #expect(primary.isHealthy)
                #expect(primary.role == .primary)
                #expect(primary.currentLSN != nil)
                #expect(primary.lagBytes == nil)
                #expect(primary.replication.map(\.applicationName) == ["pg-standby"])
                #expect(primary.serverVersion.map { $0 / 10_000 } == 15)
                #expect(primary.smoothedLatencyMilliseconds != nil)
                #expect(primary.level == .ok)

                #expect(standby.isHealthy)
                #expect(standby.role == .standby)
                #expect(standby.upstream == "pg-primary")
                #expect(standby.walReceiver?.status == "streaming")
                let lag = try #require(standby.lagBytes)
                #expect(lag >= 0)
                #expect(lag < 16 * 1024 * 1024)
                #expect(snapshot.reachablePrimaries.map(\.endpoint) == ["pg-primary"])
                #expect(snapshot.endpoints.allSatisfy { $0.lastError?.contains(lab.password) != true })
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledPrimaryIsMarkedDownWithinMilliseconds() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            // A calm 10 s interval: only the watch connection and fast re-probes make this quick.
            let health = HealthSettings(probeInterval: .seconds(10), probeTimeout: .seconds(1))
            try await Self.withMonitor(lab, health: health) { monitor in
                let ready = try await Self.eventually(within: .seconds(10)) {
                    monitor.latest.endpoints.allSatisfy(\.isHealthy)
                }
                #expect(ready)
                // Let each loop open its watch connection after its first probe.
                try await Task.sleep(for: .milliseconds(300))

                let killed = ContinuousClock.now
                try lab.signal("pg-primary", SIGKILL)
                let down = try await Self.eventually(within: .seconds(5)) {
                    monitor.latest[endpoint: "pg-primary"]?.isDown == true
                }
                let elapsed = ContinuousClock.now - killed
                print("kill -9 of the primary marked down after \(Self.milliseconds(elapsed)) ms")
                #expect(down)
                #expect(elapsed < .seconds(5))
                let primary = try #require(monitor.latest[endpoint: "pg-primary"])
                #expect(primary.consecutiveFailures >= health.failureThreshold)
                #expect(primary.lastError != nil)
                #expect(primary.lastError?.contains(lab.password) != true)
                // The last known role and position stay for the failover decision.
                #expect(primary.role == .primary)
                #expect(primary.currentLSN != nil)
                #expect(monitor.latest[endpoint: "pg-standby"]?.isDown == false)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aStoppedStandbyIsMarkedDownWhileThePrimaryKeepsBeingProbed() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            let health = HealthSettings(probeInterval: .milliseconds(500), probeTimeout: .milliseconds(300))
            try await Self.withMonitor(lab, health: health) { monitor in
                let ready = try await Self.eventually(within: .seconds(10)) {
                    monitor.latest.endpoints.allSatisfy(\.isHealthy)
                }
                #expect(ready)

                let stopped = ContinuousClock.now
                try lab.signal("pg-standby", SIGSTOP)
                defer { try? lab.signal("pg-standby", SIGCONT) }
                var primaryProbes: Set<Date> = []
                let down = try await Self.eventually(within: .seconds(10)) {
                    let snapshot = monitor.latest
                    if let probed = snapshot[endpoint: "pg-primary"]?.lastProbeAt {
                        primaryProbes.insert(probed)
                    }
                    return snapshot[endpoint: "pg-standby"]?.isDown == true
                }
                let elapsed = ContinuousClock.now - stopped
                print("SIGSTOP of the standby marked down after \(Self.milliseconds(elapsed)) ms")
                #expect(down)
                let standby = try #require(monitor.latest[endpoint: "pg-standby"])
                #expect(standby.consecutiveFailures >= health.failureThreshold)
                #expect(standby.lastError?.contains("connectTimeout") == true)

                // The primary went on being probed meanwhile, and still is.
                let sequence = monitor.latest.sequence
                let more = try await Self.eventually(within: .seconds(3)) {
                    if let probed = monitor.latest[endpoint: "pg-primary"]?.lastProbeAt {
                        primaryProbes.insert(probed)
                    }
                    return primaryProbes.count >= 3 && monitor.latest.sequence > sequence
                }
                #expect(more)
                // (One probe of the primary may time out on a busy machine; it is never declared down.)
                #expect(monitor.latest[endpoint: "pg-primary"]?.isDown == false)

                // Resumed: the standby answers again.
                try lab.signal("pg-standby", SIGCONT)
                let back = try await Self.eventually(within: .seconds(10)) {
                    monitor.latest[endpoint: "pg-standby"]?.isHealthy == true
                }
                #expect(back)
            }
        }
    }
}
