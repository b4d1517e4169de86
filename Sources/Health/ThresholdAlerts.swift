public import Foundation
public import Logging
public import ServiceLifecycle
import Topology
public import Vocabulary

/// Raises and clears the threshold alerts from health snapshots: `endpoint_slow` (smoothed
/// response time), `replication_lag` (a standby's replay lag in seconds) and `error_rate_high`
/// (failed probes among the last twenty), each at the levels the endpoint's thresholds give.
///
/// Hysteresis: a level counts only once `consecutive` new probe results in a row showed it, so a
/// value that hovers at a threshold neither flaps nor floods channels; the smoothing of latency
/// (EWMA) and of the error rate (a window) adds to that. Going up fires the alert at the new
/// severity (warning: medium, critical: high); going back to normal sends the event that
/// resolves it. An endpoint that is down is `endpoint_down`'s business: its other metrics wait.
///
/// Pure: no clock and no I/O; the caller passes the time.
public struct ThresholdAlerts: Sendable {
    public enum Metric: String, Sendable, CaseIterable {
        case responseTime = "response_time"
        case replicationLag = "replication_lag"
        case errorRate = "error_rate"

        var firing: ControlEvent.Kind {
            switch self {
            case .responseTime: .endpointSlow
            case .replicationLag: .replicationLag
            case .errorRate: .errorRateHigh
            }
        }

        var cleared: ControlEvent.Kind {
            switch self {
            case .responseTime: .endpointSlowCleared
            case .replicationLag: .replicationLagCleared
            case .errorRate: .errorRateCleared
            }
        }
    }

    private struct Track: Sendable {
        /// The level last announced.
        var announced: HealthLevel = .ok
        /// The level of the latest results, and how many in a row showed it.
        var observed: HealthLevel = .ok
        var streak = 0
    }

    public let cluster: String
    public let consecutive: Int
    private var tracks: [String: [Metric: Track]] = [:]
    /// The probe time of the last result counted per endpoint: a snapshot republished for another
    /// endpoint's probe is not a new observation of this one.
    private var lastCounted: [String: Date] = [:]

    public init(cluster: String, consecutive: Int = 3) {
        self.cluster = cluster
        self.consecutive = max(1, consecutive)
    }

    /// The events `snapshot` calls for, in endpoint order.
    public mutating func observe(_ snapshot: HealthSnapshot, at now: Date) -> [ControlEvent] {
        var events: [ControlEvent] = []
        for health in snapshot.endpoints {
            guard let probedAt = health.lastProbeAt, lastCounted[health.endpoint] != probedAt else { continue }
            lastCounted[health.endpoint] = probedAt
            guard !health.isDown else { continue }
            for metric in Metric.allCases {
                guard let level = Self.level(of: metric, in: health) else { continue }
                var track = tracks[health.endpoint, default: [:]][metric] ?? Track()
                if level == track.observed {
                    track.streak += 1
                } else {
                    track.observed = level
                    track.streak = 1
                }
                if track.observed != track.announced && track.streak >= consecutive {
                    track.announced = track.observed
                    events.append(event(metric, level: track.announced, health: health, at: now))
                }
                tracks[health.endpoint, default: [:]][metric] = track
            }
        }
        return events
    }

    /// The level a result shows for `metric`; nil when the result says nothing about it (an
    /// unreachable endpoint's latency and lag, a primary's lag).
    static func level(of metric: Metric, in health: EndpointHealth) -> HealthLevel? {
        switch metric {
        case .responseTime:
            health.reachable && health.smoothedLatencyMilliseconds != nil ? health.latencyLevel : nil
        case .replicationLag:
            health.reachable && health.role == .standby && health.lagSeconds != nil ? health.lagLevel : nil
        case .errorRate:
            health.errorRateLevel
        }
    }

    private func event(_ metric: Metric, level: HealthLevel, health: EndpointHealth, at now: Date) -> ControlEvent {
        var facts = ["level": level.rawValue]
        let what: String
        switch metric {
        case .responseTime:
            let milliseconds = health.smoothedLatencyMilliseconds ?? 0
            facts["latency_ms"] = String(format: "%.1f", milliseconds)
            what = String(format: "responds in %.0f ms", milliseconds)
        case .replicationLag:
            let seconds = health.lagSeconds ?? 0
            facts["lag_seconds"] = String(format: "%.1f", seconds)
            if let bytes = health.lagBytes { facts["lag_bytes"] = String(bytes) }
            what = String(format: "replays %.1f s behind its primary", seconds)
        case .errorRate:
            facts["error_rate"] = String(format: "%.2f", health.errorRate)
            what = String(format: "fails %.0f%% of its recent probes", health.errorRate * 100)
        }
        let kind = level == .ok ? metric.cleared : metric.firing
        let summary =
            level == .ok
            ? "\(health.endpoint) (\(health.address)) is back under its \(metric.rawValue) warning threshold: \(what)"
            : "\(health.endpoint) (\(health.address)) \(what): above its \(metric.rawValue) \(level.rawValue) threshold"
        return ControlEvent(
            kind: kind, severity: Self.severity(level), cluster: cluster, region: health.region,
            endpoint: health.endpoint, summary: summary, facts: facts, at: now,
            dedupKey: "\(cluster)/\(metric.firing.rawValue)/\(health.endpoint)")
    }

    static func severity(_ level: HealthLevel) -> ControlEvent.Severity {
        switch level {
        case .ok: .low
        case .warning: .medium
        case .critical: .high
        }
    }
}

/// Runs ``ThresholdAlerts`` over the health monitor's snapshots and emits what it calls for.
/// It only reports: the failover service decides nothing from these alerts.
public final class ThresholdAlertMonitor: Service {
    private let monitor: HealthMonitor
    private let events: any EventSink
    private let logger: Logger

    public init(monitor: HealthMonitor, events: any EventSink, logger: Logger) {
        self.monitor = monitor
        self.events = events
        self.logger = logger
    }

    public func run() async {
        var rule = ThresholdAlerts(cluster: monitor.topology.name)
        for await snapshot in monitor.snapshots().cancelOnGracefulShutdown() {
            for event in rule.observe(snapshot, at: Date()) {
                logger.notice(
                    "threshold crossed",
                    metadata: ["kind": "\(event.kind.rawValue)", "endpoint": "\(event.endpoint ?? "")"])
                events.emit(event)
            }
        }
    }
}
