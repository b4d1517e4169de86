/// One walsender on a sending server: a row of `pg_stat_replication`.
public struct ReplicationPeer: Sendable, Hashable {
    /// Process ID of the walsender.
    public var pid: Int32
    /// The standby's `application_name` (what `synchronous_standby_names` refers to).
    public var applicationName: String
    /// The standby's address, `nil` for a Unix-socket connection.
    public var clientAddress: String?
    /// `startup`, `catchup`, `streaming`, `backup`, or `stopping`.
    public var state: String
    /// Last WAL position sent to the standby.
    public var sentLSN: LSN?
    /// Last position the standby wrote to disk.
    public var writeLSN: LSN?
    /// Last position the standby flushed to disk (durable there).
    public var flushLSN: LSN?
    /// Last position the standby replayed (visible to its readers).
    public var replayLSN: LSN?
    /// Seconds between a local flush and the standby's write report; `nil` once the standby is
    /// idle and caught up (PostgreSQL resets the lags then).
    public var writeLag: Double?
    /// Seconds between a local flush and the standby's flush report; `nil` when idle.
    public var flushLag: Double?
    /// Seconds between a local flush and the standby's replay report; `nil` when idle.
    public var replayLag: Double?
    /// `async`, `potential`, `sync`, or `quorum`.
    public var syncState: String

    /// Creates a peer description.
    public init(
        pid: Int32,
        applicationName: String,
        clientAddress: String?,
        state: String,
        sentLSN: LSN?,
        writeLSN: LSN?,
        flushLSN: LSN?,
        replayLSN: LSN?,
        writeLag: Double?,
        flushLag: Double?,
        replayLag: Double?,
        syncState: String
    ) {
        self.pid = pid
        self.applicationName = applicationName
        self.clientAddress = clientAddress
        self.state = state
        self.sentLSN = sentLSN
        self.writeLSN = writeLSN
        self.flushLSN = flushLSN
        self.replayLSN = replayLSN
        self.writeLag = writeLag
        self.flushLag = flushLag
        self.replayLag = replayLag
        self.syncState = syncState
    }
}

/// A standby's WAL receiver: the row of `pg_stat_wal_receiver` (absent when none runs).
public struct WalReceiverStatus: Sendable, Hashable {
    /// Process ID of the WAL receiver.
    public var pid: Int32
    /// `streaming`, `starting`, `waiting`, `restarting`, or `stopping`.
    public var status: String
    /// Timeline of the last WAL received (`received_tli`). A standby whose timeline differs
    /// from its upstream's after a promotion has not followed the switch.
    public var receivedTimeline: Int?
    /// Last position flushed to disk by the receiver (`flushed_lsn`).
    public var flushedLSN: LSN?
    /// Last end-of-WAL position the sender reported (`latest_end_lsn`).
    public var latestEndLSN: LSN?
    /// Host the receiver streams from (`sender_host`; needs superuser or `pg_read_all_stats`).
    public var senderHost: String?
    /// Port the receiver streams from (`sender_port`).
    public var senderPort: Int?
    /// Seconds since the last message from the sender (`now() - last_msg_receipt_time`, in the
    /// standby's clock). Grows without bound when the upstream hangs; the sender's keepalives
    /// (`wal_sender_timeout / 2`) keep it small when idle.
    public var lastMessageReceiptAge: Double?

    /// Creates a receiver description.
    public init(
        pid: Int32,
        status: String,
        receivedTimeline: Int?,
        flushedLSN: LSN?,
        latestEndLSN: LSN?,
        senderHost: String?,
        senderPort: Int?,
        lastMessageReceiptAge: Double?
    ) {
        self.pid = pid
        self.status = status
        self.receivedTimeline = receivedTimeline
        self.flushedLSN = flushedLSN
        self.latestEndLSN = latestEndLSN
        self.senderHost = senderHost
        self.senderPort = senderPort
        self.lastMessageReceiptAge = lastMessageReceiptAge
    }
}

