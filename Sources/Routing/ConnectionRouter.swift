public import Health
public import Topology
public import Vocabulary

/// What a new connection wants.
public struct RouteRequest: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case read
        case write
    }
    public var kind: Kind
    /// The client's region, when known: its replicas are preferred for reads.
    public var clientRegion: String?

    public init(_ kind: Kind, clientRegion: String? = nil) {
        self.kind = kind
        self.clientRegion = clientRegion
    }

    public static let read = RouteRequest(.read)
    public static let write = RouteRequest(.write)
}

/// Why an endpoint was not chosen.
public enum Exclusion: Sendable, Hashable, CustomStringConvertible {
    /// Missing from the health snapshot.
    case noHealth
    case unreachable
    /// Declared down by the health monitor.
    case down
    /// Fenced by the failover service: never routed to.
    case fenced
    /// Not a standby (reads go to replicas; the primary only as a fallback).
    case notAStandby
    /// Replay delay above the bound (seconds, bound).
    case lagTime(Double, Duration)
    /// WAL behind above the bound (bytes, bound).
    case lagBytes(Int64, ByteSize)
    /// Neither lag figure is known yet.
    case lagUnknown
    case breakerOpen
    /// Weight 0 under the weighted strategy.
    case zeroWeight
    /// Outside the client's region while a replica inside it qualifies.
    case otherRegion
    /// Eligible, but another endpoint was preferred by the strategy.
    case notPreferred

    public var description: String {
        switch self {
        case .noHealth: "no health information yet"
        case .unreachable: "unreachable at the last probe"
        case .down: "declared down"
        case .fenced: "fenced (a former primary)"
        case .notAStandby: "not a standby"
        case .lagTime(let seconds, let bound):
            "replay lag \(seconds)s over the bound of \(ValueSyntax.format(bound))"
        case .lagBytes(let bytes, let bound): "\(bytes) bytes of WAL behind, over the bound of \(bound)"
        case .lagUnknown: "replication lag unknown"
        case .breakerOpen: "circuit breaker open"
        case .zeroWeight: "weight 0"
        case .otherRegion: "outside the client's region"
        case .notPreferred: "eligible, another endpoint preferred"
        }
    }

    /// A short label for metrics and status output.
    public var label: String {
        switch self {
        case .noHealth: "no_health"
        case .unreachable: "unreachable"
        case .down: "down"
        case .fenced: "fenced"
        case .notAStandby: "not_a_standby"
        case .lagTime: "lag_time"
        case .lagBytes: "lag_bytes"
        case .lagUnknown: "lag_unknown"
        case .breakerOpen: "circuit_open"
        case .zeroWeight: "zero_weight"
        case .otherRegion: "other_region"
        case .notPreferred: "not_preferred"
        }
    }
}

/// Why no endpoint was returned.
public enum Unavailable: String, Sendable, Hashable, CustomStringConvertible {
    /// A failover or switchover is running: wait for the new primary.
    case failoverInProgress = "failover_in_progress"
    /// The failover service has not published a primary.
    case noPrimaryKnown = "no_primary_known"
    /// The primary's circuit breaker is open.
    case primaryCircuitOpen = "primary_circuit_open"
    /// The published primary is fenced (a table in transition).
    case primaryFenced = "primary_fenced"
    /// No replica qualifies and falling back to the primary is not allowed (or not possible).
    case noEligibleReplica = "no_eligible_replica"

    public var description: String {
        switch self {
        case .failoverInProgress: "a failover is in progress; new writes wait for the new primary"
        case .noPrimaryKnown: "no primary is known; new writes wait until the failover service names one"
        case .primaryCircuitOpen: "the primary's circuit breaker is open after repeated connect failures"
        case .primaryFenced: "the published primary is fenced"
        case .noEligibleReplica: "no replica qualifies for reads (health, lag or circuit breaker)"
        }
    }

