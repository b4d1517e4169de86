public import Foundation
public import Postgres
public import Topology

/// What one endpoint's probes add up to: failure count, smoothed latency, error rate, role and WAL
/// positions, and the three threshold levels.
///
/// A pure value: no I/O and no clock of its own. The caller records each probe result with the
/// time it finished, so tests drive it with fixed dates.
public struct EndpointHealthTracker: Sendable, Equatable {
    /// A state change worth logging or alerting on, returned by ``record(_:at:)``.
    public enum Event: Sendable, Hashable {
        /// Consecutive failures reached the failure threshold.
        case wentDown(failures: Int)
        /// A probe succeeded after the endpoint had been down.
        case cameUp
        /// A successful probe reported a different role than the last one (a promotion, or a
        /// standby where a primary was).
        case roleChanged(from: ObservedRole, to: ObservedRole)
    }

    /// Weight of the newest sample in the smoothed latency: `0.3`. High enough that a lasting
    /// slowdown shows within three or four probes, low enough that one slow probe does not cross a
    /// threshold on its own. The first successful probe seeds the average.
    public static let latencySmoothing = 0.3

    /// Probes in the error-rate window: the last `20`. With the default 5% warning threshold, one
    /// failure in the window is a warning and four are critical (20%).
    public static let errorRateWindow = 20

    /// The endpoint, with its effective thresholds.
    public var endpoint: Endpoint

    private var state: EndpointHealth
    /// Outcomes of the last ``errorRateWindow`` probes, oldest first; `true` is a failure.
    private var outcomes: [Bool] = []

    /// A tracker that has seen no probe: not reachable, not down, role unknown.
    public init(endpoint: Endpoint) {
        self.endpoint = endpoint
        self.state = EndpointHealth(endpoint: endpoint.name, region: endpoint.region, address: endpoint.address)
    }

    /// Failed probes since the last success.
    public var consecutiveFailures: Int { state.consecutiveFailures }

    /// Consecutive failures reached the endpoint's failure threshold.
    public var isDown: Bool { state.isDown }

    /// Whether the last probe succeeded.
    public var reachable: Bool { state.reachable }

    /// The role reported by the last successful probe.
    public var role: ObservedRole { state.role }

    /// `pg_current_wal_lsn()` from the last successful probe, when the endpoint was a primary.
    public var currentLSN: LSN? { state.currentLSN }