/// What one look at an endpoint found: whether it answers, its role, its WAL positions, and who
/// streams from or to it.
///
/// Three queries, each one round trip: role and positions, `pg_stat_replication`, and
/// `pg_stat_wal_receiver`. Needs a superuser or a role with `pg_monitor` (for `sender_host`).
public struct EndpointProbe: Sendable {
    /// `host:port` of the endpoint.
    public var endpoint: String
    /// Whether a connection was made and the role query answered within the deadline.
    public var reachable: Bool
    /// The first failure, if any. A probe can be `reachable` and still carry an error when a
    /// later query (replication views) failed.
    public var error: PostgresError?
    /// Time from the start of the probe until the role query answered (connect included when
    /// the probe connected), or until it failed.
    public var latency: Duration
    /// Round trip of the role query alone; `nil` if it did not answer.
    public var queryLatency: Duration?
    /// Server version, e.g. `150013` (`PQserverVersion`).
    public var serverVersion: Int?
    /// `pg_is_in_recovery()`: `true` on a standby, `false` on a primary.
    public var isInRecovery: Bool?
    /// `pg_current_wal_lsn()` on a primary; `nil` on a standby.
    public var currentLSN: LSN?
    /// `pg_last_wal_receive_lsn()` on a standby: WAL received and flushed by streaming.
    public var receiveLSN: LSN?
    /// `pg_last_wal_replay_lsn()` on a standby: WAL replayed.
    public var replayLSN: LSN?
    /// `pg_last_xact_replay_timestamp()` in seconds since 1970 (UTC): commit time, on the primary,
    /// of the last transaction replayed here.
    public var lastReplayTimestamp: Double?
    /// Replay delay in seconds on a standby: `0` when everything received has been replayed
    /// (`receiveLSN == replayLSN`, or nothing received by streaming), else
    /// `now() - pg_last_xact_replay_timestamp()` (at least `0`; `nil` if no transaction was
    /// replayed yet). It says how stale reads here are, not how far behind the primary the
    /// received WAL is: compare LSNs for that. `nil` on a primary.
    public var replicationLagSeconds: Double?
    /// Walsenders on this server, one per streaming standby or backup, ordered by
    /// `application_name`. Empty on an unreachable endpoint.
    public var replication: [ReplicationPeer]
    /// The WAL receiver, on a standby that runs one.
    public var walReceiver: WalReceiverStatus?
    /// Whether both replication views answered: only then do ``replication`` and ``walReceiver``
    /// say something (an empty answer is an answer; a timed-out one is not).
    public var replicationAnswered: Bool
    /// `synchronous_standby_names` as the server has it now (empty: asynchronous commits).
    public var synchronousStandbyNames: String?
    /// A primary's timeline (from the name of its current WAL file); nil on a standby, whose
    /// timeline is its WAL receiver's `received_tli`.
    public var timeline: Int?
    /// `wal_receiver_timeout` in milliseconds (0: disabled).
    public var walReceiverTimeoutMilliseconds: Double?

    /// An empty probe result for `endpoint`, not reachable.
    public init(endpoint: String) {
        self.endpoint = endpoint
        self.reachable = false
        self.error = nil
        self.latency = .zero
        self.queryLatency = nil
        self.serverVersion = nil
        self.isInRecovery = nil
        self.currentLSN = nil
        self.receiveLSN = nil
        self.replayLSN = nil
        self.lastReplayTimestamp = nil
        self.replicationLagSeconds = nil
        self.replication = []
        self.walReceiver = nil
        self.replicationAnswered = false
        self.synchronousStandbyNames = nil
        self.timeline = nil
        self.walReceiverTimeoutMilliseconds = nil
    }

