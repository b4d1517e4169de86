import Foundation
import Health
import Logging
import Postgres
import Synchronization
import Testing
import Topology

/// The monitor's scheduling, driven by fake probes: fast re-probes after a failure, independent
/// loops per endpoint, publishing, and prompt cancellation. Bounds are generous; no exact timings.
@Suite struct HealthMonitorUnitTests {
    static let logger = Logger(label: "health-tests")
    static let noWatch = HealthMonitor.Options(fastReprobeInterval: .milliseconds(50), watchConnections: false)

    /// Runs `monitor` for the duration of `body`, then cancels it and checks it stopped in time.
    static func running<T>(
        _ monitor: HealthMonitor,
        _ body: () async throws -> T
    ) async throws -> T {
        let task = Task { try await monitor.run() }
        let result: T
        do {
            result = try await body()
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

    @Test(.timeLimit(.minutes(1)))
    func readersCancelledWhileSnapshotsArePublishedNeverStallTheMonitor() async throws {
        // Snapshots published as fast as fake probes answer, while readers come and go: a reader
        // cancelled at the moment a snapshot is handed to it must block neither side (yielding under
        // the monitor's lock once deadlocked the two cooperative threads of this machine).
        let endpoints = (0..<4).map {
            Fixtures.endpoint("e\($0)", port: 5432 + $0, health: Fixtures.settings(interval: .milliseconds(1)))
        }
        let monitor = HealthMonitor(
            topology: Fixtures.topology(endpoints), options: Self.noWatch, logger: Self.logger
        ) { endpoint in
            Fixtures.primary(endpoint)
        }
        try await Self.running(monitor) {
            for round in 0..<300 {
                let reader = Task { for await _ in monitor.snapshots() {} }
                try await Task.sleep(for: .microseconds(round % 7 * 100))
                reader.cancel()
                await reader.value
            }
            let before = monitor.latest.sequence
            try await Task.sleep(for: .milliseconds(100))
            #expect(monitor.latest.sequence > before, "the monitor stopped publishing")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFailingEndpointIsDownAfterTheThresholdThroughFastReprobes() async throws {
        // A long regular interval: only fast re-probes can reach the threshold quickly.
        let endpoint = Fixtures.endpoint(
            "p", port: 5432, health: Fixtures.settings(interval: .seconds(30), threshold: 3))
        let log = ProbeLog()
        let monitor = HealthMonitor(
            topology: Fixtures.topology([endpoint]),
            options: Self.noWatch,
            logger: Self.logger
        ) { endpoint in
            log.append(endpoint.name)
            return Fixtures.failure(endpoint)
        }
        try await Self.running(monitor) {
            let down = try await Fixtures.eventually(within: .seconds(15)) {
                monitor.latest[endpoint: "p"]?.isDown == true
            }
            #expect(down)
            let health = try #require(monitor.latest[endpoint: "p"])
            #expect(health.consecutiveFailures == 3)
            #expect(health.level == .critical)
            let times = log.times(of: "p")
            #expect(times.count >= 3)
            let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
            print("fast re-probe gaps (ms):", gaps.prefix(2).map(Fixtures.milliseconds))
            for gap in gaps.prefix(2) {
                #expect(gap >= .milliseconds(40))
                #expect(gap < .seconds(10), "re-probes after a failure should not wait for the 30 s interval")
            }
            // Once down, the regular interval applies again: no burst of re-probes.
            try await Task.sleep(for: .milliseconds(500))
            #expect(log.count(of: "p") <= 4)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRecoveringEndpointResetsItsFailures() async throws {
        let endpoint = Fixtures.endpoint(
            "p", port: 5432, health: Fixtures.settings(interval: .seconds(3), threshold: 5))
        let log = ProbeLog()
        let monitor = HealthMonitor(
            topology: Fixtures.topology([endpoint]),
            options: Self.noWatch,
            logger: Self.logger
        ) { endpoint in
            log.append(endpoint.name)
            // Fails twice, then answers.
            return log.count(of: endpoint.name) <= 2 ? Fixtures.failure(endpoint) : Fixtures.primary(endpoint)
        }
        try await Self.running(monitor) {
            let recovered = try await Fixtures.eventually(within: .seconds(15)) {
                monitor.latest[endpoint: "p"]?.reachable == true
            }
            #expect(recovered)
            let health = try #require(monitor.latest[endpoint: "p"])
            #expect(health.consecutiveFailures == 0)
            #expect(!health.isDown)
            #expect(health.role == .primary)
            #expect(log.count(of: "p") == 3)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aHungEndpointDoesNotDelayTheOthers() async throws {
        let fast = Fixtures.endpoint("fast", port: 5432, health: Fixtures.settings(interval: .milliseconds(50)))
        let hung = Fixtures.endpoint(
            "hung",
            region: "eu-west",
            port: 5433,
            health: Fixtures.settings(interval: .milliseconds(50))
        )
        let log = ProbeLog()
        let monitor = HealthMonitor(
            topology: Fixtures.topology([hung, fast]),
            options: Self.noWatch,
            logger: Self.logger
        ) { endpoint in
            log.append(endpoint.name)
            if endpoint.name == "hung" {
                // Far beyond its timeout; ends early only when cancelled.
                try? await Task.sleep(for: .seconds(30))
                return Fixtures.failure(endpoint)
            }
            return Fixtures.primary(endpoint)
        }
        try await Self.running(monitor) {
            var sequences: [UInt64] = []
            let advanced = try await Fixtures.eventually(within: .seconds(15)) {
                sequences.append(monitor.latest.sequence)
                return log.count(of: "fast") >= 10 && monitor.latest.sequence >= 10
            }
            #expect(advanced, "the fast endpoint should keep being probed while the other hangs")
            #expect(log.count(of: "hung") == 1)
            #expect(monitor.latest[endpoint: "hung"]?.lastProbeAt == nil)
            #expect(monitor.latest[endpoint: "fast"]?.reachable == true)
            #expect(sequences == sequences.sorted())
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func subscribersGetEverySequenceInOrderAndTheStreamEndsWithRun() async throws {
        let endpoint = Fixtures.endpoint("p", port: 5432, health: Fixtures.settings(interval: .milliseconds(20)))
        let monitor = HealthMonitor(
            topology: Fixtures.topology([endpoint]),
            options: Self.noWatch,
            logger: Self.logger
        ) { Fixtures.primary($0) }
        let stream = monitor.snapshots()
        let task = Task { try await monitor.run() }
        var seen: [UInt64] = []
        for await snapshot in stream {
            seen.append(snapshot.sequence)
            if seen.count == 5 {
                task.cancel()
            }
        }
        try await task.value
        #expect(seen.first == 0)
        #expect(seen.count >= 5)
        #expect(zip(seen.dropFirst(), seen).allSatisfy { $0 > $1 })
        // After run() ended, a new subscriber gets the latest snapshot and an ended stream.
        var late: [UInt64] = []
        for await snapshot in monitor.snapshots() {
            late.append(snapshot.sequence)
        }
        #expect(late == [monitor.latest.sequence])
    }

    @Test(.timeLimit(.minutes(1)))
    func probeNowProbesInParallelAndReturnsTheResult() async throws {
        let endpoints = (0..<3).map { index in
            Fixtures.endpoint("e\(index)", region: "r\(index)", port: 5432 + index)
        }
        let log = ProbeLog()
        // How many probes run at once: parallel probing shows as 3, one after another as 1.
        let inFlight = Mutex((now: 0, most: 0))
        let monitor = HealthMonitor(
            topology: Fixtures.topology(endpoints),
            options: Self.noWatch,
            logger: Self.logger
        ) { endpoint in
            log.append(endpoint.name)
            inFlight.withLock {
                $0.now += 1
                $0.most = max($0.most, $0.now)
            }
            try? await Task.sleep(for: .milliseconds(300))
            inFlight.withLock { $0.now -= 1 }
            return endpoint.name == "e0" ? Fixtures.primary(endpoint) : Fixtures.standby(endpoint)
        }
        let snapshot = await monitor.probeNow()
        #expect(inFlight.withLock { $0.most } == 3, "the three probes should overlap, not run one after another")
        #expect(snapshot.sequence == 3)
        #expect(snapshot.endpoints.map(\.role) == [.primary, .standby, .standby])
        #expect(monitor.latest == snapshot)

        let partial = await monitor.probeNow(endpoints: ["e2", "unknown"])
        #expect(partial.sequence == 4)
        #expect(log.count(of: "e2") == 2)
        #expect(log.count(of: "e1") == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func reconfigureAddsAndRemovesEndpointsWhileRunning() async throws {
        let first = Fixtures.endpoint("a", port: 5432, health: Fixtures.settings(interval: .milliseconds(50)))
        let second = Fixtures.endpoint(
            "b", region: "eu-west", port: 5433, health: Fixtures.settings(interval: .milliseconds(50)))
        let log = ProbeLog()
        let monitor = HealthMonitor(
            topology: Fixtures.topology([first]),
            options: Self.noWatch,
            logger: Self.logger
        ) { endpoint in
            log.append(endpoint.name)
            return Fixtures.primary(endpoint)
        }
        try await Self.running(monitor) {
            #expect(try await Fixtures.eventually { monitor.latest[endpoint: "a"]?.reachable == true })
            monitor.reconfigure(topology: Fixtures.topology([second, first]))
            #expect(monitor.latest.endpoints.map(\.endpoint) == ["b", "a"])
            // "a" keeps its history.
            #expect(monitor.latest[endpoint: "a"]?.reachable == true)
            #expect(try await Fixtures.eventually { monitor.latest[endpoint: "b"]?.reachable == true })

            monitor.reconfigure(topology: Fixtures.topology([second]))
            #expect(monitor.latest.endpoints.map(\.endpoint) == ["b"])
            try await Task.sleep(for: .milliseconds(100))
            let probesOfA = log.count(of: "a")
            try await Task.sleep(for: .milliseconds(300))
            #expect(log.count(of: "a") == probesOfA, "a removed endpoint is no longer probed")
            #expect(log.count(of: "b") >= 3)
        }
    }

    @Test func theConfigurationComesFromTheEndpointAndTheConnectionSettings() {
        let endpoint = Fixtures.endpoint("p", host: "10.0.0.5", port: 6543)
        let connection = ConnectionSettings(
            user: "monitor",
            database: "health",
            password: Secret("s3cret"),
            sslMode: .require,
            connectTimeout: .milliseconds(1500)
        )
        let configuration = PostgresConfiguration(endpoint: endpoint, connection: connection)
        #expect(configuration.host == "10.0.0.5")
        #expect(configuration.port == 6543)
        #expect(configuration.user == "monitor")
        #expect(configuration.database == "health")
        #expect(configuration.password == "s3cret")
        #expect(configuration.sslMode == "require")
        #expect(configuration.connectTimeout == .milliseconds(1500))
        #expect(!configuration.description.contains("s3cret"))
    }
}
