import Failover
import Foundation
import Health
import Postgres
import Topology

/// The lab layout as inline cluster files, and healthy snapshots of it that tests adjust.
enum Lab {
    static let synchronous = """
        replication:
          mode: synchronous
          synchronous_standbys: [us-east-2, eu-west-1]
          synchronous_count: 1
        """

    static let asynchronous = """
        replication:
          mode: asynchronous
        """

    static let onlyUsEast2Synchronous = """
        replication:
          mode: synchronous
          synchronous_standbys: [us-east-2]
          synchronous_count: 1
        """

    /// us-east (10: us-east-1 leader, us-east-2), eu-west (8: eu-west-1 leader, eu-west-2), ap-south (6: ap-south-1);
    /// `extraUsEastReplica` adds us-east-3 to us-east.
    static func topology(replication: String = synchronous, extraUsEastReplica: Bool = false) throws
        -> ClusterTopology
    {
        let usEast3 = extraUsEastReplica ? "\n      - { name: us-east-3, host: 127.0.0.1, port: 55436 }" : ""
        let yaml = """
            cluster: lab
            connection:
              user: postgres
              database: postgres
              sslmode: disable
            \(replication)
            defaults:
              health_check_interval: 1s
              probe_timeout: 500ms
            regions:
              - name: us-east
                priority: 10
                leader: { name: us-east-1, host: 127.0.0.1, port: 25431 }
                replicas:
                  - { name: us-east-2, host: 127.0.0.1, port: 25432 }\(usEast3)
              - name: eu-west
                priority: 8
                leader: { name: eu-west-1, host: 127.0.0.1, port: 25433 }
                replicas:
                  - { name: eu-west-2, host: 127.0.0.1, port: 25434 }
              - name: ap-south
                priority: 6
                leader: { name: ap-south-1, host: 127.0.0.1, port: 25435 }
            """
        return try TopologyLoader.parse(yaml: yaml, file: "lab.yaml", environment: [:])
    }
}

/// A healthy cluster: us-east-1 primary at `primaryPosition`, every standby streaming from its expected upstream.
///
/// Default positions behind the primary: us-east-2 0x100, us-east-3 0x180, eu-west-1 0x200, eu-west-2 0x300,
/// ap-south-1 0x400. Latencies (ms): us-east-1 1, us-east-2 2, us-east-3 3, eu-west-1 40, eu-west-2 45,
/// ap-south-1 120.
struct Cluster {
    static let primaryPosition: UInt64 = 0x1_0000_0000
    static let behind: [String: UInt64] = [
        "us-east-2": 0x100, "us-east-3": 0x180, "eu-west-1": 0x200, "eu-west-2": 0x300, "ap-south-1": 0x400,
    ]
    static let latency: [String: Double] = [
        "us-east-1": 1, "us-east-2": 2, "us-east-3": 3, "eu-west-1": 40, "eu-west-2": 45, "ap-south-1": 120,
    ]
    static let start = Date(timeIntervalSince1970: 1_700_000_000)

    let topology: ClusterTopology
    var endpoints: [EndpointHealth]

    init(topology: ClusterTopology) {
        self.topology = topology
        let primary = "us-east-1"
        endpoints = topology.allEndpoints.map { endpoint in
            var health = EndpointHealth(endpoint: endpoint.name, region: endpoint.region, address: endpoint.address)
            health.reachable = true
            health.lastProbeAt = Cluster.start
            health.lastSuccessAt = Cluster.start
            health.smoothedLatencyMilliseconds = Cluster.latency[endpoint.name]
            health.lastLatencyMilliseconds = Cluster.latency[endpoint.name]
            health.serverVersion = 150_000
            health.replicationKnown = true
            if endpoint.name == primary {
                health.role = .primary
                health.currentLSN = LSN(Cluster.primaryPosition)
                health.synchronousStandbyNames =
                    topology.replication.mode == .synchronous
                    ? "ANY \(topology.replication.synchronousCount) ("
                        + topology.replication.synchronousStandbys.map { "\"\($0)\"" }.joined(separator: ", ") + ")"
                    : ""
            } else {
                let behind = Cluster.behind[endpoint.name] ?? 0
                let position = LSN(Cluster.primaryPosition - behind)
                health.role = .standby
                health.receiveLSN = position
                health.replayLSN = position
                health.lagBytes = Int64(behind)
                health.lagSeconds = 0
                let upstream = ReplicationLayout.expectedUpstream(
                    of: endpoint.name, primary: primary, topology: topology, snapshot: nil)
                health.upstream = upstream
                let sender = upstream.flatMap { topology.endpoint(named: $0) }
                health.walReceiver = WalReceiverStatus(
                    pid: 4242, status: "streaming", receivedTimeline: 1, flushedLSN: position, latestEndLSN: position,
                    senderHost: sender?.host, senderPort: sender?.port, lastMessageReceiptAge: 0.2)
            }
            return health
        }
    }

    /// The lab with synchronous replication to us-east-2 and eu-west-1.
    static func synchronous() throws -> Cluster {
        Cluster(topology: try Lab.topology(replication: Lab.synchronous))
    }

    /// The lab with asynchronous replication.
    static func asynchronous(extraUsEastReplica: Bool = false) throws -> Cluster {
        Cluster(topology: try Lab.topology(replication: Lab.asynchronous, extraUsEastReplica: extraUsEastReplica))
    }

    var snapshot: HealthSnapshot {
        HealthSnapshot(sequence: 1, takenAt: Cluster.start, endpoints: endpoints)
    }

    subscript(name: String) -> EndpointHealth {
        get { endpoints.first { $0.endpoint == name }! }
        set {
            let index = endpoints.firstIndex { $0.endpoint == name }!
            endpoints[index] = newValue
        }
    }

    /// Stopped answering long enough to be declared down.
    mutating func down(_ names: String...) {
        for name in names {
            self[name].reachable = false
            self[name].isDown = true
            self[name].consecutiveFailures = 3
            self[name].lastError = "connection refused"
            self[name].lastFailureRefused = true
        }
    }

    /// Stopped answering long enough to be declared down, by time-outs: a hang or a cut network,
    /// not a dead server.
    mutating func silent(_ names: String...) {
        for name in names {
            self[name].reachable = false
            self[name].isDown = true
            self[name].consecutiveFailures = 3
            self[name].lastError = "no connection within 300 ms"
            self[name].lastFailureRefused = false
        }
    }

    /// Failed its last probe, not yet down.
    mutating func unreachable(_ name: String, failures: Int = 1, error: String = "timeout after 500ms") {
        self[name].reachable = false
        self[name].isDown = false
        self[name].consecutiveFailures = failures
        self[name].lastError = error
    }

    /// Answers, but its WAL receiver lost the stream.
    mutating func lostStream(_ names: String...) {
        for name in names {
            self[name].walReceiver?.status = "waiting"
            self[name].walReceiver?.senderHost = nil
            self[name].walReceiver?.senderPort = nil
            self[name].upstream = nil
        }
    }

    /// Sets how far behind the old primary's position a standby is (received and replayed).
    mutating func position(_ name: String, behind: UInt64) {
        let position = LSN(Cluster.primaryPosition - behind)
        self[name].receiveLSN = position
        self[name].replayLSN = position
        self[name].lagBytes = Int64(behind)
    }

    /// The position `behind` bytes before the primary's.
    static func lsn(behind: UInt64) -> LSN {
        LSN(primaryPosition - behind)
    }
}
