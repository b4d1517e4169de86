import CoreMetrics
import Failover
import Foundation
import Health
public import Prometheus
import Proxy
import Routing
import StateStore
import Synchronization
import Vocabulary

/// The control plane's Prometheus metrics: names and labels are listed here and in docs/metrics.md.
///
/// Metrics go through swift-metrics into a swift-prometheus registry owned by this value, so several
/// control planes in one process (tests) do not share counters; `failoverd` also bootstraps the
/// global metrics system with ``factory`` so that libraries report into the same registry.
public final class APIMetrics: Sendable {
    /// Metric names, each used once.
    enum Name {
        static let state = "failover_state"
        static let total = "failover_total"
        static let recoveries = "failover_recoveries_total"
        static let healthCheckFailures = "failover_health_check_failures_total"
        static let primaryHealthy = "failover_primary_healthy"
        static let standbyHealthy = "failover_standby_healthy"
        static let paused = "failover_automatic_paused"
        static let endpointUp = "failover_endpoint_up"
        static let probeLatency = "failover_probe_latency_seconds"
        static let lagBytes = "failover_replication_lag_bytes"
        static let lagSeconds = "failover_replication_lag_seconds"
        static let alertDeliveries = "failover_alert_deliveries_total"
        static let alertFailures = "failover_alert_delivery_failures_total"
        static let lastRTO = "failover_last_rto_seconds"
        static let lastRPO = "failover_last_rpo_bytes"
        static let breakerState = "failover_endpoint_breaker_state"
        static let proxyConnections = "failover_proxy_active_connections"
    }

    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory

    private struct Counts {
        /// Failure counts already added to the counters, per endpoint, so each probe counts once.
        var lastProbeSeen: [String: Date] = [:]
        /// Operation and delivery counts already exported, by label set.
        var exported: [String: Int] = [:]
    }
    private let counts = Mutex(Counts())

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
    }

    private func gauge(_ name: String, _ labels: [(String, String)] = []) -> CoreMetrics.Gauge {
        CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
    }

    /// Brings the counters up to `total` (they only grow: the store's history only grows).
    private func advance(_ name: String, _ labels: [(String, String)], to total: Int) {
        let key = name + labels.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
        let delta = counts.withLock { counts -> Int in
            let before = counts.exported[key] ?? 0
            guard total > before else { return 0 }
            counts.exported[key] = total
            return total - before
        }
        let counter = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
        if delta > 0 { counter.increment(by: delta) }
    }

    /// Per-endpoint gauges and the probe-failure counter, from one health snapshot.
    func record(_ snapshot: HealthSnapshot, writeTarget: String?) {
        var healthyStandbys = 0
        for endpoint in snapshot.endpoints {
            let labels = [("endpoint", endpoint.endpoint), ("region", endpoint.region)]
            gauge(Name.endpointUp, labels).record(endpoint.isHealthy ? 1 : 0)
            if let latency = endpoint.lastLatencyMilliseconds {
                gauge(Name.probeLatency, labels).record(latency / 1000)
            }
            if let bytes = endpoint.lagBytes { gauge(Name.lagBytes, labels).record(Double(bytes)) }
            if let seconds = endpoint.lagSeconds { gauge(Name.lagSeconds, labels).record(seconds) }
            if endpoint.endpoint != writeTarget && endpoint.isHealthy && endpoint.role == .standby {
                healthyStandbys += 1
            }
            let failedNewProbe = counts.withLock { counts -> Bool in
                guard let at = endpoint.lastProbeAt, counts.lastProbeSeen[endpoint.endpoint] != at else {
                    return false
                }
                counts.lastProbeSeen[endpoint.endpoint] = at
                return !endpoint.reachable
            }
            // Created even at zero, so the series exists before the first failure.
            let failures = CoreMetrics.Counter(label: Name.healthCheckFailures, dimensions: labels, factory: factory)
            if failedNewProbe { failures.increment() }
        }
        let primaryHealthy = writeTarget.flatMap { snapshot[endpoint: $0] }?.isHealthy ?? false
        gauge(Name.primaryHealthy).record(primaryHealthy ? 1 : 0)
        gauge(Name.standbyHealthy).record(healthyStandbys)
    }

    /// The values read from the decision-maker and the state store, refreshed at each scrape.
    func refresh(status: RegionalFailoverService.Status, store: StateStore) async {
        for state in ClusterState.allCases {
            gauge(Name.state, [("state", state.rawValue)]).record(state == status.state ? 1 : 0)
        }
        gauge(Name.paused).record(status.automaticFailoverPaused ? 1 : 0)
        if let operations = try? await store.operations(limit: 10_000) {
            let records = operations.compactMap {
                try? OperationRecord.decoder().decode(OperationRecord.self, from: $0.payload)
            }
            for kind in [OperationKind.automaticFailover, .manualFailover, .switchover] {
                let ofKind = records.filter { $0.kind == kind }
                advance(Name.total, [("kind", kind.rawValue)], to: ofKind.count)
                advance(
                    Name.recoveries, [("kind", kind.rawValue)], to: ofKind.filter { $0.status == "completed" }.count)
            }
            if let last = records.first(where: { $0.status == "completed" }) {
                if let rto = last.rtoSeconds { gauge(Name.lastRTO).record(rto) }
                if let rpo = last.rpoBytes { gauge(Name.lastRPO).record(Double(rpo)) }
            }
        }
        if let deliveries = try? await store.alertDeliveries(limit: 10_000) {
            for channel in Set(deliveries.map(\.channel)) {
                let mine = deliveries.filter { $0.channel == channel }
                advance(
                    Name.alertDeliveries, [("channel", channel)], to: mine.filter { $0.status == "delivered" }.count)
                advance(Name.alertFailures, [("channel", channel)], to: mine.filter { $0.status == "failed" }.count)
            }
        }
    }

    /// Circuit breaker state (0 closed, 1 half open, 2 open) and active connections per endpoint.
    func record(_ proxy: ProxyStatus) {
        for endpoint in proxy.endpoints {
            let value: Double =
                switch endpoint.breaker {
                case "closed": 0
                case "half_open": 1
                default: 2
                }
            gauge(Name.breakerState, [("endpoint", endpoint.endpoint)]).record(value)
            gauge(Name.proxyConnections, [("endpoint", endpoint.endpoint)]).record(endpoint.activeConnections)
        }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> String { registry.emitToString() }
}
