public import Foundation
public import Postgres

/// How an observed figure compares with its configured thresholds.
public enum HealthLevel: String, Sendable, Hashable, Comparable, Codable {
    case ok
    case warning
    case critical

    private var rank: Int {
        switch self {
        case .ok: 0
        case .warning: 1
        case .critical: 2
        }
    }

    public static func < (lhs: HealthLevel, rhs: HealthLevel) -> Bool { lhs.rank < rhs.rank }

    /// `value` against `warning` and `critical` (each inclusive).
    public static func classify<T: Comparable>(_ value: T, warning: T, critical: T) -> HealthLevel {
        value >= critical ? .critical : value >= warning ? .warning : .ok
    }
}

/// What an endpoint says it is, from its last successful probe.
public enum ObservedRole: String, Sendable, Hashable, Codable {
    /// Not in recovery: accepts writes (unless fenced read-only).
    case primary
    /// In recovery: a standby.
    case standby
    /// Never answered a probe.
    case unknown
}

/// Everything the control plane knows about one endpoint at one moment. Immutable once published.
public struct EndpointHealth: Sendable, Equatable {
    /// Endpoint name from the cluster file.
    public var endpoint: String
    public var region: String
    /// `host:port`, for messages (never a DSN).
    public var address: String

    /// Whether the last probe succeeded.
    public var reachable: Bool
    /// Failed probes since the last success.
    public var consecutiveFailures: Int
    /// `consecutiveFailures` reached the endpoint's failure threshold.
    public var isDown: Bool
    public var lastProbeAt: Date?
    /// The last successful probe: a failure's onset is after it.
    public var lastSuccessAt: Date?
    /// When the first probe of the current run of failures began (nil while reachable). A crash
    /// noticed by the watch connection is probed at once, so this is within milliseconds of it; a
    /// hang began between ``lastSuccessAt`` and this.
    public var failingSince: Date?
    /// The last failed probe's error, secrets removed.
    public var lastError: String?
    /// The last failed probe was refused: the host answered that nothing listens on the port, so
    /// no server runs there that could take a write. Not set for time-outs (a hang, a cut network).
    public var lastFailureRefused: Bool

    /// Exponentially smoothed probe round trip, milliseconds (nil before the first success).
    public var smoothedLatencyMilliseconds: Double?
    /// The last probe's round trip, milliseconds.
    public var lastLatencyMilliseconds: Double?
    /// Failed probes / all probes over the error-rate window (0...1).
    public var errorRate: Double

    public var role: ObservedRole
    /// Primary: `pg_current_wal_lsn()`.
    public var currentLSN: LSN?
    /// Standby: `pg_last_wal_receive_lsn()`, `pg_last_wal_replay_lsn()`.
    public var receiveLSN: LSN?
    public var replayLSN: LSN?
    /// Standby: WAL bytes behind the primary's last known position (received position, or replayed
    /// when nothing was received by streaming); nil when either side is unknown.
    public var lagBytes: Int64?
    /// Standby: seconds of replay delay as the probe reported it.
    public var lagSeconds: Double?
    /// Standby: the endpoint its WAL receiver streams from, matched by host and port.
    public var upstream: String?
    /// Standby: the WAL receiver's row, if any (status, timeline, last message age).
    public var walReceiver: WalReceiverStatus?
    /// Sender: `pg_stat_replication` rows (application names are endpoint names in our layouts).
    public var replication: [ReplicationPeer]
    /// Whether the last successful probe's replication views answered: when not, ``walReceiver``
    /// and ``replication`` are unknown, not empty.
    public var replicationKnown: Bool
    /// `synchronous_standby_names` at the last successful probe (empty: asynchronous).
    public var synchronousStandbyNames: String?
    /// Primary: its timeline at the last successful probe.
    public var primaryTimeline: Int?
    /// `wal_receiver_timeout` in milliseconds at the last successful probe.
    public var walReceiverTimeoutMilliseconds: Double?

    /// The timeline this endpoint is on, when known: a primary's own, a standby's WAL receiver's
    /// `received_tli` (unknown while it has no receiver).
    public var timeline: Int? {
        role == .primary ? primaryTimeline : walReceiver?.receivedTimeline
    }
    public var serverVersion: Int?

    public var latencyLevel: HealthLevel
    public var lagLevel: HealthLevel
    public var errorRateLevel: HealthLevel

    /// The worst of the three classifications; `critical` when the endpoint is down.
    public var level: HealthLevel {
        isDown ? .critical : max(latencyLevel, lagLevel, errorRateLevel)
    }

    /// The most advanced WAL position this endpoint holds: current for a primary, received (or
    /// replayed, whichever is further) for a standby.
    public var walPosition: LSN? {
        switch role {
        case .primary: currentLSN
        case .standby, .unknown: [receiveLSN, replayLSN].compactMap(\.self).max()
        }
    }

    /// Reachable, not down, and answered its last probe.
    public var isHealthy: Bool { reachable && !isDown }

    public init(endpoint: String, region: String, address: String) {
        self.endpoint = endpoint
        self.region = region
        self.address = address
        self.reachable = false
        self.consecutiveFailures = 0
        self.isDown = false
        self.errorRate = 0
        self.role = .unknown
        self.replication = []
        self.replicationKnown = false
        self.lastFailureRefused = false
        self.latencyLevel = .ok
        self.lagLevel = .ok
        self.errorRateLevel = .ok
    }
}

/// One consistent view of every endpoint, published by the health monitor. Readers never see a
/// half-updated snapshot: each is a new value.
public struct HealthSnapshot: Sendable, Equatable {
    /// Increases by one with every published snapshot.
    public var sequence: UInt64
    public var takenAt: Date
    /// Every endpoint of the topology, in the topology's order (regions by priority, leader first).
    public var endpoints: [EndpointHealth]

    public init(sequence: UInt64, takenAt: Date, endpoints: [EndpointHealth]) {
        self.sequence = sequence
        self.takenAt = takenAt
        self.endpoints = endpoints
    }

    public subscript(endpoint name: String) -> EndpointHealth? {
        endpoints.first { $0.endpoint == name }
    }

    /// Reachable endpoints that say they are primaries (more than one means a split to resolve).
    public var reachablePrimaries: [EndpointHealth] {
        endpoints.filter { $0.reachable && $0.role == .primary }
    }
}
