public import Topology
import Vocabulary

/// How the failover service behaves; read from the cluster file's `failover:` section.
public struct FailoverSettings: Sendable, Equatable {
    /// A standby still counts as receiving from the primary while its WAL receiver is `streaming`
    /// and its last message from the primary is younger than this. Default 1500 ms: with the
    /// required `wal_receiver_timeout` of 2 s the receiver asks a silent primary for a reply after
    /// 1 s, so a live primary always answers well within it.
    public var streamStaleness: Duration
    /// Minimum time between two automatic failovers; a second one inside it waits for an operator.
    /// Default 5 minutes.
    public var minimumFailoverInterval: Duration
    /// Longest a preferred candidate may spend catching up from a more advanced standby before the
    /// most advanced standby is promoted instead. Default 2 s.
    public var catchUpTimeout: Duration
    /// Longest `pg_promote` may take before the next candidate is tried. Default 10 s.
    public var promoteTimeout: Duration
    /// Longest verification waits for the new primary to be writable and its standbys to attach.
    /// Default 10 s.
    public var verifyTimeout: Duration
    /// Timeout of each SQL statement the service sends (fencing, re-pointing). Default 2 s.
    public var statementTimeout: Duration
    /// How long ``ClusterState/failoverComplete`` is shown after a failover. Default 60 s.
    public var completeStateHold: Duration
    /// Commands run after routing switched (e.g. a DNS update), each with ``hookTimeout``.
    public var hooks: [String]
    /// Optional host-level fencing command for the old primary (after SQL fencing).
    public var fencingCommand: String?
    /// Command an operator may run to rejoin an old primary as a standby (e.g. a pg_rewind script).
    public var rejoinCommand: String?
    /// Timeout of each hook, fencing or rejoin command. Default 30 s.
    public var hookTimeout: Duration
    /// Asynchronous replication only: promote although the old primary may run and was not fenced.
    public var allowUnfencedPromotion: Bool

    public init(
        streamStaleness: Duration = .milliseconds(1500),
        minimumFailoverInterval: Duration = .seconds(300),
        catchUpTimeout: Duration = .seconds(2),
        promoteTimeout: Duration = .seconds(10),
        verifyTimeout: Duration = .seconds(10),
        statementTimeout: Duration = .seconds(2),
        completeStateHold: Duration = .seconds(60),
        hooks: [String] = [],
        fencingCommand: String? = nil,
        rejoinCommand: String? = nil,
        hookTimeout: Duration = .seconds(30),
        allowUnfencedPromotion: Bool = false
    ) {
        self.streamStaleness = streamStaleness
        self.minimumFailoverInterval = minimumFailoverInterval
        self.catchUpTimeout = catchUpTimeout
        self.promoteTimeout = promoteTimeout
        self.verifyTimeout = verifyTimeout
        self.statementTimeout = statementTimeout
        self.completeStateHold = completeStateHold
        self.hooks = hooks
        self.fencingCommand = fencingCommand
        self.rejoinCommand = rejoinCommand
        self.hookTimeout = hookTimeout
        self.allowUnfencedPromotion = allowUnfencedPromotion
    }

    /// The settings a cluster file's `failover:` section asks for; the rest keep their defaults.
    public init(policy: FailoverPolicy) {
        self.init(
            streamStaleness: policy.streamStaleness, minimumFailoverInterval: policy.minimumInterval,
            catchUpTimeout: policy.catchUpTimeout, promoteTimeout: policy.promoteTimeout,
            verifyTimeout: policy.verifyTimeout, hooks: policy.hooks, fencingCommand: policy.fencingCommand,
            rejoinCommand: policy.rejoinCommand, hookTimeout: policy.commandTimeout,
            allowUnfencedPromotion: policy.allowUnfencedPromotion)
    }
}
