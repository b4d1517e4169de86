import Failover
import Foundation
import Lab
import StateStore
import Testing
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// The real `failoverd` process given an invalid cluster file on SIGHUP. No servers are needed: the
/// endpoints are free ports nobody listens on.
@Suite struct DaemonReloadTests {
    static let password = "RELOAD-SECRET-4d1c"

    @Test(.timeLimit(.minutes(1)))
    func anInvalidFileOnSIGHUPRaisesConfigReloadFailedAndKeepsRunning() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "daemon-reload-\(UUID().uuidString)"
        ).path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ports = Dictionary(
            uniqueKeysWithValues: zip(FailoverFixture.names, try LabCluster.freePorts(FailoverFixture.names.count)))
        let valid = FailoverFixture.topologyYAML(ports: ports).replacingOccurrences(
            of: "password: failover-lab", with: "password: \"${RELOAD_TEST_PASSWORD}\"")
        let config = directory + "/cluster.yaml"
        let state = directory + "/state.sqlite"
        let log = directory + "/failoverd.log"
        try valid.write(toFile: config, atomically: true, encoding: .utf8)

        let daemon = try DaemonRecoveryTests.startDaemon(
            config: config, state: state, log: log, faultPoint: nil,
            environment: ["RELOAD_TEST_PASSWORD": Self.password])
        defer { DaemonRecoveryTests.stop(daemon) }

        // Started with the valid file; until its first log line, SIGHUP may still kill it (the default).
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline && daemon.isRunning
            && !((try? String(contentsOfFile: log, encoding: .utf8))?.contains("failoverd starting") ?? false)
        {
            try await Task.sleep(for: .milliseconds(50))
        }
        let store = try StateStore(path: state)
        // Two problems: a priority that is not a number, and an unknown key.
        let invalid = valid.replacingOccurrences(of: "priority: 8", with: "priority: high")
            .replacingOccurrences(of: "cluster: test", with: "cluster: test\nclustr: typo")
        try invalid.write(toFile: config, atomically: true, encoding: .utf8)

        // SIGHUP is ignored until the reloader listens, so repeat it until the event is stored (bounded).
        var stored: ControlEvent?
        while stored == nil && ContinuousClock.now < deadline {
            #expect(
                daemon.isRunning,
                "failoverd exited: \((try? String(contentsOfFile: log, encoding: .utf8))?.suffix(2000) ?? "")")
            guard daemon.isRunning else { break }
            kill(daemon.processIdentifier, SIGHUP)
            try await Task.sleep(for: .milliseconds(300))
            stored = try await store.events(limit: 500).first { $0.kind == "config_reload_failed" }.map {
                try OperationRecord.decoder().decode(ControlEvent.self, from: $0.payload)
            }
        }
        let event = try #require(stored, "no config_reload_failed event within 20 s")
        #expect(event.severity == .high)
        #expect(event.cluster == "test")
        #expect(event.facts["diagnostics"] == "2")
        let first = try #require(event.facts["first_diagnostic"])
        #expect(first.hasPrefix(config + ":"))
        #expect(first.contains("error:"))
        // It still runs with the old file.
        #expect(daemon.isRunning)

        DaemonRecoveryTests.stop(daemon)
        let output = try String(contentsOfFile: log, encoding: .utf8)
        #expect(output.contains("configuration reload failed"))
        #expect(!output.contains(Self.password), "the daemon's log holds the password")
        for entry in try await store.events(limit: 500) {
            #expect(!String(decoding: entry.payload, as: UTF8.self).contains(Self.password))
        }
    }
}
