import Failover
import Foundation
import Health
import Lab
import Reports
import StateStore
import Synchronization
import TestSupport
import Testing
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// The failover service against real three-region lab clusters, with real faults.
@Suite(.serialized) struct FailoverIntegrationTests {
    @Test(.timeLimit(.minutes(3)))
    func aStandbyThatDidNotAnswerDuringTheFailoverFollowsTheNewPrimaryOnceItDoes() async throws {
        try await FailoverFixture.run { fixture in
            // ap-south-1 hangs (every process stopped): the failover cannot re-point it.
            try fixture.lab.signalServer("ap-south-1", SIGSTOP)
            var resumed = false
            defer { if !resumed { try? fixture.lab.signalServer("ap-south-1", SIGCONT) } }
            try await fixture.waitFor("ap-south-1 to be down", timeout: .seconds(30)) {
                fixture.monitor.latest[endpoint: "ap-south-1"]?.isDown == true
            }
            try fixture.lab.signal("us-east-1", SIGKILL)
            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.newPrimary == "us-east-2")

            // It answers again, still configured for the dead old primary: the control plane
            // points it at the new one.
            try fixture.lab.signalServer("ap-south-1", SIGCONT)
            resumed = true
            try await fixture.waitFor("ap-south-1 to stream from us-east-2", timeout: .seconds(45)) {
                try fixture.upstream(of: "ap-south-1") == "us-east-2"
            }
            _ = try fixture.sql(
                "us-east-2", "create table after_failover(id int); insert into after_failover values (1)")
            try await fixture.waitFor("ap-south-1 to replay the new primary's writes", timeout: .seconds(30)) {
                (try? fixture.sql("ap-south-1", "select count(*) from after_failover")) == "1"
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func killedPrimaryIsReplacedByItsRegionsReplica() async throws {
        try await FailoverFixture.run { fixture in
            _ = try fixture.sql(
                "us-east-1", "create table t(id int primary key); insert into t select generate_series(1, 100)")
            let killedAt = Date()
            try fixture.lab.signal("us-east-1", SIGKILL)

            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed")
            #expect(record.kind == .automaticFailover)
            #expect(record.newPrimary == "us-east-2")
            #expect(record.rpoBytes == 0, "synchronous replication: nothing acknowledged may be lost")
            let rto = try #require(record.rtoSeconds)
            #expect(rto > 0 && rto < Date().timeIntervalSince(killedAt) + 1)
            let steps = record.steps.map(\.name)
            for step in ["detection", "alert", "selection", "promotion", "routing", "verification", "notification"] {
                #expect(steps.contains(step), "step \(step) missing from \(steps)")
            }
            #expect(fixture.service.routing.writeTarget == "us-east-2")
            #expect(try fixture.sql("us-east-2", "select pg_is_in_recovery()") == "f")
            #expect(try fixture.sql("us-east-2", "select count(*) from t") == "100")
            // The other standbys follow the new primary; the cascade inside eu-west stays.
            try await fixture.waitFor("standbys to follow us-east-2", timeout: .seconds(30)) {
                try fixture.upstream(of: "eu-west-1") == "us-east-2"
                    && fixture.upstream(of: "ap-south-1") == "us-east-2"
            }
            #expect(try fixture.upstream(of: "eu-west-2") == "eu-west-1")
            _ = try fixture.sql("us-east-2", "insert into t values (101)")
            try await fixture.waitFor("the cascaded replica to see new writes", timeout: .seconds(30)) {
                (try? fixture.sql("eu-west-2", "select count(*) from t")) == "101"
            }
            #expect(fixture.events.contains(.failoverTriggered))
            // The completion alert says who, why, from which position to which, and at what cost.
            let completed = try #require(fixture.events.all.first { $0.kind == .failoverCompleted })
            #expect(completed.facts["new_primary"] == "us-east-2")
            #expect(completed.facts["new_region"] == "us-east")
            #expect(completed.facts["why"]?.contains("us-east-2") == true, "\(completed.facts)")
            #expect(completed.facts["promoted_position"] != nil)
            #expect(completed.facts["replication_mode"] == "synchronous")
            #expect(completed.facts["rto_seconds"] != nil)
            // The re-pointed standbys stream without a password in their configuration files.
            for node in fixture.lab.nodes {
                let files = ["postgresql.auto.conf", "postgresql.conf"].map { "\(node.dataDirectory)/\($0)" }
                for file in files {
                    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
                    // (The lab's directory name contains the password's words, so look for the key.)
                    #expect(!text.contains("password="), "\(file) holds a password")
                }
            }
            // Journaled before and after each step.
            let journal = try await fixture.store.journal(operationID: record.id)
            #expect(journal.filter { $0.step == "promotion" }.map(\.phase) == ["started", "finished"])
            #expect(try await fixture.service.history().count == 1)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aCrashFailoverProducesAReportWithinTheMeasuredBounds() async throws {
        try await FailoverFixture.run { fixture in
            let killedAt = Date()
            try fixture.lab.signal("us-east-1", SIGKILL)
            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            let seenAt = Date()
            #expect(record.status == "completed")

            let report = try await ReportSource.report(
                store: fixture.store, cluster: fixture.topology.name, from: killedAt.addingTimeInterval(-60),
                to: seenAt.addingTimeInterval(60), targets: ReportTargets(fixture.topology.defaults))
            let event = try #require(report.events.first)
            #expect(report.events.count == 1)
            let rto = try #require(event.rto.seconds)
            // The outage began at the kill (the watch notices it at once) and ended before we saw the record.
            #expect(rto > 0)
            #expect(rto <= seenAt.timeIntervalSince(killedAt) + 0.05, "RTO \(rto) s")
            #expect(event.rpo.bytes == 0, "synchronous lab: nothing acknowledged is lost")
            #expect(event.rpo.status == .met)
            #expect(event.rto.status == .met)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func wholeActiveRegionDownPromotesTheNextRegionsLeader() async throws {
        try await FailoverFixture.run { fixture in
            try fixture.lab.signal("us-east-2", SIGKILL)
            try fixture.lab.signal("us-east-1", SIGKILL)

            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.newPrimary == "eu-west-1")
            #expect(record.plan?.rejected.contains { $0.endpoint == "us-east-2" } == true)
            #expect(try fixture.sql("eu-west-1", "select pg_is_in_recovery()") == "f")
            // us-east-2 is gone: the new primary waits only for the synchronous standby that remains.
            #expect(try fixture.sql("eu-west-1", "show synchronous_standby_names") == "ANY 1 (\"ap-south-1\")")
            #expect(try fixture.upstream(of: "eu-west-2") == "eu-west-1")
            try await fixture.waitFor("ap-south-1 to follow eu-west-1", timeout: .seconds(30)) {
                try fixture.upstream(of: "ap-south-1") == "eu-west-1"
            }
            _ = try fixture.sql("eu-west-1", "create table after_failover(id int)")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func hungPrimaryIsReplacedAndFencedWhenItReturns() async throws {
        try await FailoverFixture.run { fixture in
            // The whole server hangs (postmaster and every backend and walsender).
            try fixture.lab.signalServer("us-east-1", SIGSTOP)
            var resumed = false
            defer { if !resumed { try? fixture.lab.signalServer("us-east-1", SIGCONT) } }

            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.newPrimary == "us-east-2")

            try fixture.lab.signalServer("us-east-1", SIGCONT)
            resumed = true
            try await fixture.waitFor("the returned old primary to be fenced", timeout: .seconds(30)) {
                fixture.events.contains(.oldPrimaryReturned)
            }
            #expect(try fixture.sql("us-east-1", "show default_transaction_read_only") == "on")
            #expect(fixture.service.routing.writeTarget == "us-east-2")
            #expect(fixture.service.routing.fenced.contains("us-east-1"))
            let status = await fixture.service.status()
            #expect(status.writeTarget == "us-east-2")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func controlPlaneOnlyPartitionDoesNotFailOver() async throws {
        final class RelayBox: Sendable { let relay = Mutex<TCPRelay?>(nil) }
        let box = RelayBox()
        let throughRelay: @Sendable ([String: Int]) throws -> [String: Int] = { ports in
            // The control plane reaches us-east-1 only through a relay; the standbys stream directly.
            let proxy = try TCPRelay(to: ports["us-east-1"]!)
            box.relay.withLock { $0 = proxy }
            var view = ports
            view["us-east-1"] = proxy.port
            return view
        }
        try await FailoverFixture.run(controlPlanePorts: throughRelay) { fixture in
            let proxy = try #require(box.relay.withLock { $0 })
            defer { proxy.stop() }
            proxy.cut()
            try await fixture.waitFor("a partition_suspected event", timeout: .seconds(30)) {
                fixture.events.contains(.partitionSuspected)
            }
            // Stay a while: no failover may start.
            try await Task.sleep(for: .seconds(3))
            #expect(try await fixture.service.history().isEmpty)
            #expect(fixture.service.routing.writeTarget == "us-east-1")
            #expect(try fixture.sql("us-east-2", "select pg_is_in_recovery()") == "t")
            #expect(try fixture.sql("us-east-1", "select pg_is_in_recovery()") == "f")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func laggingCandidateIsRejectedAndTheDryRunMatches() async throws {
        try await FailoverFixture.run(maxLag: "256kB") { fixture in
            // Cut us-east-2 off its upstream, then write ~2 MB it never receives.
            _ = try fixture.sql("us-east-2", "alter system set primary_conninfo = 'host=127.0.0.1 port=1'")
            _ = try fixture.sql("us-east-2", "select pg_reload_conf()")
            _ = try fixture.sql(
                "us-east-1",
                "create table filler(b text); insert into filler select repeat('x', 1000) from generate_series(1, 2000)"
            )
            try await fixture.waitFor("us-east-2 to be seen lagging", timeout: .seconds(30)) {
                (fixture.monitor.latest[endpoint: "us-east-2"]?.lagBytes ?? 0) > 256 * 1024
            }
            let dryRun = try await fixture.service.dryRun()
            #expect(dryRun.candidate == "eu-west-1", "\(dryRun)")
            let rejection = try #require(dryRun.rejected.first { $0.endpoint == "us-east-2" })
            #expect(rejection.reason.contains("max_lag_on_failover"))

            try fixture.lab.signal("us-east-1", SIGKILL)
            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.newPrimary == dryRun.candidate)
            #expect(
                record.plan?.rejected.first { $0.endpoint == "us-east-2" }?.reason.contains("max_lag_on_failover")
                    == true)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func switchoverUnderAContinuousWriterLosesNothing() async throws {
        try await FailoverFixture.run { fixture in
            _ = try fixture.sql("us-east-1", "create table w(id bigint primary key)")
            let writer = AcknowledgingWriter(ports: fixture.lab.nodes.map(\.port), password: fixture.lab.password)
            let writing = Task { await writer.run(for: .seconds(30)).map(\.id) }
            #expect(await writer.waitForAcknowledged(10), "the writer never got a commit through")

            let record = try await fixture.service.switchover(region: "eu-west", requestedBy: "test")
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.newPrimary == "eu-west-1")
            try await Task.sleep(for: .milliseconds(500))
            writer.stop()
            let acknowledged = await writing.value
            #expect(acknowledged.count > 10)

            let stored = Set(
                try fixture.sql("eu-west-1", "select id from w").split(separator: "\n").compactMap { Int($0) })
            let lost = acknowledged.filter { !stored.contains($0) }
            #expect(lost.isEmpty, "\(lost.count) acknowledged rows lost")
            #expect(record.rpoBytes == 0)

            // The old primary is fenced and, rejoined by the lab's procedure, streams from the new one.
            #expect(fixture.service.routing.fenced.contains("us-east-1"))
            try fixture.lab.rejoin("us-east-1", upstream: "eu-west-1")
            #expect(try fixture.upstream(of: "us-east-1") == "eu-west-1")
            #expect(try fixture.sql("us-east-1", "select count(*) >= \(acknowledged.count) from w") == "t")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aSecondOperationIsRefusedWhileOneRuns() async throws {
        try await FailoverFixture.run { fixture in
            async let first = fixture.service.switchover(endpoint: "us-east-2", requestedBy: "first")
            // The switchover takes well over 100 ms; look every millisecond for it to be running.
            var running = false
            for _ in 0..<5000 where !running {
                running = await fixture.service.status().runningOperation != nil
                if !running { try await Task.sleep(for: .milliseconds(1)) }
            }
            #expect(running, "the switchover never showed as running")
            await #expect(throws: FailoverError.self) {
                _ = try await fixture.service.manualFailover(region: "eu-west", requestedBy: "second")
            }
            let record = try await first
            #expect(record.newPrimary == "us-east-2")
            #expect(try await fixture.service.history().count == 1)
        }
    }
}
