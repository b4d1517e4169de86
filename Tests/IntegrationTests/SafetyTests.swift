import Failover
import Foundation
import Health
import Lab
import NIOPosix
import Synchronization
import TestSupport
import Testing
import Topology
import Vocabulary

@testable import Postgres

#if canImport(Glibc)
    import Glibc
#endif

/// The faults the product exists for, on real servers: a region cut off while its clients keep
/// writing, a machine too busy for the monitor's threads. Each test compares what a client was
/// told with what the servers hold.
@Suite(.serialized) struct SafetyTests {
    /// Relays standing for network paths that a test cuts: the control plane's view of the primary
    /// region, and the other regions' replication from the primary.
    final class Paths: Sendable {
        let relays = Mutex<[String: TCPRelay]>([:])

        func add(_ name: String, to port: Int) throws -> Int {
            let relay = try TCPRelay(to: port)
            relays.withLock { $0[name] = relay }
            return relay.port
        }

        subscript(name: String) -> TCPRelay? { relays.withLock { $0[name] } }

        func silence(_ names: [String]) { for name in names { self[name]?.silence() } }
        func restore(_ names: [String]) { for name in names { self[name]?.restore() } }
        func stopAll() { for relay in relays.withLock({ Array($0.values) }) { relay.stop() } }
    }

    /// us-east as a region that can be cut off: the control plane reaches us-east-1 and us-east-2
    /// through relays, and eu-west-1 and ap-south-1 stream from us-east-1 through a third one;
    /// us-east-2 streams from us-east-1 directly (same region). Silencing the three relays cuts
    /// us-east from everything else while its own clients and replication go on.
    static func cuttableEastView(_ paths: Paths) -> @Sendable ([String: Int]) throws -> [String: Int] {
        { ports in
            var view = ports
            view["us-east-1"] = try paths.add("control-us-east-1", to: ports["us-east-1"]!)
            view["us-east-2"] = try paths.add("control-us-east-2", to: ports["us-east-2"]!)
            _ = try paths.add("replication-from-us-east", to: ports["us-east-1"]!)
            return view
        }
    }

    static let eastCut = ["control-us-east-1", "control-us-east-2", "replication-from-us-east"]

    /// Points eu-west-1 and ap-south-1 at us-east-1 through the replication relay.
    static func streamAcrossTheRelay(_ fixture: FailoverFixture, _ paths: Paths) async throws {
        let relayPort = try #require(paths["replication-from-us-east"]).port
        for standby in ["eu-west-1", "ap-south-1"] {
            _ = try fixture.sql(
                standby,
                "alter system set primary_conninfo = 'host=127.0.0.1 port=\(relayPort) user=postgres "
                    + "password=\(fixture.lab.password) application_name=\(standby)'")
            _ = try fixture.sql(standby, "select pg_reload_conf()")
        }
        try await fixture.waitFor("eu-west-1 and ap-south-1 to stream through the relay", timeout: .seconds(45)) {
            try ["eu-west-1", "ap-south-1"].allSatisfy { standby in
                try fixture.sql(standby, "select sender_port from pg_stat_wal_receiver where status = 'streaming'")
                    == String(relayPort)
            }
        }
    }

    /// Replication across the relay, then a client of us-east writing to us-east-1 directly (as
    /// the region's applications do), already committing.
    static func startEastClient(_ fixture: FailoverFixture, _ paths: Paths) async throws
        -> (AcknowledgingWriter, Task<[Int], Never>)
    {
        try await streamAcrossTheRelay(fixture, paths)
        _ = try fixture.sql("us-east-1", "create table w(id int primary key)")
        let eastPort = try #require(fixture.lab.nodes.first { $0.name == "us-east-1" }).port
        let writer = AcknowledgingWriter(ports: [eastPort], password: fixture.lab.password)
        let writing = Task { await writer.run(for: .seconds(90)).map(\.id) }
        #expect(await writer.waitForAcknowledged(20), "the client in us-east never got a commit acknowledged")
        return (writer, writing)
    }

    /// Rows of `w` on `name`.
    static func rows(_ fixture: FailoverFixture, on name: String) throws -> Set<Int> {
        Set(try fixture.sql(name, "select id from w").split(separator: "\n").compactMap { Int($0) })
    }

