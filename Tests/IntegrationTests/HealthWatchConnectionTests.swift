import Health
import Lab
import Postgres
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The idle watch connection the health monitor keeps per endpoint: it stays quiet on a healthy
/// server, ends promptly on cancellation, and reports a closed server side within milliseconds.
@Suite(.serialized) struct HealthWatchConnectionTests {
    static func configuration(_ lab: LabCluster, _ name: String) -> PostgresConfiguration {
        let node = lab.node(name)
        return PostgresConfiguration(host: node.host, port: node.port, user: lab.user, password: lab.password)
    }

    static func primaryOnly() throws -> [LabNodeSpec] {
        [LabNodeSpec(name: "pg-primary", region: "us-east", port: try LabCluster.freePorts(1)[0], upstream: nil)]
    }

    @Test(.timeLimit(.minutes(2)))
    func aWatchStaysOpenUntilItsBackendIsTerminated() async throws {
        try await LabCluster.withCluster(Self.primaryOnly()) { lab in
            let watch = try await PostgresConnection.watch(Self.configuration(lab, "pg-primary"), timeout: .seconds(5))
            defer { watch.close() }
            #expect(watch.backendPID > 0)

            let clock = ContinuousClock()
            var started = clock.now
            #expect(await watch.waitUntilClosed(timeout: .milliseconds(300)) == false)
            #expect(clock.now - started >= .milliseconds(250))
            #expect(!watch.isClosed)

            // A cancelled wait ends within a poll slice, whatever its timeout.
            started = clock.now
            let waiting = Task { await watch.waitUntilClosed(timeout: .seconds(30)) }
            try await Task.sleep(for: .milliseconds(50))
            waiting.cancel()
            #expect(await waiting.value == false)
            #expect(clock.now - started < .seconds(10), "cancellation, not the 30 s timeout, ends the wait")

            started = clock.now
            _ = try lab.sql("pg-primary", "select pg_terminate_backend(\(watch.backendPID))")
            #expect(await watch.waitUntilClosed(timeout: .seconds(5)))
            print("terminated watch backend noticed after \(Self.milliseconds(clock.now - started)) ms")
            #expect(watch.isClosed)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aKilledServerClosesTheWatchWithinMilliseconds() async throws {
        try await LabCluster.withCluster(Self.primaryOnly()) { lab in
            let watch = try await PostgresConnection.watch(Self.configuration(lab, "pg-primary"), timeout: .seconds(5))
            defer { watch.close() }
            let waiting = Task { await watch.waitUntilClosed(timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(100))
            let clock = ContinuousClock()
            let killed = clock.now
            try lab.signal("pg-primary", SIGKILL)
            #expect(await waiting.value)
            let elapsed = clock.now - killed
            print("kill -9 noticed by the watch connection after \(Self.milliseconds(elapsed)) ms")
            #expect(elapsed < .seconds(5))
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aWatchOnAClosedPortFailsToConnect() async throws {
        let port = try LabCluster.freePorts(1)[0]
        let configuration = PostgresConfiguration(host: "127.0.0.1", port: port, password: "never-printed")
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.watch(configuration, timeout: .seconds(2))
        }
        #expect(error?.kind == .connectionFailed)
        #expect(error?.description.contains("never-printed") == false)
    }

    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
