import Foundation
import Lab
import StateStore
import Testing

#if canImport(Glibc)
    import Glibc
#endif

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The real `failoverd` as it is installed and stopped: from another directory, by SIGTERM in every
/// state, within systemd's stop timeout (`TimeoutStopSec=60` in docs/deployment.md).
@Suite(.serialized) struct DaemonShutdownTests {
    /// The longest a stop may take here: well inside systemd's 60 s.
    static let stopBound: Duration = .seconds(30)

    /// A cluster file for the lab with the admin API on a free port and a viewer token.
    static func config(for fixture: FailoverFixture, apiPort: Int, extra: String = "") -> String {
        let ports = Dictionary(uniqueKeysWithValues: fixture.lab.nodes.map { ($0.name, $0.port) })
        return FailoverFixture.topologyYAML(ports: ports, extra: extra) + """

            api:
              listen: "127.0.0.1:\(apiPort)"
              tokens: [{ name: test, role: operator, token: shutdown-test-token }]
            """
    }

    /// Sends SIGTERM and waits for the exit; the time it took.
    static func terminate(_ process: Process) async throws -> Duration {
        let started = ContinuousClock.now
        kill(process.processIdentifier, SIGTERM)
        while process.isRunning && ContinuousClock.now - started < stopBound + .seconds(5) {
            try await Task.sleep(for: .milliseconds(20))
        }
        return ContinuousClock.now - started
    }

    @Test(.timeLimit(.minutes(2)))
    func anInstalledDaemonServesItsOpenAPIDocumentFromAnyDirectory() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            // The binary alone in a directory of its own, started from yet another directory.
            let root = fixture.lab.baseDirectory + "/installed"
            let bin = root + "/usr/local/bin"
            let work = root + "/work"
            for directory in [bin, work] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            }
            try FileManager.default.copyItem(atPath: DaemonRecoveryTests.daemonPath, toPath: bin + "/failoverd")
            let apiPort = try LabCluster.freePorts(1)[0]
            try Self.config(for: fixture, apiPort: apiPort).write(
                toFile: root + "/cluster.yaml", atomically: true, encoding: .utf8)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: bin + "/failoverd")
            process.arguments = ["--config", root + "/cluster.yaml", "--state", root + "/state.sqlite"]
            process.currentDirectoryURL = URL(fileURLWithPath: work)
            let log = FileHandle(forWritingAtPath: "/dev/null")
            process.standardOutput = log
            process.standardError = log
            try process.run()
            defer { DaemonRecoveryTests.stop(process) }

            let client = APIClient(base: "http://127.0.0.1:\(apiPort)")
            try await fixture.waitFor("the API to answer", timeout: .seconds(30)) {
                (try? await client.get("/readyz"))?.status == 200
            }
            let document = try await client.get("/openapi.json")
            #expect(document.status == 200)
            #expect(document.object["openapi"] as? String == "3.1.0")
            #expect(process.isRunning, "the daemon survived serving its OpenAPI document")
        }
    }

    @Test(.timeLimit(.minutes(2)))
    func sigtermEndsTheDaemonWhileAProxyFollowsTheRoutingTable() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let directory = fixture.lab.baseDirectory + "/daemon"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let apiPort = try LabCluster.freePorts(1)[0]
            try Self.config(for: fixture, apiPort: apiPort).write(
                toFile: directory + "/cluster.yaml", atomically: true, encoding: .utf8)
            let process = try DaemonRecoveryTests.startDaemon(
                config: directory + "/cluster.yaml", state: directory + "/state.sqlite",
                log: directory + "/failoverd.log", faultPoint: nil)
            defer { DaemonRecoveryTests.stop(process) }
            let client = APIClient(base: "http://127.0.0.1:\(apiPort)")
            try await fixture.waitFor("the API to answer", timeout: .seconds(30)) {
                (try? await client.get("/readyz"))?.status == 200
            }
            // A follower's request that never ends by itself, as a separate proxy holds it.
            let follower = try Self.openWatch(port: apiPort, token: "shutdown-test-token")
            defer { close(follower) }
            try await Task.sleep(for: .milliseconds(500))

            let took = try await Self.terminate(process)
            #expect(!process.isRunning, "still running \(took) after SIGTERM")
            #expect(took < Self.stopBound, "SIGTERM took \(took)")
        }
    }

    @Test(.timeLimit(.minutes(3)))
    func sigtermDuringAnOperationKillsItsCommandAndEndsTheDaemon() async throws {
        try await FailoverFixture.run(startControlPlane: false) { fixture in
            let directory = fixture.lab.baseDirectory + "/daemon"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let apiPort = try LabCluster.freePorts(1)[0]
            let pidFile = directory + "/hook.pid"
            // A hook that outlives any stop bound, writing its PID first.
            let hook = ", command_timeout: 5m, hooks: [\"echo $$ > \(pidFile); exec sleep 300\"]"
            try Self.config(for: fixture, apiPort: apiPort, extra: hook).write(
                toFile: directory + "/cluster.yaml", atomically: true, encoding: .utf8)
            let process = try DaemonRecoveryTests.startDaemon(
                config: directory + "/cluster.yaml", state: directory + "/state.sqlite",
                log: directory + "/failoverd.log", faultPoint: nil)
            defer { DaemonRecoveryTests.stop(process) }
            let store = try StateStore(path: directory + "/state.sqlite")
            try await fixture.waitFor("the daemon to adopt us-east-1", timeout: .seconds(30)) {
                try await store.control("write_target") == "us-east-1"
            }
            try fixture.lab.signal("us-east-1", SIGKILL)
            try await fixture.waitFor("the hook to run", timeout: .seconds(45)) {
                FileManager.default.fileExists(atPath: pidFile)
                    && (try? String(contentsOfFile: pidFile, encoding: .utf8))?.isEmpty == false
            }
            let hookPID = try #require(
                Int32(
                    try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                ))
            defer { kill(hookPID, SIGKILL) }

            let took = try await Self.terminate(process)
            #expect(!process.isRunning, "still running \(took) after SIGTERM")
            #expect(took < Self.stopBound, "SIGTERM took \(took)")
            #expect(kill(hookPID, 0) != 0, "the hook's process outlived the daemon")
        }
    }

    /// Opens `GET /api/routing/watch` on a raw socket and leaves it open; returns the descriptor.
    static func openWatch(port: Int, token: String) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
        guard connected else {
            close(descriptor)
            throw POSIXError(.ECONNREFUSED)
        }
        let request =
            "GET /api/routing/watch HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(token)\r\n\r\n"
        _ = request.withCString { send(descriptor, $0, strlen($0), 0) }
        return descriptor
    }
}
