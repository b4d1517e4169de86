/// A validated cluster file: every region, endpoint and threshold the control plane works with.
///
/// Built only by ``TopologyLoader``, which reports every problem in the file before returning one.
public struct ClusterTopology: Sendable, Equatable {
    /// The `cluster` key; a label for logs, metrics and alerts.
    public var name: String
    /// The file the topology was read from, as given to the loader; used in messages.
    public var sourceFile: String
    /// How the control plane connects to every endpoint.
    public var connection: ConnectionSettings
    /// Whether commits wait for standbys, and which ones.
    public var replication: ReplicationSettings
    /// Health thresholds for endpoints that do not override them, plus cluster-wide targets.
    public var defaults: HealthSettings
    /// Regions in file order.
    public var regions: [Region]
    /// How failures are detected and handled (the `failover:` section).
    public var failover: FailoverPolicy
    /// The read/write proxy and its router; disabled when the file has no `routing:` section.
    public var routing: RoutingSettings
    /// The admin API (the `api:` section); defaults to loopback port 8008 with no tokens.
    public var api: APISettings

    public init(
        name: String,
        sourceFile: String,
        connection: ConnectionSettings,
        replication: ReplicationSettings,
        defaults: HealthSettings,
        regions: [Region],
        failover: FailoverPolicy = FailoverPolicy(),
        routing: RoutingSettings = RoutingSettings(),
        api: APISettings = APISettings()
    ) {
        self.name = name
        self.sourceFile = sourceFile
        self.connection = connection
        self.replication = replication
        self.defaults = defaults
        self.regions = regions
        self.failover = failover
        self.routing = routing
        self.api = api
    }

    /// Regions ordered highest priority first; the first is where the primary starts.
    public var regionsByPriority: [Region] {
        regions.sorted { $0.priority > $1.priority }
    }

    /// Every endpoint: regions by priority, each region's leader before its replicas.
    public var allEndpoints: [Endpoint] {
        regionsByPriority.flatMap(\.endpoints)
    }

    /// The leader of the highest-priority region: the endpoint that is primary when the cluster is first set up.
    public var initialPrimary: Endpoint? {
        regionsByPriority.first?.leader
    }

    public func region(named name: String) -> Region? {
        regions.first { $0.name == name }
    }

    public func endpoint(named name: String) -> Endpoint? {
        regions.lazy.flatMap(\.endpoints).first { $0.name == name }
    }
}

/// Connection parameters shared by every endpoint.
public struct ConnectionSettings: Sendable, Hashable {
    /// Role used to log in. Default `postgres`.
    public var user: String
    /// Database to connect to. Default `postgres`.
    public var database: String
    /// Password, if the servers ask for one. Default none (trust, peer or a `.pgpass` file).
    public var password: Secret?
    /// libpq `sslmode`. Default ``SSLMode/prefer``.
    public var sslMode: SSLMode
    /// libpq `connect_timeout`. Default 2 seconds; must be more than 0.
    /// libpq counts whole seconds, so callers round it up.
    public var connectTimeout: Duration

    public init(
        user: String = "postgres",
        database: String = "postgres",
        password: Secret? = nil,
        sslMode: SSLMode = .prefer,
        connectTimeout: Duration = .seconds(2)
    ) {
        self.user = user
        self.database = database
        self.password = password
        self.sslMode = sslMode
        self.connectTimeout = connectTimeout
    }
}

/// libpq's `sslmode`; raw values are spelled as in the file and in libpq.
public enum SSLMode: String, Sendable, Hashable, CaseIterable {
    case disable
    case allow
    case prefer
    case require
    case verifyCA = "verify-ca"
    case verifyFull = "verify-full"
}

/// How the primary replicates to standbys.
public enum ReplicationMode: String, Sendable, Hashable, CaseIterable {
    /// Commits return before any standby has the WAL; a failover can lose up to the replication lag.
    case asynchronous
    /// Commits wait for ``ReplicationSettings/synchronousCount`` of the listed standbys, so promoting
    /// the most advanced of them loses nothing.
    case synchronous
}

/// Replication settings; with ``ReplicationMode/synchronous`` they become
/// `synchronous_standby_names = 'ANY <count> (<standbys>)'` on the primary.
public struct ReplicationSettings: Sendable, Hashable {
    /// Default ``ReplicationMode/asynchronous``.
    public var mode: ReplicationMode
    /// Names of standby endpoints that may acknowledge commits. Empty when asynchronous;
    /// non-empty when synchronous, each naming an endpoint that is not the initial primary.
    public var synchronousStandbys: [String]
    /// How many of ``synchronousStandbys`` must acknowledge each commit. Default 1;
    /// bounds 1 through the number of listed standbys.
    public var synchronousCount: Int

    public init(mode: ReplicationMode = .asynchronous, synchronousStandbys: [String] = [], synchronousCount: Int = 1) {
        self.mode = mode
        self.synchronousStandbys = synchronousStandbys
        self.synchronousCount = synchronousCount
    }

    /// The value for PostgreSQL's `synchronous_standby_names`, or nil when asynchronous.
    public var synchronousStandbyNames: String? {
        guard mode == .synchronous else {
            return nil
        }
        return "ANY \(synchronousCount) (\(synchronousStandbys.joined(separator: ", ")))"
    }
}

