import Failover
import Foundation
import Health
import Lab
import Logging
import Postgres
import StateStore
import Synchronization
import Testing
import Topology
import Vocabulary

/// Events the service emitted, kept for assertions.
final class RecordedEvents: EventSink {
    private let events = Mutex<[ControlEvent]>([])

    func emit(_ event: ControlEvent) { events.withLock { $0.append(event) } }

    var all: [ControlEvent] { events.withLock { $0 } }

    func contains(_ kind: ControlEvent.Kind) -> Bool { all.contains { $0.kind == kind } }
}

/// A real lab cluster, plus the control plane running against it in this process: a health monitor
/// with the real libpq probe, a state store in a temporary file, and the failover service.
struct FailoverFixture {
    let lab: LabCluster
    let topology: ClusterTopology
    let monitor: HealthMonitor
    let service: RegionalFailoverService
    let store: StateStore
    let events: RecordedEvents
    let statePath: String

    /// The lab's three regions on free ports; `port(for:)` may redirect the control plane's view of
    /// an endpoint (e.g. through a relay) while the servers keep streaming directly.
    /// Synchronous by default with `ANY 2 (us-east-2, eu-west-1, ap-south-1)`: every commit is in
    /// two regions' worth of standbys, so losing or cutting off us-east (with us-east-2) keeps the
    /// quorum rule satisfied (docs/failover.md).
    static func topologyYAML(
        ports: [String: Int], synchronous: Bool = true, maxLag: String = "16MB", extra: String = "",
        synchronousStandbys: [String] = ["us-east-2", "eu-west-1", "ap-south-1"], synchronousCount: Int = 2,
        probes: String = "health_check_interval: 500ms, probe_timeout: 300ms"
    ) -> String {
        let replication =
            synchronous
            ? "replication: { mode: synchronous, synchronous_standbys: [\(synchronousStandbys.joined(separator: ", "))], "
                + "synchronous_count: \(synchronousCount) }"
            : "replication: { mode: asynchronous }"
        return """
            cluster: test
            connection: { user: postgres, database: postgres, password: failover-lab, sslmode: disable, connect_timeout: 1s }
            \(replication)
            defaults: { \(probes), failure_threshold: 3, max_lag_on_failover: \(maxLag) }
            failover: { min_failover_interval: 5m, catch_up_timeout: 2s, verify_timeout: 10s\(extra) }
            regions:
              - name: us-east
                priority: 10
                leader: { name: us-east-1, host: 127.0.0.1, port: \(ports["us-east-1"]!) }
                replicas: [{ name: us-east-2, host: 127.0.0.1, port: \(ports["us-east-2"]!) }]
              - name: eu-west
                priority: 8
                leader: { name: eu-west-1, host: 127.0.0.1, port: \(ports["eu-west-1"]!) }
                replicas: [{ name: eu-west-2, host: 127.0.0.1, port: \(ports["eu-west-2"]!) }]
              - name: ap-south
                priority: 6
                leader: { name: ap-south-1, host: 127.0.0.1, port: \(ports["ap-south-1"]!) }
            """
    }

    static let names = ["us-east-1", "us-east-2", "eu-west-1", "eu-west-2", "ap-south-1"]

