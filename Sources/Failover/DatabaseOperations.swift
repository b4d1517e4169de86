import Foundation
import Health
import Postgres
import Topology

/// The SQL the failover flow sends: fencing, re-pointing, catching up, promoting, verifying.
/// Each call opens its own short-lived connection with the configured deadlines, so a hung server
/// costs one deadline and never a stuck session.
struct DatabaseOperations: Sendable {
    var topology: ClusterTopology
    var settings: FailoverSettings

    /// How long a connection attempt to the old primary may take: it is already failing, and a
    /// hung one must not delay the failover by more than this.
    var suspectConnectTimeout: Duration { min(topology.connection.connectTimeout, .milliseconds(500)) }
    /// How long a connection attempt to any other server may take inside the flow. Generous: a
    /// standby that answers slowly on a busy machine is slow, not gone.
    var connectTimeout: Duration { min(topology.connection.connectTimeout, .seconds(2)) }

    func configuration(_ name: String) throws(FailoverError) -> PostgresConfiguration {
        guard let endpoint = topology.endpoint(named: name) else { throw .unknownEndpoint(name) }
        return PostgresConfiguration(endpoint: endpoint, connection: topology.connection)
    }

    func connect(_ name: String, timeout: Duration? = nil) async throws -> PostgresConnection {
        try await PostgresConnection.connect(
            configuration(name), timeout: timeout ?? connectTimeout, workload: .failover)
    }

    /// Runs statements in order on one connection to `name`; returns the last result.
    @discardableResult
    func run(_ name: String, _ statements: [String], timeout: Duration? = nil) async throws -> PostgresResult? {
        let connection = try await connect(name)
        defer { connection.close() }
        var last: PostgresResult?
        for statement in statements {
            last = try await connection.query(statement, timeout: timeout ?? settings.statementTimeout)
        }
        return last
    }

    /// ``fence(_:)``, once more when it reached the server and failed half-way (a statement that
    /// failed or timed out, a connection lost mid-fence): a half-done fence may have left client
    /// sessions able to write. A server that cannot be reached at all is not retried: it is
    /// unreachable for this step.
    func fenceRetrying(_ name: String) async throws -> LSN? {
        do {
            return try await fence(name)
        } catch let error as PostgresError where error.kind != .connectTimeout && error.kind != .connectionFailed {
            return try await fence(name)
        }
    }