    @Test(.timeLimit(.minutes(3)))
    func primaryRegionCutOffWithItsSynchronousStandbyIsNotFailedOver() async throws {
        // ANY 1 (us-east-2, eu-west-1): us-east-1 can commit with us-east-2 alone, so once both
        // are out of reach no other server is known to hold every acknowledged commit.
        let paths = Paths()
        defer { paths.stopAll() }
        try await FailoverFixture.run(
            synchronousStandbys: ["us-east-2", "eu-west-1"], synchronousCount: 1,
            controlPlanePorts: Self.cuttableEastView(paths)
        ) { fixture in
            let (writer, writing) = try await Self.startEastClient(fixture, paths)

            paths.silence(Self.eastCut)
            try await fixture.waitFor("failover_blocked", timeout: .seconds(45)) {
                fixture.events.contains(.failoverBlocked)
            }
            // Stay a while: the region's clients keep committing, and nothing may be promoted.
            try await Task.sleep(for: .seconds(3))
            #expect(try await fixture.service.history().isEmpty)
            #expect(try fixture.sql("eu-west-1", "select pg_is_in_recovery()") == "t")
            let blocked = try #require(fixture.events.all.last { $0.kind == .failoverBlocked })
            #expect(blocked.facts["reason"]?.contains("us-east-2") == true, "\(blocked.facts)")

            writer.stop()
            let acknowledged = await writing.value
            paths.restore(Self.eastCut)
            #expect(acknowledged.count > 10, "the cut-off region's clients kept committing")
            let held = try Self.rows(fixture, on: "us-east-1")
            #expect(Set(acknowledged).subtracting(held).isEmpty, "acknowledged rows missing on the only primary")
            #expect(fixture.writableServers() == ["us-east-1"])
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func primaryRegionCutOffFailsOverWithoutLosingAnAcknowledgedCommit() async throws {
        // ANY 2 (us-east-2, eu-west-1, ap-south-1): us-east-1 cannot commit with us-east-2 alone,
        // so the other regions hold every acknowledged commit and may take over.
        let paths = Paths()
        defer { paths.stopAll() }
        try await FailoverFixture.run(controlPlanePorts: Self.cuttableEastView(paths)) { fixture in
            let (writer, writing) = try await Self.startEastClient(fixture, paths)

            paths.silence(Self.eastCut)
            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed", "\(record.error ?? "")")
            let newPrimary = try #require(record.newPrimary)
            #expect(["eu-west-1", "ap-south-1"].contains(newPrimary))

            // The region comes back: its old primary is fenced, its clients' commits never acknowledged.
            try await Task.sleep(for: .seconds(1))
            paths.restore(Self.eastCut)
            try await fixture.waitFor("the returned old primary to be fenced", timeout: .seconds(45)) {
                fixture.events.contains(.oldPrimaryReturned)
            }
            writer.stop()
            let acknowledged = await writing.value
            #expect(acknowledged.count > 10)
            let held = try Self.rows(fixture, on: newPrimary)
            let lost = Set(acknowledged).subtracting(held)
            #expect(lost.isEmpty, "\(lost.count) acknowledged rows are not on the new primary \(newPrimary)")
            #expect(fixture.writableServers() == [newPrimary])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aSwitchoverUnderSixteenWritersLosesNothing() async throws {
        try await FailoverFixture.run { fixture in
            _ = try fixture.sql("us-east-1", "create table w(id int primary key)")
            let ports = fixture.lab.nodes.map(\.port)
            let writers = (0..<16).map {
                AcknowledgingWriter(ports: ports, password: fixture.lab.password, firstID: $0 * 10_000_000 + 1)
            }
            let writing = writers.map { writer in Task { await writer.run(for: .seconds(60)).map(\.id) } }
            for writer in writers {
                #expect(await writer.waitForAcknowledged(5), "a writer never got a commit through")
            }
            let record = try await fixture.service.switchover(region: "eu-west", requestedBy: "test")
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.rpoBytes == 0)
            try await Task.sleep(for: .seconds(1))
            for writer in writers { writer.stop() }
            var acknowledged: Set<Int> = []
            for task in writing { acknowledged.formUnion(await task.value) }
            #expect(acknowledged.count > 100)
            let held = try Self.rows(fixture, on: "eu-west-1")
            let lost = acknowledged.subtracting(held)
            #expect(lost.isEmpty, "\(lost.count) acknowledged rows missing on eu-west-1")
            #expect(fixture.writableServers() == ["eu-west-1"])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aRequestedFailoverDoesNotWaitForTheMonitorsThreads() async throws {
        // The monitor runs on threads of its own here, so that filling them starves this test's
        // monitor only, not those of the tests running beside it in this process.
        let monitorThreads = DedicatedThreads(count: 8)
        try await FailoverFixture.run(monitorThreads: monitorThreads) { fixture in
            // Every thread of the monitor's pool busy for 8 s, as when many endpoints hang or the
            // machine is starved: the flow's own probes and statements must still get through.
            let busy = Task {
                await withTaskGroup(of: Void.self) { group in
                    for _ in 0..<8 {
                        group.addTask { _ = try? await monitorThreads.run { usleep(8_000_000) } }
                    }
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            let record = try await fixture.service.switchover(region: "eu-west", requestedBy: "test")
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.newPrimary == "eu-west-1")
            await busy.value
        }
    }
}

/// The state store's disk full under a running daemon: no failover may promote without its journal.
@Suite(.serialized) struct StateStoreFaultTests {
    /// A 16 MB tmpfs that the test can fill up; root only. (A remount read-only is refused while the
    /// store has its files open for writing, so a full disk stands for a disk that takes no writes.)
    final class ScratchMount: Sendable {
        let path: String

        init() throws {
            guard getuid() == 0 else {
                Issue.record("this test needs root (it mounts a tmpfs to fill the state store's disk)")
                throw CancellationError()
            }
            path =
                FileManager.default.temporaryDirectory.appendingPathComponent("failover-ro-\(UUID().uuidString)")
                .path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try Self.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", path])
        }

        var filler: String { path + "/filler" }

        /// Writes a file until the file system has no space left.
        func fill() throws {
            try? Self.run(["dd", "if=/dev/zero", "of=\(filler)", "bs=64k", "status=none"])
        }

        func free() throws {
            try FileManager.default.removeItem(atPath: filler)
        }

        func unmount() {
            try? Self.run(["umount", "-l", path])
            try? FileManager.default.removeItem(atPath: path)
        }

        static func run(_ arguments: [String]) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = arguments
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw POSIXError(
                    .EIO, userInfo: [NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")) failed"])
            }
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aFullStateStoreDiskStopsTheFailoverBeforePromotion() async throws {
        let mount = try ScratchMount()
        defer { mount.unmount() }
        try await FailoverFixture.run(stateDirectory: mount.path) { fixture in
            try mount.fill()
            try fixture.lab.signal("us-east-1", SIGKILL)
            try await fixture.waitFor("a failed attempt", timeout: .seconds(45)) {
                fixture.events.contains(.failoverFailed)
            }
            let failed = try #require(fixture.events.all.first { $0.kind == .failoverFailed })
            #expect(failed.facts["error"]?.contains("state store") == true, "\(failed.facts)")
            #expect(failed.facts["failed_step"] != nil, "the alert names the step that failed: \(failed.facts)")
            #expect(failed.facts["promoted"] == nil)
            // Nothing was promoted while the journal could not be written.
            for standby in ["us-east-2", "eu-west-1", "ap-south-1"] {
                #expect(try fixture.sql(standby, "select pg_is_in_recovery()") == "t")
            }
            // The disk comes back: the next attempt fails over, journaled.
            try mount.free()
            try await fixture.waitFor("the failover after the disk came back", timeout: .seconds(30)) {
                fixture.events.contains(.failoverCompleted)
            }
            #expect(fixture.writableServers() == ["us-east-2"])
        }
    }
}

/// Asynchronous replication: nothing bounds what a primary that still runs commits, so a primary
/// that stops answering (without refusing) is failed over only once it is fenced.
@Suite(.serialized) struct AsynchronousSafetyTests {
    @Test(.timeLimit(.minutes(2)))
    func aHungPrimaryWithoutAFenceIsNotFailedOver() async throws {
        try await FailoverFixture.run(synchronous: false) { fixture in
            try fixture.lab.signalServer("us-east-1", SIGSTOP)
            var resumed = false
            defer { if !resumed { try? fixture.lab.signalServer("us-east-1", SIGCONT) } }
            try await fixture.waitFor("failover_blocked", timeout: .seconds(45)) {
                fixture.events.contains(.failoverBlocked)
            }
            let blocked = try #require(fixture.events.all.last { $0.kind == .failoverBlocked })
            #expect(blocked.facts["reason"]?.contains("asynchronous") == true, "\(blocked.facts)")
            try await Task.sleep(for: .seconds(2))
            #expect(try await fixture.service.history().isEmpty)
            #expect(try fixture.sql("us-east-2", "select pg_is_in_recovery()") == "t")
            try fixture.lab.signalServer("us-east-1", SIGCONT)
            resumed = true
            #expect(fixture.writableServers() == ["us-east-1"])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aCrashedPrimaryIsFailedOverWithItsLossMeasured() async throws {
        try await FailoverFixture.run(synchronous: false) { fixture in
            // A refused connection: nothing listens there, nothing can commit there.
            try fixture.lab.signal("us-east-1", SIGKILL)
            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "completed", "\(record.error ?? "")")
            #expect(record.rpoBytes != nil)
            #expect(fixture.writableServers() == [try #require(record.newPrimary)])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aFailedFencingCommandStopsTheFailoverAndRestores() async throws {
        try await FailoverFixture.run(synchronous: false, extra: ", fencing_command: \"exit 3\"") { fixture in
            try fixture.lab.signalServer("us-east-1", SIGSTOP)
            var resumed = false
            defer { if !resumed { try? fixture.lab.signalServer("us-east-1", SIGCONT) } }
            let record = try await fixture.waitForOperation(timeout: .seconds(60))
            #expect(record.status == "failed")
            #expect(record.error?.contains("fencing_command failed") == true, "\(record.error ?? "")")
            #expect(record.newPrimary == nil)
            #expect(try fixture.sql("us-east-2", "select pg_is_in_recovery()") == "t")
            // Nothing was promoted: the old primary is not fenced and comes back as the primary.
            #expect(fixture.service.routing.fenced.isEmpty)
            try fixture.lab.signalServer("us-east-1", SIGCONT)
            resumed = true
            #expect(fixture.service.routing.writeTarget == "us-east-1")
        }
    }
}

/// Writes that hang without a failover must still be said: a primary whose synchronous standbys
/// stopped streaming.
@Suite(.serialized) struct SynchronousQuorumAlertTests {
    @Test(.timeLimit(.minutes(2)))
    func aPrimaryWithoutEnoughSynchronousStandbysIsReportedAndResolved() async throws {
        // The alert reads the primary's pg_stat_replication, the last query of a probe: probes with
        // time to finish on a machine busy with the other suites' labs.
        try await FailoverFixture.run(probes: "health_check_interval: 2s, probe_timeout: 1500ms") { fixture in
            // ANY 2 of three: with eu-west-1 and ap-south-1 gone, us-east-2 alone cannot make a commit.
            var saved: [String: String] = [:]
            for standby in ["eu-west-1", "ap-south-1"] {
                saved[standby] = try fixture.sql(standby, "show primary_conninfo")
                _ = try fixture.sql(standby, "alter system set primary_conninfo = 'host=127.0.0.1 port=1'")
                _ = try fixture.sql(standby, "select pg_reload_conf()")
            }
            try await fixture.waitFor("synchronous_quorum_lost", timeout: .seconds(45)) {
                fixture.events.contains(.synchronousQuorumLost)
            }
            let lost = try #require(fixture.events.all.first { $0.kind == .synchronousQuorumLost })
            #expect(lost.endpoint == "us-east-1")
            #expect(lost.facts["needed"] == "2")
            #expect(lost.facts["streaming"] == "us-east-2")
            // Nothing is failed over for it: the primary is alive.
            #expect(try await fixture.service.history().isEmpty)

            for (standby, conninfo) in saved {
                _ = try fixture.sql(
                    standby,
                    "alter system set primary_conninfo = '\(conninfo.replacingOccurrences(of: "'", with: "''"))'")
                _ = try fixture.sql(standby, "select pg_reload_conf()")
            }
            try await fixture.waitFor("synchronous_quorum_restored", timeout: .seconds(45)) {
                fixture.events.contains(.synchronousQuorumRestored)
            }
        }
    }
}
