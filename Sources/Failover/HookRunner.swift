import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs an operator's command (a hook, a fencing or rejoin command), bounded in time, output
/// captured for the journal.
///
/// The command is the operator's own shell text, run by `/bin/sh -c`. Values are never pasted into
/// it: each `{placeholder}` becomes `"${FAILOVER_PLACEHOLDER}"` and the value travels in that
/// environment variable, so a name or host can never be read as shell syntax. The command runs in
/// a process group of its own with no descriptor of the daemon but its three standard ones (a
/// server it starts must not hold the admin API's socket); on timeout or cancellation the whole
/// group is killed.
/// The process groups of operators' commands that run now, for a process that must end at once.
public enum OperatorCommands {
    static let running = Mutex<Set<pid_t>>([])

    /// Kills every running command with its whole process group (a daemon ending past its stop
    /// bound must not leave a hook or fencing command behind).
    public static func killAll() {
        for pid in running.withLock({ $0 }) { kill(-pid, SIGKILL) }
    }
}

enum HookRunner {
    /// The command text `/bin/sh -c` gets: placeholders replaced by quoted variable references.
    /// Unknown `{words}` stay as they are.
    static func shellText(_ template: String, placeholders: [String: String]) -> String {
        var command = template
        for key in placeholders.keys.sorted() {
            command = command.replacingOccurrences(of: "{\(key)}", with: "\"${\(variable(key))}\"")
        }
        return command
    }

    /// `FAILOVER_` and the placeholder's name in upper case: `{new_host}` is `FAILOVER_NEW_HOST`.
    static func variable(_ placeholder: String) -> String {
        "FAILOVER_" + placeholder.uppercased()
    }

    /// Returns `output` (stdout and stderr, at most 4 kB, with every `secrets` value replaced by
    /// `***`) and `status`; throws when the command fails, outlives `timeout`, or the task is
    /// cancelled (it is then killed with its whole process group).
    static func run(
        _ template: String, placeholders: [String: String], timeout: Duration, secrets: [String] = []
    ) async throws -> [String: String] {
        let command = shellText(template, placeholders: placeholders)
        var variables = ProcessInfo.processInfo.environment
        for (key, value) in placeholders { variables[variable(key)] = value }
        let environment = variables
        let cancelled = CancellationFlag()
        let result = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                // A thread of its own: waiting for a child process must not hold a cooperative thread.
                Thread.detachNewThread {
                    continuation.resume(
                        with: Result {
                            try runBlocking(command, environment: environment, timeout: timeout, cancelled: cancelled)
                        })
                }
            }
        } onCancel: {
            cancelled.set()
        }
        return ["output": redact(result.output, secrets: secrets), "status": "0"]
    }

    static func redact(_ text: String, secrets: [String]) -> String {
        secrets.filter { !$0.isEmpty }.reduce(text) { $0.replacingOccurrences(of: $1, with: "***") }
    }

    final class CancellationFlag: Sendable {
        private let flag = Atomic<Bool>(false)
        func set() { flag.store(true, ordering: .releasing) }
        var isSet: Bool { flag.load(ordering: .acquiring) }
    }

    private static func runBlocking(
        _ command: String, environment: [String: String], timeout: Duration, cancelled: CancellationFlag
    ) throws -> (output: String, status: Int32) {
        // Output goes to a file, not a pipe: a command that starts a server (a rejoin does) leaves
        // children holding its descriptors, and a pipe would then never reach end of file.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("failoverd-command-\(UUID().uuidString).out").path
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw FailoverError.failed("cannot create a file for the command's output") }
        defer {
            close(output)
            unlink(outputPath)
        }
        let pid = try spawn(command, environment: environment, output: output)
        OperatorCommands.running.withLock { _ = $0.insert(pid) }
        defer { OperatorCommands.running.withLock { _ = $0.remove(pid) } }
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited < 0 && errno != EINTR { throw FailoverError.failed("waitpid failed: \(errno)") }
            if cancelled.isSet || ContinuousClock.now >= deadline {
                kill(-pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                if cancelled.isSet { throw CancellationError() }
                throw FailoverError.timedOut("command", timeout)
            }
            usleep(5_000)
        }
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        let text = String(decoding: data.suffix(4096), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        let exited = status & 0x7f == 0
        let code = (status >> 8) & 0xff
        guard exited, code == 0 else {
            let how = exited ? "exited with status \(code)" : "was killed by signal \(status & 0x7f)"
            throw FailoverError.failed("command \(how): \(text)")
        }
        return (text, 0)
    }

    /// `/bin/sh -c command` in a new process group, stdin from /dev/null, stdout and stderr to
    /// `output`, every other descriptor closed.
    private static func spawn(_ command: String, environment: [String: String], output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        // Every other descriptor of the daemon (sockets, the state store) stays out of the command.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ Int32($0) }) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)

        let words: [String] = ["/bin/sh", "-c", command]
        let arguments: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        let variables: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var pid: pid_t = 0
        let error = posix_spawn(&pid, "/bin/sh", &actions, &attributes, arguments, variables)
        guard error == 0 else {
            throw FailoverError.failed("cannot start /bin/sh: \(String(cString: strerror(error)))")
        }
        return pid
    }
}
