public import Foundation

/// Something operators should hear about. The alerting pipeline delivers these; the service only
/// emits them and never waits for delivery.
public struct ControlEvent: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case endpointDown = "endpoint_down"
        case endpointRecovered = "endpoint_recovered"
        case failoverTriggered = "failover_triggered"
        case failoverCompleted = "failover_completed"
        case failoverFailed = "failover_failed"
        case failoverBlocked = "failover_blocked"
        case partitionSuspected = "partition_suspected"
        case oldPrimaryReturned = "old_primary_returned"
        case switchoverCompleted = "switchover_completed"
        case endpointSlow = "endpoint_slow"
        /// Resolves `endpoint_slow`: the response time is back under its warning threshold.
        case endpointSlowCleared = "endpoint_slow_cleared"
        case replicationLag = "replication_lag"
        /// Resolves `replication_lag`: the standby's lag is back under its warning threshold.
        case replicationLagCleared = "replication_lag_cleared"
        /// Probes of an endpoint fail more often than `error_rate_warning` / `_critical`.
        case errorRateHigh = "error_rate_high"
        /// Resolves `error_rate_high`.
        case errorRateCleared = "error_rate_cleared"
        case circuitOpen = "circuit_open"
        /// Resolves the `circuit_open` alert of the same cluster, endpoint and channel.
        case circuitClosed = "circuit_closed"
        case configReloadFailed = "config_reload_failed"
        /// The primary has fewer synchronous standbys streaming than a commit needs: commits wait.
        case synchronousQuorumLost = "synchronous_quorum_lost"
        /// Resolves `synchronous_quorum_lost`: enough synchronous standbys stream again.
        case synchronousQuorumRestored = "synchronous_quorum_restored"
    }
    public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
        case low, medium, high, critical

        /// Ordered from `low` to `critical`.
        public static func < (lhs: Self, rhs: Self) -> Bool {
            lhs.rank < rhs.rank
        }

        private var rank: Int {
            switch self {
            case .low: 0
            case .medium: 1
            case .high: 2
            case .critical: 3
            }
        }
    }
    public var kind: Kind
    public var severity: Severity
    public var cluster: String
    public var region: String?
    public var endpoint: String?
    /// One line for a human.
    public var summary: String
    /// The facts behind it (latency, lag, candidate and why, RTO/RPO...).
    public var facts: [String: String]
    public var at: Date
    /// Groups repeats of the same condition.
    public var dedupKey: String

    public init(
        kind: Kind, severity: Severity, cluster: String, region: String? = nil, endpoint: String? = nil,
        summary: String, facts: [String: String] = [:], at: Date, dedupKey: String
    ) {
        self.kind = kind
        self.severity = severity
        self.cluster = cluster
        self.region = region
        self.endpoint = endpoint
        self.summary = summary
        self.facts = facts
        self.at = at
        self.dedupKey = dedupKey
    }
}

/// Where the service sends events. `emit` must return at once: delivery happens elsewhere.
public protocol EventSink: Sendable {
    func emit(_ event: ControlEvent)
}
