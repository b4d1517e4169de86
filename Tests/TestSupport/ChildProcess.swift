public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A process a test or benchmark started (daemon, proxy, writer, pgbench, haproxy...); stopped by
/// its PID (SIGTERM, bounded wait, SIGKILL). Every running child is listed in ``running``, so that
/// a run interrupted by a signal can kill each by its PID.
///
/// Spawned with `posix_spawn` and an empty signal mask: a thread of Swift's pool blocks signals, and
/// a child inheriting that mask never sees its SIGALRM (pgbench's `-T` timer) or SIGTERM.
public final class ChildProcess {
    public let name: String
    public let pid: pid_t
    private var status: Int32?

    private static let registry = Mutex<Set<pid_t>>([])

    /// The PIDs of every child started here and not yet seen to end.
    public static var running: Set<pid_t> { registry.withLock { $0 } }

    /// Starts `executable` with stdout and stderr in the file `output`.
    public init(
        name: String, executable: String, arguments: [String], environment: [String: String] = [:], output: String
    )
        throws
    {
        self.name = name
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }.map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = variables.map { strdup($0) } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw ChildProcessError("cannot start \(executable): \(String(cString: strerror(result)))")
        }
        self.pid = pid
        _ = Self.registry.withLock { $0.insert(pid) }
    }

    /// Whether it still runs; reaps it once it has ended.
    public var isRunning: Bool {
        guard status == nil else { return false }
        var value: Int32 = 0
        let reaped = waitpid(pid, &value, WNOHANG)
        if reaped == pid || reaped < 0 {
            status = value
            _ = Self.registry.withLock { $0.remove(pid) }
            return false
        }
        return true
    }

    /// Exit code when it exited normally, nil otherwise (or while it runs).
    public var exitCode: Int32? {
        guard !isRunning, let status, status & 0x7f == 0 else { return nil }
        return (status >> 8) & 0xff
    }

    /// Waits for the process to end by itself; stops it and throws after `timeout`.
    public func wait(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while isRunning {
            guard ContinuousClock.now < deadline else {
                stop()
                throw ChildProcessError("\(name) (pid \(pid)) still running after \(timeout); stopped")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    public func stop() {
        guard isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(5)
        while isRunning && ContinuousClock.now < deadline {
            usleep(10_000)
        }
        if isRunning {
            kill(pid, SIGKILL)
            var value: Int32 = 0
            _ = waitpid(pid, &value, 0)
            status = value
            _ = Self.registry.withLock { $0.remove(pid) }
        }
    }

    /// Sends `signal` to the process itself (by its PID), if it still runs.
    public func signal(_ signal: Int32) {
        guard isRunning else { return }
        kill(pid, signal)
    }

    /// Runs `argv` to completion with its output in a temporary file; SIGKILL at `timeout`.
    /// Returns the exit code (-1 when it was killed or did not exit normally) and the output.
    public static func run(_ argv: [String], environment: [String: String] = [:], timeout: Duration) async -> (
        status: Int32, output: String
    ) {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "child-run-\(getpid())-\(UUID().uuidString).log"
        ).path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process: ChildProcess
        do {
            process = try ChildProcess(
                name: argv[0], executable: argv[0], arguments: Array(argv.dropFirst()), environment: environment,
                output: output)
        } catch {
            return (-1, "\(error)")
        }
        var timedOut = false
        do { try await process.wait(timeout: timeout) } catch { timedOut = true }
        let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
        return (timedOut ? -1 : (process.exitCode ?? -1), timedOut ? "timed out after \(timeout): \(text)" : text)
    }
}

/// A child process that could not be started or did not end in time.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