/// Health-check timings and alert thresholds. Endpoints inherit the file's `defaults`
/// and may override the first five.
public struct HealthSettings: Sendable, Hashable {
    /// Time between probes of one endpoint (`health_check_interval`). Default 30s; more than 0.
    public var probeInterval: Duration
    /// How long one probe may take before it counts as failed. Default the smaller of 5s and half
    /// the interval; more than 0 and less than ``probeInterval``.
    public var probeTimeout: Duration
    /// Consecutive failed probes before an endpoint is declared failed. Default 3; at least 1.
    public var failureThreshold: Int
    /// Probe round trip that raises a warning. Default 1000ms.
    public var responseTimeWarning: Duration
    /// Probe round trip that raises a critical alert. Default 5000ms; more than the warning.
    public var responseTimeCritical: Duration
    /// Standby replay lag that raises a warning. Default 30s.
    public var replicationLagWarning: Duration
    /// Standby replay lag that raises a critical alert. Default 5m; more than the warning.
    public var replicationLagCritical: Duration
    /// Fraction of failed probes (0...1) that raises a warning. Default 0.05 (5%).
    public var errorRateWarning: Double
    /// Fraction of failed probes (0...1) that raises a critical alert. Default 0.20 (20%);
    /// more than the warning, at most 1.
    public var errorRateCritical: Double
    /// A standby further behind than this is not promoted automatically. Default 16MB (16 MiB of WAL).
    public var maxLagOnFailover: ByteSize
    /// Recovery time objective: longest acceptable time from failure to a writable primary. Default 8m.
    public var rtoTarget: Duration
    /// Recovery point objective with synchronous replication. Default 1s.
    public var rpoTargetSynchronous: Duration
    /// Recovery point objective with asynchronous replication. Default 30s.
    public var rpoTargetAsynchronous: Duration

    public init(
        probeInterval: Duration = .seconds(30),
        probeTimeout: Duration? = nil,
        failureThreshold: Int = 3,
        responseTimeWarning: Duration = .milliseconds(1000),
        responseTimeCritical: Duration = .milliseconds(5000),
        replicationLagWarning: Duration = .seconds(30),
        replicationLagCritical: Duration = .seconds(300),
        errorRateWarning: Double = 0.05,
        errorRateCritical: Double = 0.20,
        maxLagOnFailover: ByteSize = .mebibytes(16),
        rtoTarget: Duration = .seconds(480),
        rpoTargetSynchronous: Duration = .seconds(1),
        rpoTargetAsynchronous: Duration = .seconds(30)
    ) {
        self.probeInterval = probeInterval
        self.probeTimeout = probeTimeout ?? HealthSettings.defaultProbeTimeout(interval: probeInterval)
        self.failureThreshold = failureThreshold
        self.responseTimeWarning = responseTimeWarning
        self.responseTimeCritical = responseTimeCritical
        self.replicationLagWarning = replicationLagWarning
        self.replicationLagCritical = replicationLagCritical
        self.errorRateWarning = errorRateWarning
        self.errorRateCritical = errorRateCritical
        self.maxLagOnFailover = maxLagOnFailover
        self.rtoTarget = rtoTarget
        self.rpoTargetSynchronous = rpoTargetSynchronous
        self.rpoTargetAsynchronous = rpoTargetAsynchronous
    }

    /// The probe timeout used when none is configured: 5s, or half the interval if that is shorter,
    /// so a slow probe never overlaps the next one.
    public static func defaultProbeTimeout(interval: Duration) -> Duration {
        min(.seconds(5), interval / 2)
    }
}

/// A region: one leader endpoint and its cascading replicas.
public struct Region: Sendable, Equatable {
    /// Unique name, `[a-z0-9][a-z0-9-]*`.
    public var name: String
    /// 0...1000, unique; the highest-priority healthy region hosts the primary.
    public var priority: Int
    /// Expected client round trip to this region, used to break ties between candidates. Optional.
    public var latencyHint: Duration?
    public var leader: Endpoint
    /// In file order.
    public var replicas: [Endpoint]

    public init(name: String, priority: Int, latencyHint: Duration? = nil, leader: Endpoint, replicas: [Endpoint]) {
        self.name = name
        self.priority = priority
        self.latencyHint = latencyHint
        self.leader = leader
        self.replicas = replicas
    }

    /// The leader, then the replicas in file order.
    public var endpoints: [Endpoint] {
        [leader] + replicas
    }
}

/// An endpoint's place in its region, as configured; which endpoint is primary at run time is
/// observed, not configured.
public enum EndpointRole: String, Sendable, Hashable {
    /// The region's leader: the primary, or a standby of the primary that the region's replicas follow.
    case leader
    /// Streams from its region's leader.
    case replica
}

/// One PostgreSQL server.
public struct Endpoint: Sendable, Hashable {
    /// Unique across the file, `[a-z0-9][a-z0-9-]*`; also its `application_name` on the upstream.
    public var name: String
    /// Name of the region it belongs to.
    public var region: String
    public var role: EndpointRole
    public var host: String
    /// 1...65535.
    public var port: Int
    /// Effective settings: the file's defaults with this endpoint's overrides applied.
    public var health: HealthSettings

    public init(name: String, region: String, role: EndpointRole, host: String, port: Int, health: HealthSettings) {
        self.name = name
        self.region = region
        self.role = role
        self.host = host
        self.port = port
        self.health = health
    }

    /// `host:port`, with IPv6 hosts bracketed; safe to log.
    public var address: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
