/// The cluster file's `failover:` section: how the control plane detects, decides and acts.
/// Every key is optional; the defaults are the safe, fast settings documented in
/// docs/configuration.md and docs/failover.md.
public struct FailoverPolicy: Sendable, Hashable {
    /// After a failed probe, the next one comes this soon (until the endpoint is down or answers).
    /// Default 100 ms; more than 0.
    public var fastReprobeInterval: Duration
    /// A standby still receives from the primary while its last message is younger than this.
    /// Default 1500 ms; needs `wal_receiver_timeout` of about 2 s on the standbys.
    public var streamStaleness: Duration
    /// Minimum time between two automatic failovers; a second one inside it needs an operator.
    /// Default 5 m.
    public var minimumInterval: Duration
    /// Longest a preferred candidate may catch up from a more advanced standby (and a switchover
    /// target from the fenced primary). Default 2 s.
    public var catchUpTimeout: Duration
    /// Longest a promotion may take before the next candidate is tried. Default 10 s.
    public var promoteTimeout: Duration
    /// Longest verification waits for a write and for standbys to attach. Default 10 s.
    public var verifyTimeout: Duration
    /// Commands run after routing switched, in order (placeholders `{old_primary}`, `{new_primary}`,
    /// `{old_host}`, `{old_port}`, `{new_host}`, `{new_port}`, `{cluster}`). Default none.
    public var hooks: [String]
    /// Host-level fencing of the old primary, run after SQL fencing. Default none.
    public var fencingCommand: String?
    /// Rejoins an old primary as a standby when an operator asks (e.g. a pg_rewind script);
    /// placeholders as for hooks plus `{endpoint}`, `{host}`, `{port}`. Default none.
    public var rejoinCommand: String?
    /// Timeout of each hook, fencing or rejoin command. Default 30 s.
    public var commandTimeout: Duration
    /// With asynchronous replication, promote even when the old primary may still be running and
    /// could not be fenced (no answer to SQL, no or a failed `fencing_command`). Off by default: a
    /// cut-off primary would keep committing beside the new one and those commits would be lost.
    public var allowUnfencedPromotion: Bool

    public init(
        fastReprobeInterval: Duration = .milliseconds(100),
        streamStaleness: Duration = .milliseconds(1500),
        minimumInterval: Duration = .seconds(300),
        catchUpTimeout: Duration = .seconds(2),
        promoteTimeout: Duration = .seconds(10),
        verifyTimeout: Duration = .seconds(10),
        hooks: [String] = [],
        fencingCommand: String? = nil,
        rejoinCommand: String? = nil,
        commandTimeout: Duration = .seconds(30),
        allowUnfencedPromotion: Bool = false
    ) {
        self.fastReprobeInterval = fastReprobeInterval
        self.streamStaleness = streamStaleness
        self.minimumInterval = minimumInterval
        self.catchUpTimeout = catchUpTimeout
        self.promoteTimeout = promoteTimeout
        self.verifyTimeout = verifyTimeout
        self.hooks = hooks
        self.fencingCommand = fencingCommand
        self.rejoinCommand = rejoinCommand
        self.commandTimeout = commandTimeout
        self.allowUnfencedPromotion = allowUnfencedPromotion
    }
}