    /// Starts the three-region lab, runs `body` with the control plane running, and stops it all.
    static func run<T: Sendable>(
        synchronous: Bool = true,
        maxLag: String = "16MB",
        extra: String = "",
        synchronousStandbys: [String] = ["us-east-2", "eu-west-1", "ap-south-1"],
        synchronousCount: Int = 2,
        stateDirectory: String? = nil,
        probes: String = "health_check_interval: 500ms, probe_timeout: 300ms",
        controlPlanePorts: (@Sendable ([String: Int]) throws -> [String: Int])? = nil,
        startControlPlane: Bool = true,
        monitorThreads: DedicatedThreads? = nil,
        _ body: (FailoverFixture) async throws -> T
    ) async throws -> T {
        let free = try LabCluster.freePorts(names.count)
        let ports = Dictionary(uniqueKeysWithValues: zip(names, free))
        let topologyForLab = try TopologyLoader.parse(
            yaml: topologyYAML(
                ports: ports, synchronous: synchronous, maxLag: maxLag, extra: extra,
                synchronousStandbys: synchronousStandbys, synchronousCount: synchronousCount, probes: probes),
            file: "test.yaml", environment: [:])
        let specs = try LabNodeSpec.layout(of: topologyForLab)
        return try await LabCluster.withCluster(specs, options: LabOptions(topology: topologyForLab)) { lab in
            let viewPorts = try controlPlanePorts?(ports) ?? ports
            let topology = try TopologyLoader.parse(
                yaml: topologyYAML(
                    ports: viewPorts, synchronous: synchronous, maxLag: maxLag, extra: extra,
                    synchronousStandbys: synchronousStandbys, synchronousCount: synchronousCount, probes: probes),
                file: "test.yaml", environment: [:])
            let statePath = (stateDirectory ?? lab.baseDirectory + "/control") + "/state.sqlite"
            let store = try StateStore(path: statePath)
            var logger = Logger(label: "test.failover")
            logger.logLevel =
                ProcessInfo.processInfo.environment["FAILOVER_TEST_LOG"].flatMap(Logger.Level.init(rawValue:))
                ?? .warning
            let monitor = HealthMonitor(
                topology: topology,
                options: HealthMonitor.Options(workload: monitorThreads.map { .dedicated($0) } ?? .monitoring),
                logger: logger)
            let events = RecordedEvents()
            let service = RegionalFailoverService(
                topology: topology, settings: FailoverSettings(policy: topology.failover), monitor: monitor,
                store: store, events: events, logger: logger)
            let fixture = FailoverFixture(
                lab: lab, topology: topology, monitor: monitor, service: service, store: store, events: events,
                statePath: statePath)
            guard startControlPlane else { return try await body(fixture) }
            return try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await monitor.run() }
                group.addTask { try await service.run() }
                defer { group.cancelAll() }
                // Generous: on a loaded machine the first probes may time out a few times.
                try await fixture.waitFor("the service to adopt us-east-1", timeout: .seconds(30)) {
                    await service.status().writeTarget == "us-east-1"
                }
                return try await body(fixture)
            }
        }
    }

    /// Polls `condition` every 20 ms until it holds; fails the test with `what` after `timeout`.
    func waitFor(
        _ what: String, timeout: Duration, sourceLocation: SourceLocation = #_sourceLocation,
        _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out after \(timeout) waiting for \(what)", sourceLocation: sourceLocation)
        throw CancellationError()
    }

    /// The most recent completed or failed operation, once there is one.
    func waitForOperation(timeout: Duration) async throws -> OperationRecord {
        var found: OperationRecord?
        try await waitFor("a finished failover", timeout: timeout) {
            found = try await service.history(limit: 1).first { $0.status != "in_progress" }
            return found != nil
        }
        return found!
    }

    /// The servers that take writes now: answer, are not in recovery and not read-only.
    func writableServers() -> [String] {
        lab.nodes.filter { node in
            lab.isRunning(node.name)
                && (try? sql(
                    node.name,
                    "select not pg_is_in_recovery() and not current_setting('default_transaction_read_only')::bool"))
                    == "t"
        }.map(\.name)
    }

    /// `select ...` on `name` through psql; the answer trimmed.
    func sql(_ name: String, _ statement: String) throws -> String { try lab.sql(name, statement) }

    /// Which node `name` streams from (by port), or nil.
    func upstream(of name: String) throws -> String? {
        let port = try sql(name, "select sender_port from pg_stat_wal_receiver where status = 'streaming'")
        return lab.nodes.first { String($0.port) == port }?.name
    }
}