    /// Whether waiting may help: the failover service is expected to publish a new table.
    public var isTransient: Bool { self != .noEligibleReplica }
}

/// The router's answer for one new connection.
public enum RouteDecision: Sendable, Hashable {
    /// Connect here. `fallback` is true for a read sent to the primary because no replica qualified;
    /// `probe` is true for a half-open breaker's trial.
    case connect(Target)
    case unavailable(Unavailable)

    public struct Target: Sendable, Hashable {
        /// Position in the router's ``ConnectionRouter/endpoints``; hand it back to the `record`
        /// and `connection` calls.
        public var index: Int
        public var endpoint: String
        public var host: String
        public var port: Int
        public var fallback: Bool
        public var probe: Bool
        /// The adaptive connect timeout for this endpoint.
        public var connectTimeout: Duration
    }

    public var target: Target? {
        if case .connect(let target) = self { target } else { nil }
    }
}

/// An endpoint passed over, and why.
public struct ExcludedEndpoint: Sendable, Hashable {
    public var endpoint: String
    public var reason: Exclusion
}

/// A decision with the reason every other endpoint was passed over.
public struct RouteExplanation: Sendable, Hashable {
    public var decision: RouteDecision
    /// In topology order; the chosen endpoint is absent.
    public var exclusions: [ExcludedEndpoint]

    /// The reason `endpoint` was not chosen, if it was not.
    public func reason(_ endpoint: String) -> Exclusion? {
        exclusions.first { $0.endpoint == endpoint }?.reason
    }
}

/// One endpoint's routing state, for status output and metrics.
public struct EndpointRoutingStatus: Sendable, Hashable, Codable {
    public var endpoint: String
    /// `closed`, `open` or `half_open`.
    public var breaker: String
    /// Times its breaker opened.
    public var breakerOpenings: Int
    /// Connections the proxy has open to it.
    public var activeConnections: Int
    public var connectTimeoutMilliseconds: Double
}

/// Picks the endpoint for each new connection: writes to the published primary, reads to a replica
/// chosen by the configured strategy among those that are healthy, within the lag bound and not
/// behind an open circuit breaker.
///
/// A value type with no I/O and no clock: the caller passes the latest health snapshot, routing table
/// and `now`, and reports connection outcomes back. ``route(_:snapshot:table:now:)`` allocates nothing;
/// ``explain(_:snapshot:table:now:)`` also lists why each other endpoint was passed over.
public struct ConnectionRouter: Sendable {
    public let settings: RoutingSettings
    /// Every endpoint of the topology, in its order (the health snapshot's order).
    public let endpoints: [Endpoint]
    private var breakers: [CircuitBreaker]
    private var timeouts: [AdaptiveTimeout]
    private var active: [Int]
    private var weights: [Int]
    /// Smooth weighted round robin's running scores.
    private var weightScores: [Int]
    /// Latency strategy: endpoints inside the near-best band, with hysteresis on leaving it.
    private var inBand: [Bool]
    /// Last index handed out, for round robin and tie-breaking.
    private var cursor = -1
    /// Indexes of the current candidates; reused between calls so picking allocates nothing.
    private var scratch: [Int]

    public init(settings: RoutingSettings, endpoints: [Endpoint]) {
        self.settings = settings
        self.endpoints = endpoints
        let count = endpoints.count
        self.breakers = Array(repeating: CircuitBreaker(settings: settings.breaker), count: count)
        self.timeouts = Array(repeating: AdaptiveTimeout(settings: settings.connectTimeout), count: count)
        self.active = Array(repeating: 0, count: count)
        self.weights = endpoints.map { settings.weights[$0.name] ?? 1 }
        self.weightScores = Array(repeating: 0, count: count)
        self.inBand = Array(repeating: false, count: count)
        self.scratch = []
        self.scratch.reserveCapacity(count)
    }

    public init(topology: ClusterTopology) {
        self.init(settings: topology.routing, endpoints: topology.allEndpoints)
    }

