import Lab
import Postgres
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The libpq layer against real PostgreSQL 15 servers from the lab: typed results, server errors,
/// authentication, hard deadlines against stopped (`SIGSTOP`) servers, and the endpoint probe.
@Suite(.serialized) struct PostgresTests {
    static func configuration(
        _ lab: LabCluster,
        _ name: String,
        password: String? = nil,
        connectTimeout: Duration = .seconds(5)
    ) -> PostgresConfiguration {
        let node = lab.node(name)
        return PostgresConfiguration(
            host: node.host,
            port: node.port,
            user: lab.user,
            password: password ?? lab.password,
            applicationName: "failoverd-tests",
            connectTimeout: connectTimeout
        )
    }

    static func primaryOnly() throws -> [LabNodeSpec] {
        let port = try LabCluster.freePorts(1)[0]
        return [LabNodeSpec(name: "pg-primary", region: "us-east", port: port, upstream: nil)]
    }

    static func primaryAndStandby() throws -> [LabNodeSpec] {
        let ports = try LabCluster.freePorts(2)
        return [
            LabNodeSpec(name: "pg-primary", region: "us-east", port: ports[0], upstream: nil),
            LabNodeSpec(name: "pg-standby", region: "eu-west", port: ports[1], upstream: "pg-primary"),
        ]
    }

    /// Sends `signal` to a process by PID; for backends, which are not postmasters.
    static func send(_ signal: Int32, to pid: Int32) {
        #expect(kill(pid, signal) == 0, "kill(\(pid), \(signal))")
    }

