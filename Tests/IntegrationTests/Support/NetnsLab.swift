import Foundation
import Lab
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A namespaced lab driven through `.build/debug/failoverctl lab ... --directory DIR`, for the
/// tests: every command is a real process with a bounded wait.
struct NetnsLab {
    let directory: String
    var config: String { "\(directory)/regions.yaml" }

    /// `.build/debug/failoverctl`, built by `swift build --build-tests` with the rest of the package.
    static var ctlPath: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/failoverctl").path
    }

    /// A new lab directory holding a three-region cluster file on the tests' own ports.
    init() throws {
        var template = Array("/tmp/fot-lab-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw POSIXError(.EIO) }
        directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        // mkdtemp makes it 0700; the servers run as `postgres` and must reach their data inside it.
        guard chmod(directory, 0o755) == 0 else { throw POSIXError(.EPERM) }
        let yaml = """
            cluster: netns-test
            connection: { user: postgres, database: postgres, password: \(NetnsLabTests.password), sslmode: disable }
            replication:
              mode: synchronous
              synchronous_standbys: [us-east-2, eu-west-1]
              synchronous_count: 1
            regions:
              - name: us-east
                priority: 10
                leader: { name: us-east-1, host: 127.0.0.1, port: 26431 }
                replicas:
                  - { name: us-east-2, host: 127.0.0.1, port: 26432 }
              - name: eu-west
                priority: 8
                leader: { name: eu-west-1, host: 127.0.0.1, port: 26433 }
                replicas:
                  - { name: eu-west-2, host: 127.0.0.1, port: 26434 }
              - name: ap-south
                priority: 6
                leader: { name: ap-south-1, host: 127.0.0.1, port: 26435 }
            api:
              listen: "127.0.0.1:8118"
            """
        try yaml.write(toFile: config, atomically: true, encoding: .utf8)
    }

    /// `failoverctl lab SUBCOMMAND --directory DIR --config FILE REST...`.
    func ctl(
        _ arguments: [String], environment: [String: String] = [:], timeout: Duration = .seconds(30)
    ) -> (status: Int32, output: String) {
        guard let subcommand = arguments.first else { return (2, "no subcommand") }
        return Self.run(
            [Self.ctlPath, "lab", subcommand, "--directory", directory, "--config", config]
                + arguments.dropFirst(), environment: environment, timeout: timeout)
    }

    /// Runs ``ctl(_:environment:timeout:)`` and records an issue with its output unless it exits 0.
    func expectSuccess(
        _ arguments: [String], timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let run = ctl(arguments, timeout: timeout)
        #expect(
            run.status == 0, "lab \(arguments.joined(separator: " ")): \(run.output)", sourceLocation: sourceLocation)
    }

    /// The lab as `lab up` recorded it.
    func attach() throws -> LabCluster {
        try LabCluster.attach(statePath: "\(directory)/lab.json")
    }

    /// `psql -c 'select 1'` against `endpoint`, run from inside `region` through `lab exec`,
    /// with a 2 s connect timeout; how it ended and how long it took.
    func psql(from region: String, endpoint: String) -> (result: TCPProbe.Result, output: String, elapsed: Duration) {
        let (endpointRegion, port) = NetnsLabTests.endpoints[endpoint]!
        let start = ContinuousClock.now
        let run = ctl(
            [
                "exec", region, "--", "/usr/lib/postgresql/15/bin/psql", "-h",
                NetnsLabTests.address(of: endpointRegion),
                "-p", String(port), "-U", "postgres", "-d", "postgres", "-XAtq", "-c", "select 1",
            ], environment: ["PGPASSWORD": NetnsLabTests.password, "PGCONNECT_TIMEOUT": "2"], timeout: .seconds(20))
        let elapsed = ContinuousClock.now - start
        let result: TCPProbe.Result
        if run.status == 0 && run.output.trimmingCharacters(in: .whitespacesAndNewlines) == "1" {
            result = .connected
        } else if run.output.contains("timeout expired") {
            result = .timedOut
        } else if run.output.contains("refused") {
            result = .refused
        } else {
            result = .failed(run.status)
        }
        return (result, run.output, elapsed)
    }

    /// Runs `argv` with its output (stdout and stderr) in a file; SIGKILL at `timeout` (status -1).
    static func run(
        _ argv: [String], environment: [String: String] = [:], timeout: Duration
    ) -> (status: Int32, output: String) {
        let outputPath = NSTemporaryDirectory() + "fot-run-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
            let handle = FileHandle(forWritingAtPath: outputPath)
        else { return (-1, "cannot create \(outputPath)") }
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "cannot start \(argv[0]): \(error)") }
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        var status: Int32 = -1
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        } else {
            status = process.terminationStatus
        }
        let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (status, status == -1 ? "timed out after \(timeout): \(output)" : output)
    }

    /// The output of a short command (`ip netns list`, `iptables -S`).
    static func command(_ argv: [String]) -> String {
        run(argv, timeout: .seconds(10)).output
    }
}

/// A plain TCP connect with a deadline, telling a refusal (RST) from silence (dropped packets).
enum TCPProbe {
    enum Result: Equatable {
        case connected, refused, timedOut
        case failed(Int32)
    }

    static func connect(host: String, port: Int, timeout: Duration = .seconds(2)) -> Result {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return .failed(errno) }
        defer { close(fd) }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr(host)
        let started = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if started == 0 { return .connected }
        guard errno == EINPROGRESS else { return errno == ECONNREFUSED ? .refused : .failed(errno) }
        var descriptor = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(
            timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        guard poll(&descriptor, 1, milliseconds) == 1 else { return .timedOut }
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
        switch error {
        case 0: return .connected
        case ECONNREFUSED: return .refused
        default: return .failed(error)
        }
    }
}