    public func index(of endpoint: String) -> Int? {
        endpoints.firstIndex { $0.name == endpoint }
    }

    // MARK: Deciding

    /// The endpoint for a new connection. Counts a half-open breaker's trial when it hands one out.
    public mutating func route(
        _ request: RouteRequest,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant
    ) -> RouteDecision {
        var ignored: [(String, Exclusion)]? = nil
        return decide(request, snapshot: snapshot, table: table, now: now, exclusions: &ignored)
    }

    /// Like ``route(_:snapshot:table:now:)`` (and with the same effect on the router's state), plus the
    /// reason every other endpoint was passed over.
    public mutating func explain(
        _ request: RouteRequest,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant
    ) -> RouteExplanation {
        var exclusions: [(String, Exclusion)]? = []
        let decision = decide(request, snapshot: snapshot, table: table, now: now, exclusions: &exclusions)
        let chosen = decision.target?.index
        let listed = (exclusions ?? []).filter { entry in chosen.map { endpoints[$0].name != entry.0 } ?? true }
        return RouteExplanation(
            decision: decision, exclusions: listed.map { ExcludedEndpoint(endpoint: $0.0, reason: $0.1) })
    }

    /// Whether `endpoint` may get new read connections now (ignoring the strategy's preference):
    /// the proxy closes connections to replicas that stay ineligible past the drain grace.
    public func isEligibleReader(
        _ index: Int,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant
    ) -> Bool {
        readerExclusion(index, snapshot: snapshot, table: table, now: now) == nil
    }

    private mutating func decide(
        _ request: RouteRequest,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant,
        exclusions: inout [(String, Exclusion)]?
    ) -> RouteDecision {
        switch request.kind {
        case .write:
            return decideWrite(snapshot: snapshot, table: table, now: now, exclusions: &exclusions)
        case .read:
            return decideRead(request, snapshot: snapshot, table: table, now: now, exclusions: &exclusions)
        }
    }

    private mutating func decideWrite(
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant,
        exclusions: inout [(String, Exclusion)]?
    ) -> RouteDecision {
        if table.writesPaused {
            return .unavailable(.failoverInProgress)
        }
        guard let name = table.writeTarget, let index = index(of: name) else {
            return .unavailable(.noPrimaryKnown)
        }
        if table.fenced.contains(name) {
            exclusions?.append((name, .fenced))
            return .unavailable(.primaryFenced)
        }
        guard let target = admit(index, snapshot: snapshot, now: now, fallback: false) else {
            exclusions?.append((name, .breakerOpen))
            return .unavailable(.primaryCircuitOpen)
        }
        return .connect(target)
    }

    private mutating func decideRead(
        _ request: RouteRequest,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant,
        exclusions: inout [(String, Exclusion)]?
    ) -> RouteDecision {
        let primary = table.writesPaused ? nil : table.writeTarget.flatMap { index(of: $0) }
        if settings.strategy == .failover, let primary,
            writerUsable(primary, snapshot: snapshot, table: table, now: now),
            let target = admit(primary, snapshot: snapshot, now: now, fallback: false)
        {
            noteAll(.notPreferred, except: primary, &exclusions)
            return .connect(target)
        }
        scratch.removeAll(keepingCapacity: true)
        var inRegion = 0
        for index in endpoints.indices {
            if let reason = readerExclusion(index, snapshot: snapshot, table: table, now: now) {
                exclusions?.append((endpoints[index].name, reason))
                continue
            }
            if settings.strategy == .weighted && weights[index] == 0 {
                exclusions?.append((endpoints[index].name, .zeroWeight))
                continue
            }
            scratch.append(index)
            if let region = request.clientRegion, endpoints[index].region == region {
                inRegion += 1
            }
        }
        if let region = request.clientRegion, inRegion > 0, inRegion < scratch.count {
            for index in scratch where endpoints[index].region != region {
                exclusions?.append((endpoints[index].name, .otherRegion))
            }
            scratch.removeAll { endpoints[$0].region != region }
        }
        if let chosen = pick(snapshot: snapshot) {
            for index in scratch where index != chosen {
                exclusions?.append((endpoints[index].name, .notPreferred))
            }
            if let target = admit(chosen, snapshot: snapshot, now: now, fallback: false) {
                return .connect(target)
            }
        }
        if settings.fallbackToPrimary, let primary,
            writerUsable(primary, snapshot: snapshot, table: table, now: now),
            let target = admit(primary, snapshot: snapshot, now: now, fallback: true)
        {
            return .connect(target)
        }
        return .unavailable(.noEligibleReplica)
    }