    /// Connects afresh, probes, and closes, all within `timeout`.
    ///
    /// A fresh connection each time is deliberate: a crashed server refuses it at once, which
    /// detects a crash faster than a query on an old connection. Never throws: failures are in
    /// ``error``, with ``reachable`` `false` when nothing answered.
    ///
    /// - Parameters:
    ///   - configuration: The endpoint.
    ///   - timeout: Deadline for connect and all queries together.
    ///   - workload: Whose threads run it: the failover flow confirms on its own.
    public static func probe(
        _ configuration: PostgresConfiguration, timeout: Duration, workload: PostgresWorkload = .monitoring
    ) async -> EndpointProbe {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + timeout
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration, timeout: timeout, workload: workload)
        } catch {
            var probe = EndpointProbe(endpoint: configuration.endpoint)
            probe.error = error
            probe.latency = clock.now - start
            return probe
        }
        defer { connection.close() }
        return await run(on: connection, start: start, deadline: deadline)
    }

    /// Probes over an existing connection within `timeout`. A timeout abandons the connection
    /// (see ``PostgresConnection/query(_:_:timeout:)``); check `isClosed` before reusing it.
    public static func probe(_ connection: PostgresConnection, timeout: Duration) async -> EndpointProbe {
        let start = ContinuousClock.now
        return await run(on: connection, start: start, deadline: start + timeout)
    }

    private static let stateQuery = """
        select pg_is_in_recovery() as in_recovery,
               case when pg_is_in_recovery() then null else pg_current_wal_lsn()::text end as current_lsn,
               pg_last_wal_receive_lsn()::text as receive_lsn,
               pg_last_wal_replay_lsn()::text as replay_lsn,
               extract(epoch from pg_last_xact_replay_timestamp())::float8 as last_replay,
               extract(epoch from now() - pg_last_xact_replay_timestamp())::float8 as replay_age,
               current_setting('synchronous_standby_names') as synchronous_standby_names,
               case when pg_is_in_recovery() then null
                    else ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int end as timeline,
               (select setting::float8 from pg_settings where name = 'wal_receiver_timeout') as receiver_timeout
        """

    private static let replicationQuery = """
        select pid, application_name, host(client_addr) as client_addr, state,
               sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,
               extract(epoch from write_lag)::float8 as write_lag,
               extract(epoch from flush_lag)::float8 as flush_lag,
               extract(epoch from replay_lag)::float8 as replay_lag,
               sync_state
        from pg_stat_replication
        order by application_name, pid
        """

    private static let walReceiverQuery = """
        select pid, status, received_tli, flushed_lsn::text, latest_end_lsn::text,
               sender_host, sender_port,
               extract(epoch from now() - last_msg_receipt_time)::float8 as receipt_age
        from pg_stat_wal_receiver
        """

    private static func run(
        on connection: PostgresConnection,
        start: ContinuousClock.Instant,
        deadline: ContinuousClock.Instant
    ) async -> EndpointProbe {
        var probe = EndpointProbe(endpoint: connection.configuration.endpoint)
        probe.serverVersion = connection.serverVersion
        func remaining() -> Duration { max(deadline - ContinuousClock.now, .zero) }

        let queryStart = ContinuousClock.now
        do {
            let state = try await connection.query(stateQuery, timeout: remaining())
            let now = ContinuousClock.now
            probe.latency = now - start
            probe.queryLatency = now - queryStart
            guard let row = state.first, let inRecovery = row.bool("in_recovery") else {
                probe.error = PostgresError(
                    .queryFailed,
                    "the role query returned no usable row",
                    configuration: connection.configuration
                )
                return probe
            }
            probe.reachable = true
            probe.isInRecovery = inRecovery
            probe.currentLSN = row.lsn("current_lsn")
            probe.receiveLSN = row.lsn("receive_lsn")
            probe.replayLSN = row.lsn("replay_lsn")
            probe.lastReplayTimestamp = row.double("last_replay")
            probe.synchronousStandbyNames = row.string("synchronous_standby_names")
            probe.timeline = row.int("timeline").map { Int($0) }
            probe.walReceiverTimeoutMilliseconds = row.double("receiver_timeout")
            if inRecovery {
                if probe.receiveLSN == nil || probe.receiveLSN == probe.replayLSN {
                    probe.replicationLagSeconds = 0
                } else {
                    probe.replicationLagSeconds = row.double("replay_age").map { max($0, 0) }
                }
            }
        } catch {
            probe.error = error
            probe.latency = ContinuousClock.now - start
            return probe
        }

        do {
            let peers = try await connection.query(replicationQuery, timeout: remaining())
            probe.replication = peers.rows.map { row in
                ReplicationPeer(
                    pid: Int32(truncatingIfNeeded: row.int("pid") ?? 0),
                    applicationName: row.string("application_name") ?? "",
                    clientAddress: row.string("client_addr"),
                    state: row.string("state") ?? "",
                    sentLSN: row.lsn("sent_lsn"),
                    writeLSN: row.lsn("write_lsn"),
                    flushLSN: row.lsn("flush_lsn"),
                    replayLSN: row.lsn("replay_lsn"),
                    writeLag: row.double("write_lag"),
                    flushLag: row.double("flush_lag"),
                    replayLag: row.double("replay_lag"),
                    syncState: row.string("sync_state") ?? ""
                )
            }
            let receiver = try await connection.query(walReceiverQuery, timeout: remaining())
            probe.walReceiver = receiver.first.map { row in
                WalReceiverStatus(
                    pid: Int32(truncatingIfNeeded: row.int("pid") ?? 0),
                    status: row.string("status") ?? "",
                    receivedTimeline: row.int("received_tli").map { Int($0) },
                    flushedLSN: row.lsn("flushed_lsn"),
                    latestEndLSN: row.lsn("latest_end_lsn"),
                    senderHost: row.string("sender_host"),
                    senderPort: row.int("sender_port").map { Int($0) },
                    lastMessageReceiptAge: row.double("receipt_age")
                )
            }
            probe.replicationAnswered = true
        } catch {
            probe.error = error
        }
        return probe
    }
}
