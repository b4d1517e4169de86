import Alerting
import Foundation
import Health
import Lab
import Logging
import StateStore
import TestSupport
import Testing
import Topology
import Vocabulary

/// Threshold alerts end to end: real servers pushed past a threshold, the health monitor, the
/// threshold rule, the alert pipeline and libcurl, and a real HTTP receiver that sees the alert
/// fire and resolve.
@Suite(.serialized) struct ThresholdAlertTests {
    static let logger = Logger(label: "threshold-alert-tests")

    /// One webhook channel to `receiver`, no group wait, resolved alerts sent.
    static func alerts(_ receiver: HTTPReceiver) -> AlertConfiguration {
        AlertConfiguration(
            channels: [AlertChannel(name: "ops", kind: .webhook, url: Secret(receiver.url("/ops")))],
            route: Route(channels: ["ops"], groupWait: .zero, groupInterval: .zero, repeatInterval: .seconds(3600)))
    }

    /// The `(type, status)` of every alert the receiver got, in arrival order.
    static func delivered(_ receiver: HTTPReceiver) -> [(type: String, status: String)] {
        receiver.requests.flatMap { request in
            ((request.json["alerts"] as? [[String: Any]]) ?? []).map {
                ($0["type"] as? String ?? "?", $0["status"] as? String ?? "?")
            }
        }
    }

    /// Polls (bounded) until the receiver got an alert of `type` with `status`.
    static func waitFor(
        _ type: String, _ status: String, at receiver: HTTPReceiver, within timeout: Duration,
        while tick: () async throws -> Void = {}
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if delivered(receiver).contains(where: { $0.type == type && $0.status == status }) { return true }
            try await tick()
            try await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// Runs the monitor, the threshold alerts and the pipeline on `topology` for `body`.
    static func withAlerting(
        _ topology: ClusterTopology, _ body: (HTTPReceiver) async throws -> Void
    ) async throws {
        let receiver = try await HTTPReceiver.start()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("thresholds-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try StateStore(path: directory.appendingPathComponent("state.sqlite").path)
        let pipeline = AlertPipeline(
            configuration: alerts(receiver), store: store, logger: logger, cluster: topology.name)
        let monitor = HealthMonitor(topology: topology, logger: logger)
        let thresholds = ThresholdAlertMonitor(monitor: monitor, events: pipeline, logger: logger)
        let tasks = [
            Task { try await monitor.run() }, Task { try await pipeline.run() }, Task { await thresholds.run() },
        ]
        do {
            try await body(receiver)
        } catch {
            for task in tasks { task.cancel() }
            for task in tasks { _ = await task.result }
            try await receiver.stop()
            throw error
        }
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
        try await receiver.stop()
    }

    @Test(.timeLimit(.minutes(3)))
    func aStandbyWhoseReplayIsPausedRaisesReplicationLagUntilReplayResumes() async throws {
        try await LabCluster.withCluster(HealthMonitorTests.primaryAndStandby()) { lab in
            let health = HealthSettings(
                probeInterval: .milliseconds(500), probeTimeout: .milliseconds(400),
                replicationLagWarning: .seconds(2), replicationLagCritical: .seconds(600))
            _ = try lab.sql("pg-primary", "create table tick(at timestamptz)")
            try await Self.withAlerting(HealthMonitorTests.topology(lab, health: health)) { receiver in
                // Replay stops; the primary keeps committing, so the standby receives WAL it does
                // not apply and its last applied transaction ages.
                _ = try lab.sql("pg-standby", "select pg_wal_replay_pause()")
                let fired = try await Self.waitFor("replication_lag", "firing", at: receiver, within: .seconds(60)) {
                    _ = try lab.sql("pg-primary", "insert into tick values (now())")
                }
                #expect(fired, "no replication_lag alert; got \(Self.delivered(receiver))")

                _ = try lab.sql("pg-standby", "select pg_wal_replay_resume()")
                let resolved = try await Self.waitFor(
                    "replication_lag", "resolved", at: receiver, within: .seconds(60))
                #expect(resolved, "replication_lag never resolved; got \(Self.delivered(receiver))")
                let lagAlerts = Self.delivered(receiver).filter { $0.type == "replication_lag" }
                #expect(lagAlerts.first?.status == "firing")
                #expect(lagAlerts.last?.status == "resolved")
            }
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func anEndpointBehindASlowPathRaisesEndpointSlowUntilThePathIsFastAgain() async throws {
        try await LabCluster.withCluster(HealthMonitorTests.primaryAndStandby()) { lab in
            let standby = try #require(lab.nodes.first { $0.name == "pg-standby" })
            let relay = try TCPRelay(to: standby.port)
            defer { relay.stop() }
            let health = HealthSettings(
                probeInterval: .seconds(2), probeTimeout: .milliseconds(1900),
                responseTimeWarning: .milliseconds(300), responseTimeCritical: .seconds(30))
            var topology = HealthMonitorTests.topology(lab, health: health)
            // The standby is probed through the relay.
            topology.regions = topology.regions.map { region in
                guard region.leader.name == "pg-standby" else { return region }
                var region = region
                region.leader.port = relay.port
                return region
            }
            try await Self.withAlerting(topology) { receiver in
                relay.delay(.milliseconds(80))
                let fired = try await Self.waitFor("endpoint_slow", "firing", at: receiver, within: .seconds(60))
                #expect(fired, "no endpoint_slow alert; got \(Self.delivered(receiver))")

                relay.delay(.zero)
                let resolved = try await Self.waitFor("endpoint_slow", "resolved", at: receiver, within: .seconds(90))
                #expect(resolved, "endpoint_slow never resolved; got \(Self.delivered(receiver))")
                let slow = Self.delivered(receiver).filter { $0.type == "endpoint_slow" }
                #expect(slow.last?.status == "resolved")
            }
        }
    }
}