    /// Why `index` cannot take a new read connection as a replica, or nil when it can.
    private func readerExclusion(
        _ index: Int,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant
    ) -> Exclusion? {
        let name = endpoints[index].name
        guard let health = health(index, snapshot) else {
            return .noHealth
        }
        if table.fenced.contains(name) {
            return .fenced
        }
        if !health.reachable {
            return .unreachable
        }
        if health.isDown {
            return .down
        }
        if health.role != .standby || name == table.writeTarget {
            return .notAStandby
        }
        if health.lagSeconds == nil && health.lagBytes == nil {
            return .lagUnknown
        }
        if let seconds = health.lagSeconds, seconds > settings.maxLagTime.seconds {
            return .lagTime(seconds, settings.maxLagTime)
        }
        if let bytes = health.lagBytes, bytes > settings.maxLagBytes.bytes {
            return .lagBytes(bytes, settings.maxLagBytes)
        }
        if !breakers[index].allows(at: now) {
            return .breakerOpen
        }
        return nil
    }

    private func writerUsable(
        _ index: Int,
        snapshot: HealthSnapshot,
        table: RoutingTable,
        now: ContinuousClock.Instant
    ) -> Bool {
        guard let health = health(index, snapshot) else {
            return false
        }
        return health.isHealthy && !table.fenced.contains(endpoints[index].name) && breakers[index].allows(at: now)
    }

    /// The strategy's choice among `scratch`.
    private mutating func pick(snapshot: HealthSnapshot) -> Int? {
        guard !scratch.isEmpty else {
            return nil
        }
        let chosen: Int
        switch settings.strategy {
        case .roundRobin:
            chosen = nextAfterCursor(scratch)
        case .weighted:
            var total = 0
            var best = scratch[0]
            for index in scratch {
                weightScores[index] += weights[index]
                total += weights[index]
                if weightScores[index] > weightScores[best] {
                    best = index
                }
            }
            weightScores[best] -= total
            chosen = best
        case .leastConnections:
            var fewest = Int.max
            for index in scratch {
                fewest = min(fewest, active[index])
            }
            // Among the least loaded, the next after the last pick, so ties share the load.
            var first: Int?
            var after: Int?
            for index in scratch where active[index] == fewest {
                if first == nil {
                    first = index
                }
                if after == nil && index > cursor {
                    after = index
                }
            }
            chosen = after ?? first ?? scratch[0]
        case .latency, .failover:
            chosen = pickByLatency(snapshot: snapshot)
        }
        cursor = chosen
        return chosen
    }

    /// The band of endpoints near the lowest latency, taken in turn. An endpoint joins the band
    /// within `hysteresis` of the best and leaves it only beyond twice that, so noise around the edge
    /// does not make it flap; taking band members in turn keeps equal replicas from being herded.
    private mutating func pickByLatency(snapshot: HealthSnapshot) -> Int {
        var best = Double.infinity
        for index in scratch {
            best = min(best, latency(index, snapshot))
        }
        let join = best * (1 + settings.latencyHysteresis)
        let stay = best * (1 + 2 * settings.latencyHysteresis)
        var anyInBand = false
        for index in scratch {
            let value = latency(index, snapshot)
            inBand[index] = value <= join || (inBand[index] && value <= stay)
            anyInBand = anyInBand || inBand[index]
        }
        guard anyInBand else {
            return scratch[0]
        }
        var first: Int?
        var after: Int?
        for index in scratch where inBand[index] {
            if first == nil {
                first = index
            }
            if after == nil && index > cursor {
                after = index
            }
        }
        return after ?? first ?? scratch[0]
    }

