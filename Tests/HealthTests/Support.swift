import Foundation
import Health
import Postgres
import Synchronization
import Topology

/// Builders shared by the health tests: endpoints, topologies, and probe results.
enum Fixtures {
    static func settings(
        interval: Duration = .seconds(1),
        threshold: Int = 3
    ) -> HealthSettings {
        HealthSettings(probeInterval: interval, failureThreshold: threshold)
    }

    static func endpoint(
        _ name: String,
        region: String = "us-east",
        host: String = "127.0.0.1",
        port: Int,
        role: EndpointRole = .leader,
        health: HealthSettings = settings()
    ) -> Endpoint {
        Endpoint(name: name, region: region, role: role, host: host, port: port, health: health)
    }

    /// One region per endpoint, priorities in the given order (first is highest).
    static func topology(_ endpoints: [Endpoint]) -> ClusterTopology {
        let regions = endpoints.enumerated().map { index, endpoint in
            Region(name: endpoint.region, priority: 100 - index, leader: endpoint, replicas: [])
        }
        return ClusterTopology(
            name: "test",
            sourceFile: "test.yaml",
            connection: ConnectionSettings(),
            replication: ReplicationSettings(),
            defaults: HealthSettings(),
            regions: regions
        )
    }

    static func failure(_ endpoint: Endpoint, latency: Duration = .milliseconds(5)) -> EndpointProbe {
        var probe = EndpointProbe(endpoint: endpoint.address)
        probe.latency = latency
        return probe
    }

    static func primary(
        _ endpoint: Endpoint,
        lsn: UInt64 = 0x3000,
        latency: Duration = .milliseconds(5)
    ) -> EndpointProbe {
        var probe = EndpointProbe(endpoint: endpoint.address)
        probe.reachable = true
        probe.latency = latency
        probe.isInRecovery = false
        probe.currentLSN = LSN(lsn)
        return probe
    }

    static func standby(
        _ endpoint: Endpoint,
        receive: UInt64? = 0x2000,
        replay: UInt64? = 0x1800,
        lagSeconds: Double? = 0,
        sender: (host: String, port: Int)? = nil,
        latency: Duration = .milliseconds(5)
    ) -> EndpointProbe {
        var probe = EndpointProbe(endpoint: endpoint.address)
        probe.reachable = true
        probe.latency = latency
        probe.isInRecovery = true
        probe.receiveLSN = receive.map(LSN.init)
        probe.replayLSN = replay.map(LSN.init)
        probe.replicationLagSeconds = lagSeconds
        if let sender {
            probe.walReceiver = WalReceiverStatus(
                pid: 42,
                status: "streaming",
                receivedTimeline: 1,
                flushedLSN: receive.map(LSN.init),
                latestEndLSN: receive.map(LSN.init),
                senderHost: sender.host,
                senderPort: sender.port,
                lastMessageReceiptAge: 0.1
            )
        }
        return probe
    }

    /// Whole milliseconds, for printing measurements.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
    static func eventually(
        within timeout: Duration = .seconds(5),
        _ condition: () -> Bool
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition() {
                return true
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }
}

/// Probe calls seen by a fake probe: which endpoint, and when (continuous clock).
final class ProbeLog: Sendable {
    private let calls = Mutex<[(endpoint: String, at: ContinuousClock.Instant)]>([])

    func append(_ endpoint: String) {
        calls.withLock { $0.append((endpoint, ContinuousClock.now)) }
    }

    func times(of endpoint: String) -> [ContinuousClock.Instant] {
        calls.withLock { $0.filter { $0.endpoint == endpoint }.map(\.at) }
    }

    func count(of endpoint: String) -> Int {
        times(of: endpoint).count
    }
}
