import Foundation
import Health
import Testing
import Vocabulary

/// The threshold alert rule on hand-made snapshots: no clock, no server.
@Suite struct ThresholdAlertsTests {
    static let t0 = Date(timeIntervalSince1970: 1_750_000_000)

    /// A reachable standby whose probe at `second` showed these levels.
    static func standby(
        at second: Int, latency: HealthLevel = .ok, lag: HealthLevel = .ok, errors: HealthLevel = .ok,
        lagSeconds: Double = 0.5, down: Bool = false
    ) -> HealthSnapshot {
        var health = EndpointHealth(endpoint: "eu-west-1", region: "eu-west", address: "10.0.0.2:5432")
        health.reachable = !down
        health.isDown = down
        health.role = .standby
        health.lastProbeAt = t0.addingTimeInterval(Double(second))
        health.smoothedLatencyMilliseconds = latency == .ok ? 4 : 900
        health.latencyLevel = latency
        health.lagSeconds = lagSeconds
        health.lagBytes = 4096
        health.lagLevel = lag
        health.errorRate = errors == .ok ? 0 : 0.3
        health.errorRateLevel = errors
        return HealthSnapshot(sequence: UInt64(second), takenAt: health.lastProbeAt!, endpoints: [health])
    }

    /// Feeds one snapshot per probe second; returns the events each produced, flattened.
    static func run(_ rule: inout ThresholdAlerts, _ snapshots: [HealthSnapshot]) -> [ControlEvent] {
        snapshots.flatMap { rule.observe($0, at: $0.takenAt) }
    }

    @Test func aLevelFiresOnlyAfterThreeResultsInARowAndClearsTheSameWay() {
        var rule = ThresholdAlerts(cluster: "prod")
        // Two slow results, one fast, two slow: never three in a row, nothing fires.
        let flapping = [HealthLevel.warning, .warning, .ok, .warning, .warning].enumerated().map {
            Self.standby(at: $0.offset, latency: $0.element)
        }
        #expect(Self.run(&rule, flapping).isEmpty)

        let fired = Self.run(&rule, [Self.standby(at: 5, latency: .warning)])
        #expect(fired.map(\.kind) == [.endpointSlow])
        #expect(fired.first?.severity == .medium)
        #expect(fired.first?.dedupKey == "prod/endpoint_slow/eu-west-1")
        #expect(fired.first?.facts["latency_ms"] == "900.0")
        #expect(fired.first?.region == "eu-west")

        // Still slow: no repeat.
        #expect(Self.run(&rule, (6...9).map { Self.standby(at: $0, latency: .warning) }).isEmpty)

        let cleared = Self.run(&rule, (10...12).map { Self.standby(at: $0) })
        #expect(cleared.map(\.kind) == [.endpointSlowCleared])
        #expect(cleared.first?.dedupKey == "prod/endpoint_slow/eu-west-1")
    }

    @Test func goingCriticalFiresAgainAtHighSeverityAndComingDownToWarningToo() {
        var rule = ThresholdAlerts(cluster: "prod")
        let events = Self.run(
            &rule,
            (0..<3).map { Self.standby(at: $0, lag: .warning, lagSeconds: 40) }
                + (3..<6).map { Self.standby(at: $0, lag: .critical, lagSeconds: 400) }
                + (6..<9).map { Self.standby(at: $0, lag: .warning, lagSeconds: 40) }
                + (9..<12).map { Self.standby(at: $0, lagSeconds: 0.2) })
        #expect(events.map(\.kind) == [.replicationLag, .replicationLag, .replicationLag, .replicationLagCleared])
        #expect(events.map(\.severity) == [.medium, .high, .medium, .low])
        #expect(events[1].facts["lag_seconds"] == "400.0")
        #expect(events[1].facts["lag_bytes"] == "4096")
    }

    @Test func aRepublishedSnapshotIsNotANewObservation() {
        var rule = ThresholdAlerts(cluster: "prod")
        // The monitor republishes for every endpoint's probe: the same result seen three times
        // counts once.
        let same = Self.standby(at: 0, errors: .critical)
        #expect(Self.run(&rule, [same, same, same]).isEmpty)
        let fired = Self.run(&rule, [Self.standby(at: 1, errors: .critical), Self.standby(at: 2, errors: .critical)])
        #expect(fired.map(\.kind) == [.errorRateHigh])
        #expect(fired.first?.severity == .high)
    }

    @Test func aDownEndpointLeavesItsOtherAlertsAlone() {
        var rule = ThresholdAlerts(cluster: "prod")
        #expect(
            Self.run(&rule, (0..<3).map { Self.standby(at: $0, latency: .critical) }).map(\.kind) == [.endpointSlow])
        // Down: endpoint_down speaks; latency is not judged, so nothing clears or fires.
        #expect(Self.run(&rule, (3..<8).map { Self.standby(at: $0, down: true) }).isEmpty)
        #expect(Self.run(&rule, (8..<11).map { Self.standby(at: $0) }).map(\.kind) == [.endpointSlowCleared])
    }

    @Test func everyMetricFiresAndClearsUnderOneDedupKey() {
        for metric in ThresholdAlerts.Metric.allCases {
            var rule = ThresholdAlerts(cluster: "prod", consecutive: 1)
            let high = Self.standby(
                at: 0, latency: metric == .responseTime ? .warning : .ok,
                lag: metric == .replicationLag ? .warning : .ok, errors: metric == .errorRate ? .warning : .ok)
            let fired = rule.observe(high, at: Self.t0)
            let cleared = rule.observe(Self.standby(at: 1), at: Self.t0)
            #expect(fired.count == 1 && cleared.count == 1, "\(metric)")
            #expect(fired.first?.dedupKey == cleared.first?.dedupKey)
            #expect(fired.first?.kind != cleared.first?.kind)
        }
    }
}
