/// How the router picks a replica for a new read-only connection.
public enum ReadStrategy: String, Sendable, Hashable, CaseIterable {
    /// Lowest smoothed probe latency, with ``RoutingSettings/latencyHysteresis`` so near-equal replicas
    /// neither flap nor all receive the same burst.
    case latency
    /// Each eligible replica in turn.
    case roundRobin = "round_robin"
    /// In proportion to ``RoutingSettings/weights`` (smooth weighted round robin: exact over a cycle).
    case weighted
    /// The replica with the fewest open proxied connections.
    case leastConnections = "least_connections"
    /// The primary while it is healthy; replicas only when it is not.
    case failover
}

/// A `host:port` to listen on.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// An IP address or host name; IPv6 without brackets.
    public var host: String
    /// 0...65535; 0 lets the system choose (tests).
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Per-endpoint circuit breaker: after ``failureThreshold`` failed connects within ``window`` the
/// endpoint gets no new connections for ``openDuration``; then at most ``halfOpenTrials`` trial
/// connections decide whether it closes again.
public struct BreakerSettings: Sendable, Hashable {
    /// Failures within ``window`` that open the breaker. Default 3; at least 1.
    public var failureThreshold: Int
    /// Default 15s; more than 0.
    public var window: Duration
    /// How long an open breaker refuses before it lets trials through. Default 5s; more than 0.
    public var openDuration: Duration
    /// Trial connections allowed at once while half-open. Default 1; at least 1.
    public var halfOpenTrials: Int

    public init(
        failureThreshold: Int = 3,
        window: Duration = .seconds(15),
        openDuration: Duration = .seconds(5),
        halfOpenTrials: Int = 1
    ) {
        self.failureThreshold = failureThreshold
        self.window = window
        self.openDuration = openDuration
        self.halfOpenTrials = halfOpenTrials
    }
}

/// Connect timeout derived from observed connect times: the 99th percentile of recent connects times
/// ``factor``, clamped to ``minimum``...``maximum``.
public struct AdaptiveTimeoutSettings: Sendable, Hashable {
    /// Default 100ms; more than 0.
    public var minimum: Duration
    /// Default 2s; at least ``minimum``. Also used before anything was observed.
    public var maximum: Duration
    /// Default 4; more than 0.
    public var factor: Double

    public init(minimum: Duration = .milliseconds(100), maximum: Duration = .seconds(2), factor: Double = 4) {
        self.minimum = minimum
        self.maximum = maximum
        self.factor = factor
    }
}

/// One named share of the proxy's connection budget.
public struct ConnectionPool: Sendable, Hashable {
    /// `writes` (read-write listener), `reads` (read-only listener), or any other name (kept for
    /// administrative use, e.g. `admin`, `reserve`).
    public var name: String
    /// Most connections open at once in this pool; at least 0.
    public var size: Int

    public init(name: String, size: Int) {
        self.name = name
        self.size = size
    }
}

/// The `routing:` section: the read/write proxy, how it picks endpoints, and its limits.
public struct RoutingSettings: Sendable, Hashable {
    /// Whether the proxy runs. Default false (no `routing:` section); true when the section is present
    /// unless it says `enabled: false`.
    public var enabled: Bool
    /// Read-write listener: every connection goes to the primary. Default `127.0.0.1:6432`.
    public var listenReadWrite: ListenAddress
    /// Read-only listener: connections go to an eligible replica. Default `127.0.0.1:6433`.
    public var listenReadOnly: ListenAddress
    /// Default ``ReadStrategy/latency``.
    public var strategy: ReadStrategy
    /// Relative weights by endpoint name for ``ReadStrategy/weighted``; an endpoint not listed has
    /// weight 1, weight 0 takes no reads. Each 0...1000.
    public var weights: [String: Int]
    /// A replica whose replay delay exceeds this gets no new reads. Default 30s; 0 or more.
    public var maxLagTime: Duration
    /// A replica further behind than this much WAL gets no new reads. Default 16MB; 0 or more.
    public var maxLagBytes: ByteSize
    /// Send reads to the primary when no replica qualifies; otherwise refuse them. Default true.
    public var fallbackToPrimary: Bool
    /// A replica is replaced by a faster one only when the faster one is at least this fraction
    /// quicker, so near-equal replicas do not flap. Default 20%; 0 to 100%.
    public var latencyHysteresis: Double
    /// How long a new read-write connection waits for a primary during a failover before it gets an
    /// error. Default 5s; 0 or more.
    public var holdTimeout: Duration
    /// How long open connections to a replica that left the eligible set may live on. Default 10s.
    public var drainGrace: Duration
    /// Most proxied connections open at once. Default 100; at least 1.
    public var maxConnections: Int
    /// The budget's split; sizes add up to at most ``maxConnections``. Default writes 60, reads 35,
    /// admin 5 (of 100).
    public var pools: [ConnectionPool]
    /// How long a connection waits for a free place in its pool before it gets SQLSTATE 53300.
    /// Default 2s; 0 or more.
    public var queueTimeout: Duration
    public var breaker: BreakerSettings
    public var connectTimeout: AdaptiveTimeoutSettings

    public init(
        enabled: Bool = false,
        listenReadWrite: ListenAddress = ListenAddress(host: "127.0.0.1", port: 6432),
        listenReadOnly: ListenAddress = ListenAddress(host: "127.0.0.1", port: 6433),
        strategy: ReadStrategy = .latency,
        weights: [String: Int] = [:],
        maxLagTime: Duration = .seconds(30),
        maxLagBytes: ByteSize = .mebibytes(16),
        fallbackToPrimary: Bool = true,
        latencyHysteresis: Double = 0.2,
        holdTimeout: Duration = .seconds(5),
        drainGrace: Duration = .seconds(10),
        maxConnections: Int = 100,
        pools: [ConnectionPool] = RoutingSettings.defaultPools,
        queueTimeout: Duration = .seconds(2),
        breaker: BreakerSettings = BreakerSettings(),
        connectTimeout: AdaptiveTimeoutSettings = AdaptiveTimeoutSettings()
    ) {
        self.enabled = enabled
        self.listenReadWrite = listenReadWrite
        self.listenReadOnly = listenReadOnly
        self.strategy = strategy
        self.weights = weights
        self.maxLagTime = maxLagTime
        self.maxLagBytes = maxLagBytes
        self.fallbackToPrimary = fallbackToPrimary
        self.latencyHysteresis = latencyHysteresis
        self.holdTimeout = holdTimeout
        self.drainGrace = drainGrace
        self.maxConnections = maxConnections
        self.pools = pools
        self.queueTimeout = queueTimeout
        self.breaker = breaker
        self.connectTimeout = connectTimeout
    }

    /// writes 60, reads 35, admin 5.
    public static let defaultPools = [
        ConnectionPool(name: "writes", size: 60), ConnectionPool(name: "reads", size: 35),
        ConnectionPool(name: "admin", size: 5),
    ]

    /// The size of the pool named `name`, or nil when there is none.
    public func pool(named name: String) -> ConnectionPool? {
        pools.first { $0.name == name }
    }
}
