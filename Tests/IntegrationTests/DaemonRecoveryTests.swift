import Failover
import Foundation
import Lab
import StateStore
import Testing
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// The real `failoverd` process, killed in the middle of a failover and started again.
@Suite(.serialized) struct DaemonRecoveryTests {
    /// `.build/debug/failoverd`, built by `swift build --build-tests` with the rest of the package.
    static var daemonPath: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/failoverd").path
    }

    /// Starts the daemon on `config`; its output goes to `log`.
    static func startDaemon(
        config: String, state: String, log: String, faultPoint: String?, environment extra: [String: String] = [:]
    ) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: daemonPath) else {
            Issue.record("\(daemonPath) is missing: build it with `swift build --build-tests`")
            throw CancellationError()
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: daemonPath)
        process.arguments = ["--config", config, "--state", state, "--log-level", "info"]
        // Suites run side by side: a file without an api section would put every daemon on the
        // default 127.0.0.1:8008, and the second one to bind it would fail.
        let text = (try? String(contentsOfFile: config, encoding: .utf8)) ?? ""
        if !text.contains("\napi:") {
            process.arguments! += ["--listen", "127.0.0.1:\(try LabCluster.freePorts(1)[0])"]
        }
        var environment = ProcessInfo.processInfo.environment
        environment["FAILOVERD_FAULT_POINT"] = faultPoint
        environment.merge(extra) { $1 }
        process.environment = environment
        if !FileManager.default.fileExists(atPath: log) {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try handle.seekToEnd()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return process
    }

    /// A directory for a daemon beside the fixture's lab, its cluster file (the lab's layout) and
    /// its state store path.
    static func daemonFiles(_ fixture: FailoverFixture) throws -> (directory: String, config: String, state: String) {
        let directory = fixture.lab.baseDirectory + "/daemon"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/cluster.yaml"
        let ports = Dictionary(uniqueKeysWithValues: fixture.lab.nodes.map { ($0.name, $0.port) })
        try FailoverFixture.topologyYAML(ports: ports).write(toFile: config, atomically: true, encoding: .utf8)
        return (directory, config, directory + "/state.sqlite")
    }

    /// Stops the daemon by its PID: SIGTERM, a bounded wait, then SIGKILL.
    static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(10)
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func daemonKilledAfterPromotionCompletesTheFailoverOnRestart() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let (directory, config, state) = try Self.daemonFiles(fixture)
            let log = directory + "/failoverd.log"

            let first = try Self.startDaemon(config: config, state: state, log: log, faultPoint: "after_promotion")
            defer { Self.stop(first) }
            let store = try StateStore(path: state)
            try await fixture.waitFor("the daemon to adopt us-east-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "us-east-1"
            }
            try fixture.lab.signal("us-east-1", SIGKILL)
            try await fixture.waitFor("the daemon to stop at its fault point", timeout: .seconds(45)) {
                !first.isRunning
            }
            // It died between promotion and routing: the store still says in progress.
            let interrupted = try await store.operationsInProgress()
            #expect(interrupted.count == 1)
            #expect(try await store.control("write_target") == "us-east-1")
            #expect(try fixture.sql("us-east-2", "select pg_is_in_recovery()") == "f")

            let second = try Self.startDaemon(config: config, state: state, log: log, faultPoint: nil)
            defer { Self.stop(second) }
            // It routes to the promoted standby and closes the interrupted operation (two writes).
            try await fixture.waitFor("the restarted daemon to complete the failover", timeout: .seconds(30)) {
                let routed = try await store.control("write_target") == "us-east-2"
                let closed = try await store.operationsInProgress().isEmpty
                return routed && closed
            }
            let record = try #require(
                try await store.operations(limit: 1).first.flatMap {
                    try OperationRecord.decoder().decode(OperationRecord.self, from: $0.payload)
                })
            #expect(record.status == "completed")
            #expect(record.newPrimary == "us-east-2")
            // Never two writable primaries: every server that answers, but one, is in recovery.
            var writable: [String] = []
            for node in fixture.lab.nodes where fixture.lab.isRunning(node.name) {
                if (try? fixture.sql(node.name, "select pg_is_in_recovery()")) == "f" { writable.append(node.name) }
            }
            #expect(writable == ["us-east-2"])
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func daemonKilledAfterSendingThePromotionNeverPromotesASecondServer() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let (directory, config, state) = try Self.daemonFiles(fixture)
            let log = directory + "/failoverd.log"

            // Killed after pg_promote went out and before the journal says it finished.
            let first = try Self.startDaemon(config: config, state: state, log: log, faultPoint: "promotion:sent")
            defer { Self.stop(first) }
            let store = try StateStore(path: state)
            try await fixture.waitFor("the daemon to adopt us-east-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "us-east-1"
            }
            try fixture.lab.signal("us-east-1", SIGKILL)
            try await fixture.waitFor("the daemon to stop at its fault point", timeout: .seconds(45)) {
                !first.isRunning
            }
            let interrupted = try #require(try await store.operationsInProgress().first)
            let journal = try await store.journal(operationID: interrupted.id)
            #expect(
                journal.contains { $0.step == "promotion" && $0.phase == "started" && $0.detail.contains("us-east-2") })
            #expect(!journal.contains { $0.step == "promotion" && $0.phase == "finished" })

            let second = try Self.startDaemon(config: config, state: state, log: log, faultPoint: nil)
            defer { Self.stop(second) }
            // The candidate became a primary: that promotion is final and completed on restart.
            try await fixture.waitFor("the restarted daemon to route to us-east-2", timeout: .seconds(30)) {
                let routed = try await store.control("write_target") == "us-east-2"
                let closed = try await store.operationsInProgress().isEmpty
                return routed && closed
            }
            // Stay a while: the restarted daemon must not start another failover (a second primary).
            try await Task.sleep(for: .seconds(3))
            #expect(fixture.writableServers() == ["us-east-2"])
            let records = try await store.operations(limit: 10)
            #expect(records.count == 1, "one operation only")
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aSecondDaemonOnTheSameStateFileRefusesToStart() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let (directory, config, state) = try Self.daemonFiles(fixture)
            let first = try Self.startDaemon(
                config: config, state: state, log: directory + "/first.log", faultPoint: nil)
            defer { Self.stop(first) }
            let store = try StateStore(path: state)
            try await fixture.waitFor("the first daemon to adopt us-east-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "us-east-1"
            }
            let secondLog = directory + "/second.log"
            let second = try Self.startDaemon(
                config: config, state: state, log: secondLog, faultPoint: nil,
                environment: ["FAILOVER_API_LISTEN_UNUSED": "1"])
            defer { Self.stop(second) }
            try await fixture.waitFor("the second daemon to exit", timeout: .seconds(30)) { !second.isRunning }
            #expect(second.terminationStatus == 1)
            let output = try String(contentsOfFile: secondLog, encoding: .utf8)
            #expect(
                output.contains("another failoverd (pid \(first.processIdentifier)) uses the state store"), "\(output)")
            #expect(first.isRunning)
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func aRestartedDaemonRoutesToThePrimaryThatExistsNotToAStoredStandby() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let (directory, config, state) = try Self.daemonFiles(fixture)
            let log = directory + "/failoverd.log"
            let store = try StateStore(path: state)
            let first = try Self.startDaemon(config: config, state: state, log: log, faultPoint: nil)
            try await fixture.waitFor("the daemon to adopt us-east-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "us-east-1"
            }
            Self.stop(first)

            // While the daemon is away, an operator moves the primary by hand.
            _ = try fixture.sql("eu-west-1", "select pg_promote(wait => true)")
            try fixture.lab.rejoin("us-east-1", upstream: "eu-west-1")
            #expect(try fixture.sql("us-east-1", "select pg_is_in_recovery()") == "t")

            let second = try Self.startDaemon(config: config, state: state, log: log, faultPoint: nil)
            defer { Self.stop(second) }
            try await fixture.waitFor("the restarted daemon to route to eu-west-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "eu-west-1"
            }
            #expect(try await store.operations(limit: 10).isEmpty, "no failover for a primary that exists")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func aDaemonOnAStaleStateFileAdoptsTheNewerPrimaryInsteadOfFencingIt() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let (directory, config, state) = try Self.daemonFiles(fixture)
            let log = directory + "/failoverd.log"
            let store = try StateStore(path: state)
            let first = try Self.startDaemon(config: config, state: state, log: log, faultPoint: nil)
            try await fixture.waitFor("the daemon to adopt us-east-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "us-east-1"
            }
            Self.stop(first)

            // While the daemon is away (or its state file is restored from a backup older than the
            // last failover), the stored primary dies and another server is promoted.
            try fixture.lab.signal("us-east-1", SIGKILL)
            _ = try fixture.sql("us-east-2", "select pg_promote(wait => true)")

            let second = try Self.startDaemon(config: config, state: state, log: log, faultPoint: nil)
            defer { Self.stop(second) }
            try await fixture.waitFor("the restarted daemon to route to us-east-2", timeout: .seconds(45)) {
                try await store.control("write_target") == "us-east-2"
            }
            // Give a wrong decision time to happen: nothing may fence the primary that exists.
            try await Task.sleep(for: .seconds(3))
            #expect(try fixture.sql("us-east-2", "show default_transaction_read_only") == "off")
            _ = try fixture.sql("us-east-2", "create table after_restart(id int)")
            #expect(try await store.controlValues().fenced.contains("us-east-2") == false)
            #expect(fixture.writableServers() == ["us-east-2"])
        }
    }
}
