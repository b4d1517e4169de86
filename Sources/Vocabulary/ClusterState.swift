/// The cluster as a whole, as operators and the admin API see it. The rules are in docs/failover.md.
public enum ClusterState: String, Sendable, Codable, CaseIterable {
    /// The write target and every endpoint are healthy, every standby streams.
    case healthy = "HEALTHY"
    /// Writes work or are about to be failed over, but something is not well: an endpoint down or
    /// over a threshold, a standby not streaming, or the write target failing its probes.
    case degraded = "DEGRADED"
    /// A failover or switchover is running; writes are paused.
    case failoverInProgress = "FAILOVER_IN_PROGRESS"
    /// A failover finished recently and every standby streams from the new topology.
    case failoverComplete = "FAILOVER_COMPLETE"
    /// A failover finished recently and some standby is still re-attaching.
    case recoveryInProgress = "RECOVERY_IN_PROGRESS"
    /// No endpoint answers: nothing is known to be healthy.
    case unknown = "UNKNOWN"
}