    /// Makes `name` refuse writes: read-only by default for new transactions, client sessions ended.
    /// Returns its WAL position after fencing (its final position when nothing else writes).
    func fence(_ name: String) async throws -> LSN? {
        let connection = try await connect(name, timeout: suspectConnectTimeout)
        defer { connection.close() }
        let timeout = settings.statementTimeout
        _ = try await connection.query("ALTER SYSTEM SET default_transaction_read_only = on", timeout: timeout)
        _ = try await connection.query("SELECT pg_reload_conf()", timeout: timeout)
        // Without pg_terminate_backend's timeout argument: it would wait in 100 ms steps.
        let terminated = try await connection.query(
            """
            SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
            """, timeout: timeout)
        // A terminated backend may still be writing its commit record: the final position is read
        // only once every one of them has exited (bounded by the statement timeout).
        let pids = "{" + terminated.rows.compactMap { $0.string("pid") }.joined(separator: ",") + "}"
        let deadline = ContinuousClock.now + timeout
        while pids != "{}" && ContinuousClock.now < deadline {
            let left = try await connection.query(
                "SELECT count(*) AS left FROM pg_stat_activity WHERE pid = ANY($1::int[])", [pids], timeout: timeout)
            if left.first?.string("left") == "0" { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        let position = try await connection.query(
            "SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END AS lsn",
            timeout: timeout)
        return position.first?.lsn("lsn")
    }

    /// Lifts a fence set by ``fence(_:)`` (after a failed switchover, or on an endpoint that is
    /// primary again by an operator's decision).
    func unfence(_ name: String) async throws {
        try await run(name, ["ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"])
    }

    /// Points the standby `name` at `upstream` without a restart (PostgreSQL 13+).
    func repoint(_ name: String, to upstream: String) async throws {
        let conninfo = try conninfo(for: upstream, applicationName: name)
        try await run(
            name, ["ALTER SYSTEM SET primary_conninfo = \(sqlLiteral(conninfo))", "SELECT pg_reload_conf()"])
    }

    /// Sets the synchronous standbys `name` will wait for once it is primary.
    func setSynchronousStandbys(_ name: String, _ value: String) async throws {
        try await run(
            name,
            ["ALTER SYSTEM SET synchronous_standby_names = \(sqlLiteral(value))", "SELECT pg_reload_conf()"])
    }

    /// The WAL `name` holds: received (or replayed) for a standby, current for a primary.
    func position(_ name: String, connection: PostgresConnection? = nil) async throws -> LSN? {
        let sql = """
            SELECT CASE WHEN pg_is_in_recovery()
                THEN greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())
                ELSE pg_current_wal_lsn() END AS lsn
            """
        if let connection {
            return try await connection.query(sql, timeout: settings.statementTimeout).first?.lsn("lsn")
        }
        return try await run(name, [sql])?.first?.lsn("lsn")
    }

    /// Polls `name` until it holds at least `target`, or `timeout` passes. Returns its position.
    func waitForPosition(_ name: String, atLeast target: LSN, timeout: Duration) async throws -> LSN? {
        let connection = try await connect(name)
        defer { connection.close() }
        let deadline = ContinuousClock.now + timeout
        var position = try await self.position(name, connection: connection)
        while (position ?? LSN(0)) < target && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
            position = try await self.position(name, connection: connection)
        }
        return position
    }

    /// How a promotion ended.
    enum PromotionOutcome: Sendable {
        /// Out of recovery, at this position.
        case promoted(LSN?)
        /// `pg_promote` never reached the server (no connection) or the server refused it while
        /// still in recovery: nothing will change there.
        case notSent(String)
        /// `pg_promote` may have reached the server, and it did not answer that it left recovery:
        /// it may still do so at any moment.
        case inDoubt(String)
    }

    /// Promotes `name` and waits until it leaves recovery.
    ///
    /// `pg_promote(wait => false)` and a 5 ms poll: with `wait => true` the server checks in 100 ms
    /// steps, which costs up to 100 ms of write downtime for nothing.
    func promote(_ name: String) async -> PromotionOutcome {
        let connection: PostgresConnection
        do {
            connection = try await connect(name)
        } catch {
            return .notSent("\(error)")
        }
        defer { connection.close() }
        let timeout = settings.statementTimeout
        do {
            _ = try await connection.query("SELECT pg_promote(wait => false)", timeout: timeout)
        } catch {
            // The server answered with an error: if it is still in recovery, nothing happened.
            if error.kind == .queryFailed,
                let recovering = try? await connection.query(
                    "SELECT pg_is_in_recovery() AS recovering", timeout: timeout
                ).first?.bool("recovering")
            {
                return recovering
                    ? .notSent("\(error)") : .promoted(try? await position(name, connection: connection))
            }
            return .inDoubt("\(error)")
        }
        let deadline = ContinuousClock.now + settings.promoteTimeout
        do {
            while ContinuousClock.now < deadline {
                let answer = try await connection.query("SELECT pg_is_in_recovery() AS recovering", timeout: timeout)
                if answer.first?.bool("recovering") == false {
                    return .promoted(try await position(name, connection: connection))
                }
                try await Task.sleep(for: .milliseconds(5))
            }
        } catch {
            return .inDoubt("\(error)")
        }
        return .inDoubt("still in recovery after \(settings.promoteTimeout)")
    }

    /// Whether `name` is a standby now.
    func isInRecovery(_ name: String) async throws -> Bool {
        let answer = try await run(name, ["SELECT pg_is_in_recovery() AS recovering"])
        guard let recovering = answer?.first?.bool("recovering") else {
            throw FailoverError.failed("\(name) did not say whether it is in recovery")
        }
        return recovering
    }

    /// Whether `name` accepts a real write: creates (once) and updates a one-row table.
    func writeProbe(_ name: String, timeout: Duration) async throws {
        let connection = try await connect(name)
        defer { connection.close() }
        _ = try await connection.query(
            "CREATE TABLE IF NOT EXISTS failover_write_probe (id int PRIMARY KEY, written_at timestamptz NOT NULL)",
            timeout: timeout)
        _ = try await connection.query(
            """
            INSERT INTO failover_write_probe VALUES (1, now())
            ON CONFLICT (id) DO UPDATE SET written_at = excluded.written_at
            """, timeout: timeout)
    }

    /// The application names streaming from `name` (endpoint names, in our layouts).
    func streamingStandbys(of name: String) async throws -> Set<String> {
        let result = try await run(name, ["SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"])
        return Set(result?.rows.compactMap { $0.string("application_name") } ?? [])
    }

    /// A `primary_conninfo` for streaming from `upstream`. Never with a password: it would be
    /// written into the standby's `postgresql.auto.conf`. The standby's WAL receiver finds it in the
    /// server user's passfile (`~postgres/.pgpass`, or `PGPASSFILE` in the server's environment).
    func conninfo(for upstream: String, applicationName: String) throws(FailoverError) -> String {
        let target = try configuration(upstream)
        let pairs = [
            ("host", target.host), ("port", String(target.port)), ("user", target.user),
            ("application_name", applicationName), ("sslmode", target.sslMode),
        ]
        return pairs.map { "\($0)=\(conninfoValue($1))" }.joined(separator: " ")
    }

    /// A value quoted for a libpq connection string.
    private func conninfoValue(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// A SQL string literal (standard_conforming_strings on: only quotes need doubling).
    private func sqlLiteral(_ value: String) -> String {
        "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
    }
}
