import Foundation
import Health
import Testing
import Topology

@testable import Postgres

/// The tracker as a pure value: probe results in, health out, with fixed dates.
@Suite struct EndpointHealthTrackerTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    let primaryEndpoint = Fixtures.endpoint("p", port: 5432)
    let standbyEndpoint = Fixtures.endpoint("s", region: "eu-west", port: 5433)

    @Test func failuresCountUpToTheThresholdAndResetOnSuccess() {
        var tracker = EndpointHealthTracker(endpoint: primaryEndpoint)
        #expect(tracker.record(Fixtures.primary(primaryEndpoint), at: start).isEmpty)
        #expect(tracker.record(Fixtures.failure(primaryEndpoint), at: start + 1).isEmpty)
        #expect(tracker.record(Fixtures.failure(primaryEndpoint), at: start + 2).isEmpty)
        #expect(tracker.consecutiveFailures == 2)
        #expect(!tracker.isDown)

        #expect(tracker.record(Fixtures.failure(primaryEndpoint), at: start + 3) == [.wentDown(failures: 3)])
        #expect(tracker.isDown)
        // Still down: no second event.
        #expect(tracker.record(Fixtures.failure(primaryEndpoint), at: start + 4).isEmpty)
        #expect(tracker.consecutiveFailures == 4)

        var health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(!health.reachable)
        #expect(health.isDown)
        #expect(health.level == .critical)
        #expect(health.lastProbeAt == start + 4)
        #expect(health.lastSuccessAt == start)
        #expect(health.lastError != nil)
        // The last known role and position stay for the failover service.
        #expect(health.role == .primary)
        #expect(health.currentLSN == LSN(0x3000))

        #expect(tracker.record(Fixtures.primary(primaryEndpoint), at: start + 5) == [.cameUp])
        health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.consecutiveFailures == 0)
        #expect(!health.isDown)
        #expect(health.reachable)
        #expect(health.lastSuccessAt == start + 5)
    }

    @Test func aThresholdOfOneIsDownAtTheFirstFailure() {
        let endpoint = Fixtures.endpoint("p", port: 5432, health: Fixtures.settings(threshold: 1))
        var tracker = EndpointHealthTracker(endpoint: endpoint)
        #expect(tracker.record(Fixtures.failure(endpoint), at: start) == [.wentDown(failures: 1)])
        #expect(tracker.isDown)
    }

    @Test func latencyIsSmoothedExponentiallyFromTheFirstSuccess() throws {
        var tracker = EndpointHealthTracker(endpoint: primaryEndpoint)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: [:]).smoothedLatencyMilliseconds == nil)
        tracker.record(Fixtures.failure(primaryEndpoint, latency: .milliseconds(900)), at: start)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: [:]).smoothedLatencyMilliseconds == nil)

        tracker.record(Fixtures.primary(primaryEndpoint, latency: .milliseconds(100)), at: start + 1)
        var health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.smoothedLatencyMilliseconds == 100)

        tracker.record(Fixtures.primary(primaryEndpoint, latency: .milliseconds(200)), at: start + 2)
        health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        let alpha = EndpointHealthTracker.latencySmoothing
        #expect(alpha == 0.3)
        let smoothed = try #require(health.smoothedLatencyMilliseconds)
        #expect(abs(smoothed - (alpha * 200 + (1 - alpha) * 100)) < 1e-9)
        #expect(health.lastLatencyMilliseconds == 200)
    }

    @Test func errorRateCoversTheLastTwentyProbes() {
        #expect(EndpointHealthTracker.errorRateWindow == 20)
        var tracker = EndpointHealthTracker(endpoint: primaryEndpoint)
        tracker.record(Fixtures.failure(primaryEndpoint), at: start)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: [:]).errorRate == 1)
        for second in 1..<20 {
            tracker.record(Fixtures.primary(primaryEndpoint), at: start + Double(second))
        }
        var health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.errorRate == 0.05)
        #expect(health.errorRateLevel == .warning)
        // The failure slides out of the window.
        tracker.record(Fixtures.primary(primaryEndpoint), at: start + 20)
        health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.errorRate == 0)
        #expect(health.errorRateLevel == .ok)
    }

    /// Failures among the last twenty probes against the default 5% / 20% thresholds.
    @Test(arguments: [(0, HealthLevel.ok), (1, .warning), (3, .warning), (4, .critical), (20, .critical)])
    func errorRateLevelsAtTheirBoundaries(failures: Int, level: HealthLevel) {
        let endpoint = Fixtures.endpoint("p", port: 5432, health: Fixtures.settings(threshold: 100))
        var tracker = EndpointHealthTracker(endpoint: endpoint)
        for index in 0..<20 {
            let probe = index < failures ? Fixtures.failure(endpoint) : Fixtures.primary(endpoint)
            tracker.record(probe, at: start + Double(index))
        }
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: [:]).errorRateLevel == level)
    }

    /// One sample seeds the smoothed latency; defaults are 1000 ms (warning) and 5000 ms (critical).
    @Test(arguments: [(999, HealthLevel.ok), (1000, .warning), (4999, .warning), (5000, .critical)])
    func latencyLevelsAtTheirBoundaries(milliseconds: Int, level: HealthLevel) {
        var tracker = EndpointHealthTracker(endpoint: primaryEndpoint)
        tracker.record(Fixtures.primary(primaryEndpoint, latency: .milliseconds(milliseconds)), at: start)
        let health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.latencyLevel == level)
        #expect(health.level == level)
    }

    /// Defaults are 30 s (warning) and 300 s (critical) of replay lag.
    @Test(arguments: [(29.999, HealthLevel.ok), (30, .warning), (299.5, .warning), (300, .critical)])
    func lagLevelsAtTheirBoundaries(seconds: Double, level: HealthLevel) {
        var tracker = EndpointHealthTracker(endpoint: standbyEndpoint)
        tracker.record(Fixtures.standby(standbyEndpoint, lagSeconds: seconds), at: start)
        let health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.lagSeconds == seconds)
        #expect(health.lagLevel == level)
    }

    @Test func lagBytesAreThePrimaryPositionMinusTheStandbysFlooredAtZero() {
        var tracker = EndpointHealthTracker(endpoint: standbyEndpoint)
        tracker.record(Fixtures.standby(standbyEndpoint, receive: 0x2000, replay: 0x1800), at: start)
        #expect(tracker.health(primaryPosition: LSN(0x3000), endpointsByAddress: [:]).lagBytes == 0x1000)
        // A standby ahead of the last known primary position is not behind.
        #expect(tracker.health(primaryPosition: LSN(0x1000), endpointsByAddress: [:]).lagBytes == 0)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: [:]).lagBytes == nil)

        // Nothing received by streaming: the replayed position counts.
        tracker.record(Fixtures.standby(standbyEndpoint, receive: nil, replay: 0x2800), at: start + 1)
        #expect(tracker.health(primaryPosition: LSN(0x3000), endpointsByAddress: [:]).lagBytes == 0x800)

        var primary = EndpointHealthTracker(endpoint: primaryEndpoint)
        primary.record(Fixtures.primary(primaryEndpoint, lsn: 0x2000), at: start)
        #expect(primary.health(primaryPosition: LSN(0x3000), endpointsByAddress: [:]).lagBytes == nil)
    }

    @Test(arguments: ["127.0.0.1", "localhost", "LOCALHOST", "::1"])
    func theUpstreamIsMatchedByHostAndPort(senderHost: String) {
        let names = EndpointHealthTracker.endpointsByAddress([primaryEndpoint, standbyEndpoint])
        var tracker = EndpointHealthTracker(endpoint: standbyEndpoint)
        tracker.record(Fixtures.standby(standbyEndpoint, sender: (senderHost, 5432)), at: start)
        let health = tracker.health(primaryPosition: nil, endpointsByAddress: names)
        #expect(health.upstream == "p")
        #expect(health.walReceiver?.senderPort == 5432)
    }

    @Test func anUnknownSenderHasNoUpstream() {
        let names = EndpointHealthTracker.endpointsByAddress([primaryEndpoint, standbyEndpoint])
        var tracker = EndpointHealthTracker(endpoint: standbyEndpoint)
        tracker.record(Fixtures.standby(standbyEndpoint, sender: ("10.1.2.3", 5432)), at: start)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: names).upstream == nil)
        tracker.record(Fixtures.standby(standbyEndpoint, sender: ("127.0.0.1", 6000)), at: start + 1)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: names).upstream == nil)
        tracker.record(Fixtures.standby(standbyEndpoint, sender: nil), at: start + 2)
        #expect(tracker.health(primaryPosition: nil, endpointsByAddress: names).upstream == nil)
    }

    @Test func roleFollowsRecoveryAndAChangeIsReported() {
        var tracker = EndpointHealthTracker(endpoint: standbyEndpoint)
        #expect(tracker.role == .unknown)
        #expect(tracker.record(Fixtures.standby(standbyEndpoint), at: start).isEmpty)
        #expect(tracker.role == .standby)
        // A failure keeps the last known role.
        tracker.record(Fixtures.failure(standbyEndpoint), at: start + 1)
        #expect(tracker.role == .standby)
        // Promoted.
        let events = tracker.record(Fixtures.primary(standbyEndpoint, lsn: 0x5000), at: start + 2)
        #expect(events == [.roleChanged(from: .standby, to: .primary)])
        let health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.role == .primary)
        #expect(health.currentLSN == LSN(0x5000))
        #expect(health.walPosition == LSN(0x5000))
    }

    @Test func theLastErrorNeverContainsThePassword() {
        let configuration = PostgresConfiguration(host: "127.0.0.1", port: 5432, password: "hunter2-secret")
        var probe = Fixtures.failure(primaryEndpoint)
        probe.error = PostgresError(
            .authenticationFailed,
            "password authentication failed (tried hunter2-secret)",
            sqlState: "28P01",
            configuration: configuration
        )
        var tracker = EndpointHealthTracker(endpoint: primaryEndpoint)
        tracker.record(probe, at: start)
        let error = tracker.health(primaryPosition: nil, endpointsByAddress: [:]).lastError ?? ""
        #expect(error.contains("password authentication failed"))
        #expect(!error.contains("hunter2-secret"))
    }

    @Test func aReachableProbeWithALaterErrorCountsAsSuccess() {
        var probe = Fixtures.primary(primaryEndpoint)
        probe.error = PostgresError(
            .queryTimeout,
            "no answer",
            configuration: PostgresConfiguration(host: "127.0.0.1", port: 5432)
        )
        var tracker = EndpointHealthTracker(endpoint: primaryEndpoint)
        tracker.record(probe, at: start)
        let health = tracker.health(primaryPosition: nil, endpointsByAddress: [:])
        #expect(health.reachable)
        #expect(health.consecutiveFailures == 0)
        #expect(health.lastError?.contains("no answer") == true)
    }
}