    private func nextAfterCursor(_ candidates: [Int]) -> Int {
        candidates.first { $0 > cursor } ?? candidates[0]
    }

    /// Passes the breaker and builds the target; nil when the breaker refuses.
    private mutating func admit(
        _ index: Int,
        snapshot: HealthSnapshot,
        now: ContinuousClock.Instant,
        fallback: Bool
    ) -> RouteDecision.Target? {
        let action = breakers[index].request(at: now)
        guard action != .reject else {
            return nil
        }
        let endpoint = endpoints[index]
        let hint = health(index, snapshot)?.smoothedLatencyMilliseconds
        return RouteDecision.Target(
            index: index,
            endpoint: endpoint.name,
            host: endpoint.host,
            port: endpoint.port,
            fallback: fallback,
            probe: action == .probe,
            connectTimeout: timeouts[index].timeout(latencyHintMilliseconds: hint)
        )
    }

    private func health(_ index: Int, _ snapshot: HealthSnapshot) -> EndpointHealth? {
        // The snapshot lists the topology's endpoints in the same order; search only if it does not.
        if index < snapshot.endpoints.count, snapshot.endpoints[index].endpoint == endpoints[index].name {
            return snapshot.endpoints[index]
        }
        return snapshot[endpoint: endpoints[index].name]
    }

    private func latency(_ index: Int, _ snapshot: HealthSnapshot) -> Double {
        health(index, snapshot)?.smoothedLatencyMilliseconds ?? .infinity
    }

    private func noteAll(_ reason: Exclusion, except: Int?, _ exclusions: inout [(String, Exclusion)]?) {
        guard exclusions != nil else {
            return
        }
        for index in endpoints.indices where index != except {
            exclusions?.append((endpoints[index].name, reason))
        }
    }

    // MARK: Outcomes

    /// The outcome of connecting to the target of a decision: feeds its breaker and, on success, its
    /// adaptive timeout.
    public mutating func record(_ index: Int, success: Bool, took duration: Duration?, at now: ContinuousClock.Instant)
    {
        breakers[index].record(success: success, at: now)
        if success, let duration {
            timeouts[index].record(duration)
        }
    }

    /// A proxied connection to `index` opened (`delta` 1) or closed (`delta` -1); used by
    /// ``ReadStrategy/leastConnections`` and status output.
    public mutating func connectionCount(_ index: Int, delta: Int) {
        active[index] = max(0, active[index] + delta)
    }

    /// Operator reset of an endpoint's breaker; false when there is no such endpoint.
    @discardableResult
    public mutating func resetBreaker(_ endpoint: String) -> Bool {
        guard let index = index(of: endpoint) else {
            return false
        }
        breakers[index].reset()
        return true
    }

    public func breaker(_ endpoint: String) -> CircuitBreaker? {
        index(of: endpoint).map { breakers[$0] }
    }

    public func status(at now: ContinuousClock.Instant) -> [EndpointRoutingStatus] {
        endpoints.indices.map { index in
            let state: String =
                switch breakers[index].state(at: now) {
                case .closed: "closed"
                case .open: "open"
                case .halfOpen: "half_open"
                }
            return EndpointRoutingStatus(
                endpoint: endpoints[index].name,
                breaker: state,
                breakerOpenings: breakers[index].openings,
                activeConnections: active[index],
                connectTimeoutMilliseconds: timeouts[index].current.seconds * 1000
            )
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