    @Test(.timeLimit(.minutes(2)))
    func queriesReturnTypedValuesAndServerErrors() async throws {
        try await LabCluster.withCluster(Self.primaryOnly()) { lab in
            let connection = try await PostgresConnection.connect(Self.configuration(lab, "pg-primary"))
            defer { connection.close() }
            #expect(connection.serverVersion / 10_000 == 15)
            #expect(connection.backendPID > 0)

            let result = try await connection.query(
                """
                select $1::int + $2::int as sum, $3::text as missing, true as yes, false as no,
                       1.5::float8 as half, '16/B374D848'::pg_lsn as lsn,
                       extract(epoch from '2024-01-02 03:04:05.25+00'::timestamptz)::float8 as epoch,
                       '2024-01-02 05:04:05.25+02'::timestamptz as stamp
                """,
                ["40", "2", nil],
                timeout: .seconds(5)
            )
            #expect(result.columns == ["sum", "missing", "yes", "no", "half", "lsn", "epoch", "stamp"])
            #expect(result.commandTag == "SELECT 1")
            #expect(result.rowsAffected == 1)
            let row = try #require(result.first)
            #expect(row.int("sum") == 42)
            #expect(row.int(0) == 42)
            #expect(row.string("sum") == "42")
            #expect(row.string("missing") == nil)
            #expect(row.isNull("missing"))
            #expect(row.contains("missing"))
            #expect(!row.contains("nonexistent"))
            #expect(row.int("nonexistent") == nil)
            #expect(row.string(99) == nil)
            #expect(row.bool("yes") == true)
            #expect(row.bool("no") == false)
            #expect(row.bool("sum") == nil)
            #expect(row.double("half") == 1.5)
            #expect(row.lsn("lsn") == LSN(0x16_B374_D848))
            #expect(row.epochSeconds("epoch") == 1_704_164_645.25)
            // timestamptz text in the session's time zone, whatever it is.
            #expect(row.epochSeconds("stamp") == 1_704_164_645.25)

            let created = try await connection.query(
                "create temporary table t(id int); ",
                timeout: .seconds(5)
            )
            #expect(created.commandTag == "CREATE TABLE")
            #expect(created.rowsAffected == nil)
            let inserted = try await connection.query(
                "insert into t select generate_series(1, $1::int)",
                ["3"],
                timeout: .seconds(5)
            )
            #expect(inserted.rowsAffected == 3)
            let selected = try await connection.query("select id from t order by id", timeout: .seconds(5))
            #expect(selected.rows.map { $0.int("id") } == [1, 2, 3])

            // Server errors carry SQLSTATE and the primary message; the connection stays usable.
            do throws(PostgresError) {
                _ = try await connection.query("select 1/0", timeout: .seconds(5))
                Issue.record("division by zero succeeded")
            } catch {
                #expect(error.kind == .queryFailed)
                #expect(error.sqlState == "22012")
                #expect(error.message == "division by zero")
                #expect(error.port == lab.node("pg-primary").port)
            }
            do throws(PostgresError) {
                _ = try await connection.query("select * from no_such_table", timeout: .seconds(5))
                Issue.record("unknown table succeeded")
            } catch {
                #expect(error.kind == .queryFailed)
                #expect(error.sqlState == "42P01")
                #expect(error.message.contains("no_such_table"))
                #expect(error.description.contains("42P01"))
            }
            #expect(!connection.isClosed)
            #expect(try await connection.query("select 1 as one", timeout: .seconds(5)).first?.int("one") == 1)

            connection.close()
            connection.close()
            #expect(connection.isClosed)
            await #expect(throws: PostgresError.self) {
                _ = try await connection.query("select 1", timeout: .seconds(1))
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func wrongPasswordIsAnAuthenticationErrorThatShowsNoPassword() async throws {
        try await LabCluster.withCluster(Self.primaryOnly()) { lab in
            let wrong = "Wr0ng-Secret-Value"
            let configuration = Self.configuration(lab, "pg-primary", password: wrong)
            #expect(configuration.description.contains("password=***"))
            #expect(!configuration.description.contains(wrong))
            do throws(PostgresError) {
                _ = try await PostgresConnection.connect(configuration, timeout: .seconds(5))
                Issue.record("a wrong password was accepted")
            } catch {
                #expect(error.kind == .authenticationFailed)
                #expect(error.sqlState == "28P01")
                for text in [error.description, error.message, String(reflecting: error)] {
                    #expect(!text.contains(wrong))
                    #expect(!text.contains(lab.password))
                }
                #expect(error.message.contains("password authentication failed"))
            }

            var missing = configuration
            missing.password = nil
            await #expect(throws: PostgresError.self) {
                _ = try await PostgresConnection.connect(missing, timeout: .seconds(5))
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func connectingToAStoppedServerFailsAtItsDeadlineWithoutDelayingOthers() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            let stopped = Self.configuration(lab, "pg-standby")
            let healthy = Self.configuration(lab, "pg-primary")
            try lab.signal("pg-standby", SIGSTOP)
            defer { try? lab.signal("pg-standby", SIGCONT) }

            let clock = ContinuousClock()
            let start = clock.now
            do throws(PostgresError) {
                _ = try await PostgresConnection.connect(stopped, timeout: .milliseconds(500))
                Issue.record("connected to a stopped server")
            } catch {
                #expect(error.kind == .connectTimeout)
            }
            let elapsed = clock.now - start
            #expect(elapsed >= .milliseconds(490))
            #expect(elapsed < .seconds(10), "a stopped server never answers: only the deadline ends the connect")

            // Eight hung connects occupy eight pool threads; a probe of a healthy server is not
            // held up by them: it is answered while they are all still waiting for their deadline.
            final class Counter: Sendable { let value = Atomic<Int>(0) }
            let hungFinished = Counter()
            // Threads of this test's own: holding eight of the process's monitoring threads for 5 s
            // would slow the monitors of the tests running beside it.
            let threads = DedicatedThreads(count: 12)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        let probe = await EndpointProbe.probe(
                            stopped, timeout: .seconds(5), workload: .dedicated(threads))
                        hungFinished.value.add(1, ordering: .relaxed)
                        #expect(!probe.reachable)
                        #expect(probe.error?.kind == .connectTimeout)
                    }
                }
                try await Task.sleep(for: .milliseconds(100))
                let probe = await EndpointProbe.probe(healthy, timeout: .seconds(4), workload: .dedicated(threads))
                #expect(probe.reachable)
                #expect(hungFinished.value.load(ordering: .relaxed) == 0, "the healthy probe waited for the hung ones")
                try await group.waitForAll()
            }

            try lab.signal("pg-standby", SIGCONT)
            let probe = await EndpointProbe.probe(stopped, timeout: .seconds(5))
            #expect(probe.reachable)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aQueryOnAStoppedServerTimesOutAndAbandonsTheConnection() async throws {
        try await LabCluster.withCluster(Self.primaryOnly()) { lab in
            let connection = try await PostgresConnection.connect(Self.configuration(lab, "pg-primary"))
            defer { connection.close() }
            // The backend serving this connection is a child of the postmaster: stop both.
            let backend = connection.backendPID
            try lab.signal("pg-primary", SIGSTOP)
            Self.send(SIGSTOP, to: backend)
            defer {
                Self.send(SIGCONT, to: backend)
                try? lab.signal("pg-primary", SIGCONT)
            }

            let clock = ContinuousClock()
            let start = clock.now
            do throws(PostgresError) {
                _ = try await connection.query("select 1", timeout: .milliseconds(400))
                Issue.record("a stopped server answered")
            } catch {
                #expect(error.kind == .queryTimeout)
            }
            let elapsed = clock.now - start
            #expect(elapsed >= .milliseconds(390))
            #expect(elapsed < .seconds(10), "a stopped server never answers: only the deadline ends the query")
            #expect(connection.isClosed)
            do throws(PostgresError) {
                _ = try await connection.query("select 1", timeout: .seconds(1))
                Issue.record("an abandoned connection answered")
            } catch {
                #expect(error.kind == .connectionClosed)
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSlowStatementTimesOutAndCloseStopsAWait() async throws {
        try await LabCluster.withCluster(Self.primaryOnly()) { lab in
            let configuration = Self.configuration(lab, "pg-primary")
            let clock = ContinuousClock()

            // Queries on one connection run one at a time: a query whose deadline passes while it
            // waits for an earlier one is never sent, and the connection stays usable.
            let shared = try await PostgresConnection.connect(configuration)
            defer { shared.close() }
            async let first = shared.query("select pg_sleep(2) as slept", timeout: .seconds(10))
            // Only once the first statement runs on the server is the second one queued behind it
            // (a busy machine may take a while to send the first).
            let observer = try await PostgresConnection.connect(configuration)
            defer { observer.close() }
            var running = false
            for _ in 0..<200 where !running {
                let rows = try await observer.query(
                    "select count(*) as n from pg_stat_activity where state = 'active' and query like 'select pg_sleep(2)%'",
                    timeout: .seconds(5))
                running = rows.first?.int("n") == 1
                if !running { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(running, "the first statement never started")
            do throws(PostgresError) {
                _ = try await shared.query("select 1", timeout: .milliseconds(200))
                Issue.record("a queued query ran before the earlier one finished")
            } catch {
                #expect(error.kind == .queryTimeout)
                #expect(error.message.contains("not sent"))
            }
            #expect(try await first.rows.count == 1)
            #expect(!shared.isClosed)
            #expect(try await shared.query("select 2 as two", timeout: .seconds(5)).first?.int("two") == 2)

            let slow = try await PostgresConnection.connect(configuration)
            var start = clock.now
            await #expect(throws: PostgresError.self) {
                _ = try await slow.query("select pg_sleep(10)", timeout: .milliseconds(300))
            }
            #expect(clock.now - start < .seconds(8), "the 300 ms deadline, not the 10 s sleep, ends the query")
            #expect(slow.isClosed)

            // close() from another task ends a running wait within about 100 ms.
            let closing = try await PostgresConnection.connect(configuration)
            start = clock.now
            async let outcome: PostgresError.Kind? = {
                do throws(PostgresError) {
                    _ = try await closing.query("select pg_sleep(10)", timeout: .seconds(8))
                    return nil
                } catch {
                    return error.kind
                }
            }()
            try await Task.sleep(for: .milliseconds(300))
            closing.close()
            #expect(await outcome == .connectionClosed)
            #expect(clock.now - start < .seconds(6), "close(), not the 8 s deadline, ends the wait")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func probeSeesPrimaryStandbyAndCatchUp() async throws {
        try await LabCluster.withCluster(Self.primaryAndStandby()) { lab in
            let primaryConfiguration = Self.configuration(lab, "pg-primary")
            let standbyConfiguration = Self.configuration(lab, "pg-standby")
            let writer = try await PostgresConnection.connect(primaryConfiguration)
            defer { writer.close() }
            _ = try await writer.query("create table probe_rows(id int)", timeout: .seconds(5))
            _ = try await writer.query(
                "insert into probe_rows select generate_series(1, 1000)",
                timeout: .seconds(5)
            )

            let primary = await EndpointProbe.probe(primaryConfiguration, timeout: .seconds(5))
            #expect(primary.reachable)
            #expect(primary.error == nil)
            #expect(primary.serverVersion.map { $0 / 10_000 } == 15)
            #expect(primary.isInRecovery == false)
            let written = try #require(primary.currentLSN)
            #expect(primary.receiveLSN == nil)
            #expect(primary.replicationLagSeconds == nil)
            #expect(primary.walReceiver == nil)
            #expect(primary.latency > .zero)
            #expect(primary.queryLatency.map { $0 <= primary.latency } == true)
            #expect(primary.replication.count == 1)
            let peer = try #require(primary.replication.first)
            #expect(peer.applicationName == "pg-standby")
            #expect(peer.state == "streaming")
            #expect(peer.clientAddress == "127.0.0.1")
            #expect(peer.pid > 0)
            #expect(peer.sentLSN != nil)
            #expect(["async", "sync", "quorum", "potential"].contains(peer.syncState))

            let standby = await EndpointProbe.probe(standbyConfiguration, timeout: .seconds(5))
            #expect(standby.reachable)
            #expect(standby.error == nil)
            #expect(standby.isInRecovery == true)
            #expect(standby.currentLSN == nil)
            let received = try #require(standby.receiveLSN)
            let replayed = try #require(standby.replayLSN)
            #expect(received <= written)
            #expect(replayed <= written)
            #expect(standby.replicationLagSeconds.map { $0 >= 0 } == true)
            #expect(standby.replication.isEmpty)
            let receiver = try #require(standby.walReceiver)
            #expect(receiver.status == "streaming")
            #expect(receiver.senderPort == lab.node("pg-primary").port)
            #expect(receiver.senderHost == "127.0.0.1")
            #expect(receiver.receivedTimeline == 1)
            #expect(receiver.lastMessageReceiptAge.map { $0 >= 0 && $0 < 60 } == true)

            // The standby catches up with the write: bounded poll.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            var latest = standby
            while clock.now < deadline, (latest.replayLSN ?? LSN(0)) < written {
                try await Task.sleep(for: .milliseconds(20))
                latest = await EndpointProbe.probe(standbyConfiguration, timeout: .seconds(2))
            }
            let caughtUp = try #require(latest.replayLSN)
            #expect(caughtUp >= written)
            #expect(latest.receiveLSN.map { $0 >= written } == true)
            #expect(latest.lastReplayTimestamp != nil)

            // A probe over an existing connection reports the same role.
            let reused = await EndpointProbe.probe(writer, timeout: .seconds(2))
            #expect(reused.isInRecovery == false)
            #expect(reused.currentLSN.map { $0 >= written } == true)
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func probeOfAClosedPortFailsQuickly() async throws {
        let port = try LabCluster.freePorts(1)[0]
        let configuration = PostgresConfiguration(host: "127.0.0.1", port: port, password: "unused-secret")
        let clock = ContinuousClock()
        let start = clock.now
        let probe = await EndpointProbe.probe(configuration, timeout: .seconds(20))
        #expect(clock.now - start < .seconds(10), "a refused connection fails at once, not at the 20 s deadline")
        #expect(!probe.reachable)
        #expect(probe.isInRecovery == nil)
        let error = try #require(probe.error)
        #expect(error.kind == .connectionFailed)
        #expect(error.port == port)
        #expect(!error.description.contains("unused-secret"))
        #expect(probe.endpoint == "127.0.0.1:\(port)")
    }
}

/// Pure parsing: no server needed.
@Suite struct PostgresValueTests {
    @Test(arguments: [
        ("16/B374D848", UInt64(0x16_B374_D848)),
        ("0/0", 0),
        ("0/3000060", 0x300_0060),
        ("FFFFFFFF/FFFFFFFF", UInt64.max),
        ("a/b", 0xA_0000_000B),
    ])
    func lsnParsesAndPrints(text: String, value: UInt64) throws {
        let lsn = try #require(LSN(text))
        #expect(lsn.value == value)
        #expect(LSN(lsn.description) == lsn)
    }

    @Test(arguments: ["", "16", "16/", "/1", "16/B374D848/1", "G/1", "123456789/0", " 0/1", "-1/0"])
    func lsnRejectsMalformedText(text: String) {
        #expect(LSN(text) == nil)
    }

    @Test func lsnDistanceAndOrder() throws {
        let low = try #require(LSN("0/1000"))
        let high = try #require(LSN("1/0"))
        #expect(low < high)
        #expect(low.distance(to: high) == 0x1_0000_0000 - 0x1000)
        #expect(high.distance(to: low) == -(0x1_0000_0000 - 0x1000))
        #expect(high - low == 0x1_0000_0000 - 0x1000)
        #expect([high, low].max() == high)
        #expect(LSN(0x16_B374_D848).description == "16/B374D848")
        #expect(LSN(0).distance(to: LSN(UInt64.max)) == Int64.max)
    }

    @Test(arguments: [
        ("1704164645.25", 1_704_164_645.25),
        ("2024-01-02 03:04:05.25+00", 1_704_164_645.25),
        ("2024-01-02 05:04:05.25+02", 1_704_164_645.25),
        ("2024-01-01 22:34:05.25-04:30", 1_704_164_645.25),
        ("2024-01-02 03:04:05", 1_704_164_645),
        ("1970-01-01 00:00:00+00", 0),
        ("2000-02-29 00:00:00+00", 951_782_400),
    ])
    func timestampsParseToEpochSeconds(text: String, seconds: Double) {
        let result = PostgresResult(columns: ["t"], rows: [[text]], commandTag: "SELECT 1", rowsAffected: 1)
        #expect(result.first?.epochSeconds("t") == seconds)
    }

    @Test(arguments: ["2024-13-02 03:04:05+00", "2024-01-02", "yesterday", "2024-01-02 03:04:05 UTC"])
    func malformedTimestampsAreNil(text: String) {
        let result = PostgresResult(columns: ["t"], rows: [[text]], commandTag: "SELECT 1", rowsAffected: 1)
        #expect(result.first?.epochSeconds("t") == nil)
    }

    @Test func configurationHidesThePassword() {
        let configuration = PostgresConfiguration(host: "10.0.0.5", port: 5433, password: "s3cr3t")
        #expect(configuration.description.contains("password=***"))
        #expect(!configuration.description.contains("s3cr3t"))
        #expect(configuration.endpoint == "10.0.0.5:5433")
        #expect(configuration.sslMode == "prefer")
        #expect(configuration.applicationName == "failoverd")
        #expect(PostgresConfiguration(host: "::1").endpoint == "[::1]:5432")
    }
}
