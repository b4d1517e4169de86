public import Foundation
public import Health
import Postgres
public import Vocabulary

/// The pure rule that names the cluster state.
public enum ClusterStateRules {
    /// - Parameters:
    ///   - writeTarget: the endpoint writes go to, if any.
    ///   - operationRunning: a failover or switchover is in flight.
    ///   - lastFailoverFinishedAt: when the last failover or switchover completed.
    ///   - hold: how long after completion the `FAILOVER_COMPLETE`/`RECOVERY_IN_PROGRESS` states last.
    public static func state(
        snapshot: HealthSnapshot,
        writeTarget: String?,
        operationRunning: Bool,
        lastFailoverFinishedAt: Date?,
        now: Date,
        hold: Duration
    ) -> ClusterState {
        if operationRunning { return .failoverInProgress }
        let healthy = snapshot.endpoints.filter(\.isHealthy)
        if healthy.isEmpty { return .unknown }
        let standbys = healthy.filter { $0.endpoint != writeTarget }
        let allStreaming = standbys.allSatisfy { $0.role == .standby && $0.walReceiver?.status == "streaming" }
        if let finished = lastFailoverFinishedAt, now.timeIntervalSince(finished) < hold.seconds {
            return allStreaming ? .failoverComplete : .recoveryInProgress
        }
        guard let writeTarget, let primary = snapshot[endpoint: writeTarget], primary.isHealthy,
            primary.role == .primary
        else { return .degraded }
        let everyoneWell = snapshot.endpoints.allSatisfy { $0.isHealthy && $0.level == .ok }
        return everyoneWell && allStreaming ? .healthy : .degraded
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