    /// Adds one probe result.
    ///
    /// A probe counts as successful when it is ``EndpointProbe/reachable`` (the role query
    /// answered), even if a later replication query failed; that error is still kept as
    /// ``EndpointHealth/lastError``. A failed probe keeps the last known role, positions and
    /// replication rows: the failover service needs the last position of a primary that died.
    ///
    /// - Parameters:
    ///   - probe: The probe result.
    ///   - now: When the probe finished.
    /// - Returns: The state changes this probe caused, in the order down/up, role.
    @discardableResult
    public mutating func record(_ probe: EndpointProbe, at now: Date) -> [Event] {
        var events: [Event] = []
        let settings = endpoint.health
        state.lastProbeAt = now
        state.lastLatencyMilliseconds = Self.milliseconds(probe.latency)
        if let error = probe.error {
            // PostgresError's description is scrubbed of the password.
            state.lastError = error.description
        }
        outcomes.append(!probe.reachable)
        if outcomes.count > Self.errorRateWindow {
            outcomes.removeFirst(outcomes.count - Self.errorRateWindow)
        }
        state.errorRate = Double(outcomes.count { $0 }) / Double(outcomes.count)

        if probe.reachable {
            if state.isDown {
                events.append(.cameUp)
            }
            state.reachable = true
            state.consecutiveFailures = 0
            state.isDown = false
            state.failingSince = nil
            state.lastSuccessAt = now
            let latency = Self.milliseconds(probe.latency)
            state.smoothedLatencyMilliseconds =
                state.smoothedLatencyMilliseconds.map {
                    Self.latencySmoothing * latency + (1 - Self.latencySmoothing) * $0
                } ?? latency
            let role: ObservedRole =
                switch probe.isInRecovery {
                case true?: .standby
                case false?: .primary
                case nil: .unknown
                }
            if state.role != .unknown, role != state.role {
                events.append(.roleChanged(from: state.role, to: role))
            }
            state.role = role
            state.currentLSN = probe.currentLSN
            state.receiveLSN = probe.receiveLSN
            state.replayLSN = probe.replayLSN
            state.lagSeconds = probe.replicationLagSeconds
            state.walReceiver = probe.walReceiver
            state.replication = probe.replication
            state.replicationKnown = probe.replicationAnswered
            state.synchronousStandbyNames = probe.synchronousStandbyNames
            state.primaryTimeline = probe.timeline
            state.walReceiverTimeoutMilliseconds = probe.walReceiverTimeoutMilliseconds
            state.lastFailureRefused = false
            state.serverVersion = probe.serverVersion
        } else {
            state.reachable = false
            state.lastFailureRefused = probe.error?.isConnectionRefused ?? false
            if state.consecutiveFailures == 0 {
                // The failing probe began this long ago; the failure started before it.
                state.failingSince = now.addingTimeInterval(-Self.milliseconds(probe.latency) / 1000)
            }
            state.consecutiveFailures += 1
            if probe.error == nil {
                state.lastError = "\(probe.endpoint): no answer"
            }
            if !state.isDown && state.consecutiveFailures >= settings.failureThreshold {
                state.isDown = true
                events.append(.wentDown(failures: state.consecutiveFailures))
            }
        }

        state.latencyLevel =
            state.smoothedLatencyMilliseconds.map {
                HealthLevel.classify(
                    $0,
                    warning: Self.milliseconds(settings.responseTimeWarning),
                    critical: Self.milliseconds(settings.responseTimeCritical)
                )
            } ?? .ok
        state.lagLevel =
            state.lagSeconds.map {
                HealthLevel.classify(
                    $0,
                    warning: Self.seconds(settings.replicationLagWarning),
                    critical: Self.seconds(settings.replicationLagCritical)
                )
            } ?? .ok
        state.errorRateLevel = HealthLevel.classify(
            state.errorRate,
            warning: settings.errorRateWarning,
            critical: settings.errorRateCritical
        )
        return events
    }

    /// The endpoint's health for a snapshot.
    ///
    /// - Parameters:
    ///   - primaryPosition: The primary's WAL position (see
    ///     ``HealthSnapshot/primaryPosition(of:lastKnown:)``); a standby's ``EndpointHealth/lagBytes``
    ///     is this minus its ``EndpointHealth/walPosition``, at least 0, and nil when either is unknown.
    ///   - endpointsByAddress: Endpoint names by ``addressKey(host:port:)``, to name a standby's
    ///     upstream from its WAL receiver's `sender_host` and `sender_port`.
    public func health(primaryPosition: LSN?, endpointsByAddress: [String: String]) -> EndpointHealth {
        var health = state
        if health.role == .standby, let primaryPosition, let position = health.walPosition {
            health.lagBytes = max(primaryPosition - position, 0)
        }
        if health.role == .standby, let receiver = health.walReceiver, let host = receiver.senderHost,
            let port = receiver.senderPort
        {
            health.upstream = endpointsByAddress[Self.addressKey(host: host, port: port)]
        }
        return health
    }

    /// A key that matches one server however its address is spelled: `localhost`, `127.0.0.1` and
    /// `::1` are the same loopback host; other names are compared without case.
    public static func addressKey(host: String, port: Int) -> String {
        let lowered = host.lowercased()
        let normalized =
            switch lowered {
            case "localhost", "127.0.0.1", "::1", "[::1]": "127.0.0.1"
            default: lowered
            }
        return "\(normalized):\(port)"
    }

    /// Endpoint names by ``addressKey(host:port:)``, for ``health(primaryPosition:endpointsByAddress:)``.
    public static func endpointsByAddress(_ endpoints: [Endpoint]) -> [String: String] {
        var names: [String: String] = [:]
        for endpoint in endpoints {
            names[addressKey(host: endpoint.host, port: endpoint.port)] = endpoint.name
        }
        return names
    }

    private static func milliseconds(_ duration: Duration) -> Double {
        seconds(duration) * 1000
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
