import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Starting, waiting for and stopping the lab's child processes, always by PID.
///
/// PostgreSQL refuses to run as root, so when the caller is root every server binary is started
/// through `setpriv` (util-linux), which drops to the `postgres` user and then `exec`s: the PID
/// we get back is the PostgreSQL process itself, not a wrapper.
enum Processes {
    /// The account server binaries run as when the caller is root.
    static let serverUser = "postgres"

    static var callerIsRoot: Bool { geteuid() == 0 }

    /// Where `ip` (iproute2) lives on Debian.
    static let ipTool = "/usr/sbin/ip"

    /// Spawns `executable` with `arguments`, stdout and stderr appended to `logPath`; returns its PID.
    /// With `namespace`, it runs inside that network namespace: `ip netns exec` enters it and then
    /// `exec`s, as `setpriv` does, so the PID is still the server's own. `asServerUser` false keeps
    /// root: PostgreSQL's programs refuse it, `ip` and `iptables` need it.
    static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        logPath: String,
        namespace: String? = nil,
        asServerUser: Bool = true
    ) throws(LabError) -> pid_t {
        var argv = [executable] + arguments
        var path = executable
        if callerIsRoot && asServerUser {
            argv = ["/usr/bin/setpriv", "--reuid=\(serverUser)", "--regid=\(serverUser)", "--init-groups", "--"] + argv
            path = "/usr/bin/setpriv"
        }
        if let namespace {
            argv = [ipTool, "netns", "exec", namespace] + argv
            path = ipTool
        }
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        // Locale variables of the caller may name locales the server account lacks.
        env["LC_ALL"] = "C"

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Servers outlive the command that starts them: they must not keep its other descriptors
        // (a caller's pipe would never see end of file).
        let inherited = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in inherited.compactMap({ Int32($0) }) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // A process group of its own: a terminal's Ctrl-C aimed at the CLI does not reach the servers.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in cArgs { free(pointer) }
            for pointer in cEnv { free(pointer) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, path, &actions, &attributes, cArgs, cEnv)
        guard status == 0 else {
            throw .command(executable, "could not start: \(String(cString: strerror(status)))")
        }
        return pid
    }

    /// Runs a command to completion within `timeout`; throws with the tail of its output when it fails.
    static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        logPath: String,
        timeout: Duration,
        namespace: String? = nil,
        asServerUser: Bool = true
    ) throws(LabError) {
        let start = ContinuousClock.now
        let offset = fileSize(logPath)
        let pid = try spawn(
            executable, arguments, environment: environment, logPath: logPath, namespace: namespace,
            asServerUser: asServerUser)
        guard let status = waitForExit(pid, timeout: timeout) else {
            _ = kill(pid, SIGKILL)
            _ = waitForExit(pid, timeout: .seconds(5))
            throw .command(
                (executable as NSString).lastPathComponent,
                "did not finish within \(timeout); output:\n\(tail(logPath, from: offset))")
        }
        guard status == 0 else {
            throw .command(
                (executable as NSString).lastPathComponent,
                "exited with status \(status) after \(ContinuousClock.now - start); output:\n\(tail(logPath, from: offset))"
            )
        }
    }

    /// Runs a command and returns its standard output (trimmed); stderr goes to `logPath`.
    static func capture(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        scratchPath: String,
        timeout: Duration,
        namespace: String? = nil,
        asServerUser: Bool = true
    ) throws(LabError) -> String {
        try? FileManager.default.removeItem(atPath: scratchPath)
        defer { try? FileManager.default.removeItem(atPath: scratchPath) }
        try run(
            executable, arguments, environment: environment, logPath: scratchPath, timeout: timeout,
            namespace: namespace, asServerUser: asServerUser)
        let output = (try? String(contentsOfFile: scratchPath, encoding: .utf8)) ?? ""
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Waits until `pid` has exited, reaping it if it is our child. Returns its exit status
    /// (128 + signal when killed), or nil if it is still running at the deadline.
    static func waitForExit(_ pid: pid_t, timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while true {
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid {
                let signal = status & 0x7f
                return signal == 0 ? (status >> 8) & 0xff : 128 + signal
            }
            // Not our child (a lab started by an earlier command): watch /proc instead.
            if reaped == -1 && !isAlive(pid) { return 0 }
            if ContinuousClock.now >= deadline { return nil }
            usleep(5_000)
        }
    }

    /// True while `pid` exists and is not a zombie.
    static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
            return false
        }
        // The state letter follows the command name, which is in parentheses and may contain spaces.
        guard let close = stat.lastIndex(of: ")") else { return false }
        let rest = stat[stat.index(after: close)...].split(separator: " ")
        return rest.first.map { $0 != "Z" && $0 != "X" } ?? false
    }

    /// The PIDs whose parent is `pid` (a postmaster's backends, walsenders, walreceiver...).
    static func children(of pid: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { entry -> pid_t? in
            guard let child = pid_t(entry),
                let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
        }
    }

    /// Stops a server by PID: SIGCONT (it may be stopped), `signal`, a bounded wait, then SIGKILL.
    /// Its children are waited for too, so no process outlives the stop.
    static func stop(_ pid: pid_t, signal: Int32 = SIGINT, grace: Duration = .seconds(10)) throws(LabError) {
        guard isAlive(pid) else {
            _ = waitForExit(pid, timeout: .zero)
            return
        }
        let children = children(of: pid)
        _ = kill(pid, SIGCONT)
        for child in children { _ = kill(child, SIGCONT) }
        _ = kill(pid, signal)
        if waitForExit(pid, timeout: grace) == nil {
            _ = kill(pid, SIGKILL)
            guard waitForExit(pid, timeout: .seconds(5)) != nil else {
                throw .command("stop", "process \(pid) survived SIGKILL")
            }
        }
        // Children notice their postmaster's death on their own; give them a moment, then insist.
        for child in children where waitForExit(child, timeout: .seconds(2)) == nil {
            _ = kill(child, SIGKILL)
            _ = waitForExit(child, timeout: .seconds(2))
        }
    }

    static func fileSize(_ path: String) -> UInt64 {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? UInt64) ?? 0
    }

    /// The last lines a command wrote to its log after `offset`, for error messages.
    static func tail(_ path: String, from offset: UInt64 = 0, lines: Int = 15) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "(no output)" }
        defer { try? handle.close() }
        try? handle.seek(toOffset: offset)
        let data = (try? handle.readToEnd()) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(lines).joined(separator: "\n")
    }

    /// Hands `path` to the server account so that PostgreSQL can write there.
    static func giveToServerUser(_ path: String) throws(LabError) {
        guard callerIsRoot else { return }
        guard let account = getpwnam(serverUser) else {
            throw .missingServerUser
        }
        guard chown(path, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
            throw .command("chown", "\(path): \(String(cString: strerror(errno)))")
        }
    }
}
