import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// A set of real PostgreSQL 15 servers, on 127.0.0.1 or each in a network namespace of its region
/// (``LabNetwork``): one primary, streaming standbys made with
/// `pg_basebackup -R`, cascades where a standby's upstream is another standby.
///
/// Everything it starts it stops by PID (``stop()``), also when starting fails half-way.
/// Methods block; the `async` variants run them on a thread of their own so that they never
/// occupy Swift's cooperative pool.
public final class LabCluster: Sendable {
    public let baseDirectory: String
    /// The superuser every node accepts, with ``password``.
    public let user = "postgres"
    public let password: String
    private let options: LabOptions
    private let removesDirectory: Bool
    private let running: Mutex<[LabNode]>

    /// Every node, primary first, each after its upstream.
    public var nodes: [LabNode] { running.withLock { $0 } }

    private init(baseDirectory: String, options: LabOptions, removesDirectory: Bool, nodes: [LabNode]) {
        self.baseDirectory = baseDirectory
        self.password = options.password
        self.options = options
        self.removesDirectory = removesDirectory
        self.running = Mutex(nodes)
    }

    public func node(_ name: String) -> LabNode {
        guard let node = nodes.first(where: { $0.name == name }) else {
            preconditionFailure("the lab has no node named \(name)")
        }
        return node
    }

    /// Sends `signal` to every process of the server `name`: its postmaster and all its children
    /// (each child is its own process group, so a group signal would miss them). `SIGSTOP` here
    /// hangs the whole server, where a `SIGSTOP` of the postmaster alone leaves running sessions
    /// and WAL streaming alive.
    public func signalServer(_ name: String, _ signal: Int32) throws(LabError) {
        let pid = node(name).pid
        // The postmaster first: stopped, it cannot fork a child that would escape the signal.
        let children = Processes.children(of: pid)
        for target in [pid] + children where kill(target, signal) != 0 && target == pid {
            throw .command("kill", "signal \(signal) to \(name) (pid \(pid)): \(String(cString: strerror(errno)))")
        }
        // A killed server is gone when this returns (a busy machine takes a moment to tear it down),
        // so that the caller's next step meets a dead server, not a dying one.
        if signal == SIGKILL {
            for target in [pid] + children where Processes.waitForExit(target, timeout: .seconds(5)) == nil {
                throw .command("kill", "\(name) (pid \(target)) still runs 5 s after SIGKILL")
            }
        }
    }

    /// Sends `signal` (SIGSTOP, SIGCONT, SIGKILL...) to the postmaster of `name`.
    public func signal(_ name: String, _ signal: Int32) throws(LabError) {
        let pid = node(name).pid
        guard kill(pid, signal) == 0 else {
            throw .command("kill", "signal \(signal) to \(name) (pid \(pid)): \(String(cString: strerror(errno)))")
        }
    }

    // MARK: Starting

    /// Builds and starts the servers, then waits until every standby streams from its upstream.
    public static func start(_ specs: [LabNodeSpec], options: LabOptions = .init()) throws(LabError) -> LabCluster {
        let ordered = try startOrder(specs)
        for tool in ["initdb", "postgres", "pg_basebackup", "pg_isready", "psql"] {
            let path = "\(options.binDirectory)/\(tool)"
            guard FileManager.default.isExecutableFile(atPath: path) else { throw .missingBinary(path) }
        }
        // A namespaced server's port is free by construction: its namespace is new.
        for spec in ordered where spec.namespace == nil && !portIsFree(spec.port) {
            throw .spec(
                "port \(spec.port) for \(spec.name) is already in use; stop what listens there "
                    + "(`failoverctl lab down` if it is an earlier lab) or choose other ports")
        }

        let base: String
        if let directory = options.baseDirectory {
            base = directory
            try? FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        } else {
            var template = Array("/tmp/failover-lab-XXXXXX".utf8CString)
            guard mkdtemp(&template) != nil else {
                throw .command("mkdtemp", String(cString: strerror(errno)))
            }
            base = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        }
        try Processes.giveToServerUser(base)
        let cluster = LabCluster(
            baseDirectory: base, options: options, removesDirectory: options.baseDirectory == nil, nodes: [])
        do {
            try cluster.writePassFile()
            for spec in ordered { try cluster.create(spec) }
            for node in cluster.nodes where node.upstream != nil {
                try cluster.waitUntilStreaming(node, timeout: .seconds(30))
            }
            try cluster.enableSynchronousReplication()
            return cluster
        } catch {
            try? cluster.stop()
            throw error
        }
    }

    /// ``start(_:options:)`` off the cooperative pool.
    public static func start(_ specs: [LabNodeSpec], options: LabOptions = .init()) async throws -> LabCluster {
        try await offCooperativePool { () throws(LabError) in try start(specs, options: options) }
    }

    /// Starts a lab, runs `body`, and stops the lab whatever `body` does.
    public static func withCluster<T: Sendable>(
        _ specs: [LabNodeSpec],
        options: LabOptions = .init(),
        _ body: (LabCluster) async throws -> T
    ) async throws -> T {
        let cluster: LabCluster = try await start(specs, options: options)
        let result: T
        do {
            result = try await body(cluster)
        } catch {
            try? await cluster.stop()
            throw error
        }
        try await cluster.stop()
        return result
    }

    /// The specs, primary first and every standby after its upstream; rejects a malformed layout.
    static func startOrder(_ specs: [LabNodeSpec]) throws(LabError) -> [LabNodeSpec] {
        let names = Set(specs.map(\.name))
        guard names.count == specs.count else { throw .spec("node names must be unique") }
        guard Set(specs.map { "\($0.host):\($0.port)" }).count == specs.count else {
            throw .spec("addresses (host and port) must be unique")
        }
        let primaries = specs.filter { $0.upstream == nil }
        guard primaries.count == 1 else {
            throw .spec("exactly one node must have no upstream (the primary), found \(primaries.count)")
        }
        for spec in specs {
            if let upstream = spec.upstream, !names.contains(upstream) {
                throw .spec("\(spec.name) streams from \(upstream), which is not in the lab")
            }
        }
        var ordered = primaries
        while ordered.count < specs.count {
            let placed = Set(ordered.map(\.name))
            let next = specs.filter { spec in
                !placed.contains(spec.name) && spec.upstream.map(placed.contains) == true
            }
            guard !next.isEmpty else { throw .spec("the upstream chain has a cycle") }
            ordered += next
        }
        return ordered
    }

    // MARK: Servers

    private var binDirectory: String { options.binDirectory }

    /// The lab's password file (`*:*:*:postgres:PASSWORD`, mode 0600, owned by the server user).
    /// Servers, `pg_basebackup` and `pg_rewind` find the password there, so that no configuration
    /// file the lab or the control plane writes (`primary_conninfo`) ever holds it, as a production
    /// standby reads it from `~postgres/.pgpass`.
    public var passFile: String { "\(baseDirectory)/pgpass" }

    /// The environment of every server process and server tool: the passfile, never the password.
    private var serverEnvironment: [String: String] { ["PGPASSFILE": passFile] }

    private func writePassFile() throws(LabError) {
        let escaped = password.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ":", with: "\\:")
        guard
            FileManager.default.createFile(
                atPath: passFile, contents: Data("*:*:*:\(user):\(escaped)\n".utf8),
                attributes: [.posixPermissions: 0o600])
        else { throw .command("configure", "cannot write \(passFile)") }
        try Processes.giveToServerUser(passFile)
    }

    private func create(_ spec: LabNodeSpec) throws(LabError) {
        let dataDirectory = "\(baseDirectory)/\(spec.name)"
        let logPath = "\(baseDirectory)/\(spec.name).log"
        if let upstreamName = spec.upstream {
            let upstream = node(upstreamName)
            // -R writes standby.signal and a primary_conninfo; we add our own settings after it.
            try Processes.run(
                "\(binDirectory)/pg_basebackup",
                [
                    "-h", upstream.host, "-p", String(upstream.port), "-U", user, "-D", dataDirectory,
                    "-R", "-X", "stream", "-c", "fast", "--no-sync",
                ],
                environment: serverEnvironment, logPath: logPath, timeout: .seconds(120))
        } else {
            let passwordFile = "\(baseDirectory)/.pwfile"
            _ = FileManager.default.createFile(
                atPath: passwordFile, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
            try Processes.giveToServerUser(passwordFile)
            defer { try? FileManager.default.removeItem(atPath: passwordFile) }
            // 1 MB WAL segments: promotion copies the last segment, so smaller is faster.
            try Processes.run(
                "\(binDirectory)/initdb",
                [
                    "-D", dataDirectory, "-U", user, "-A", "scram-sha-256", "--pwfile=\(passwordFile)",
                    "--wal-segsize=1", "--no-sync", "--locale=C", "-E", "UTF8", "--no-instructions",
                ],
                logPath: logPath, timeout: .seconds(120))
            // pg_basebackup copies pg_hba.conf, so the primary's is every standby's.
            try allowClientNetworks(dataDirectory: dataDirectory)
        }
        try appendSettings(for: spec, dataDirectory: dataDirectory)
        let pid = try Processes.spawn(
            "\(binDirectory)/postgres", ["-D", dataDirectory], environment: serverEnvironment, logPath: logPath,
            namespace: spec.namespace)
        let node = LabNode(
            name: spec.name, region: spec.region, host: spec.host, port: spec.port, upstream: spec.upstream,
            namespace: spec.namespace, pid: pid, dataDirectory: dataDirectory, logPath: logPath)
        running.withLock { $0.append(node) }
        try waitUntilReady(node, timeout: .seconds(60))
    }

    /// Lets clients and standbys of ``LabOptions/clientNetworks`` log in with the password.
    private func allowClientNetworks(dataDirectory: String) throws(LabError) {
        guard !options.clientNetworks.isEmpty else { return }
        let lines = options.clientNetworks.flatMap { network in
            ["host all all \(network) scram-sha-256", "host replication all \(network) scram-sha-256"]
        }
        let path = "\(dataDirectory)/pg_hba.conf"
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw .command("configure", "cannot open \(path)")
        }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(("\n" + lines.joined(separator: "\n") + "\n").utf8))
    }

    private func appendSettings(for spec: LabNodeSpec, dataDirectory: String) throws(LabError) {
        var settings = [
            // Only its own address: in a namespaced lab, the address is what a partition cuts.
            "listen_addresses = '\(spec.host)'",
            "port = \(spec.port)",
            // TCP only: the lab must not depend on /var/run/postgresql.
            "unix_socket_directories = ''",
            // A standby without application_name in primary_conninfo reports cluster_name upstream.
            "cluster_name = '\(spec.name)'",
            "wal_level = replica",
            "max_wal_senders = 16",
            "max_replication_slots = 16",
            "wal_keep_size = '256MB'",
            "hot_standby = on",
            // Default 5 s: a promotion that arrives just after the stream broke would wait that long.
            "wal_retrieve_retry_interval = '50ms'",
            "wal_receiver_status_interval = '1s'",
            // A standby asks a silent upstream for a reply after half of this: a live primary answers
            // within about 1 s, so the control plane can tell a partition from a dead primary.
            "wal_receiver_timeout = '2s'",
            // Lab data is disposable; kill -9 keeps the page cache, so crash tests stay meaningful.
            "fsync = off",
            // pg_rewind needs it (or data checksums) to rejoin an old primary as a standby.
            "wal_log_hints = on",
            "shared_buffers = '32MB'",
            "max_connections = 50",
            "log_line_prefix = '%m [%p] '",
            // An old primary rejoining as a standby may carry a fence; as a standby it needs none.
            "default_transaction_read_only = off",
        ]
        if let upstream = spec.upstream.map(node) {
            // No password here: the server's WAL receiver reads it from the lab's passfile.
            settings.append(
                "primary_conninfo = 'host=\(upstream.host) port=\(upstream.port) user=\(user) "
                    + "application_name=\(spec.name)'")
        }
        // postgresql.auto.conf is read last: these win over what initdb or pg_basebackup -R wrote.
        let path = "\(dataDirectory)/postgresql.auto.conf"
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw .command("configure", "cannot open \(path)")
        }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: Data(("\n" + settings.joined(separator: "\n") + "\n").utf8))
    }

    private func waitUntilReady(_ node: LabNode, timeout: Duration) throws(LabError) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard Processes.isAlive(node.pid) else {
                throw .command("postgres", "\(node.name) exited while starting; log:\n\(Processes.tail(node.logPath))")
            }
            let ready: Void? = try? Processes.run(
                "\(binDirectory)/pg_isready", ["-h", node.host, "-p", String(node.port), "-t", "1"],
                logPath: "\(baseDirectory)/pg_isready.log", timeout: .seconds(5))
            if ready != nil { return }
            usleep(50_000)
        }
        throw .timeout("\(node.name) to accept connections", Processes.tail(node.logPath))
    }

    private func waitUntilStreaming(_ node: LabNode, timeout: Duration) throws(LabError) {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = (try? sql(node.name, "select status from pg_stat_wal_receiver")) ?? last
            if last == "streaming" { return }
            usleep(50_000)
        }
        throw .timeout("\(node.name) to stream from \(node.upstream ?? "?") (last status: \(last))", "")
    }

    private func enableSynchronousReplication() throws(LabError) {
        guard !options.synchronousStandbys.isEmpty, let primary = nodes.first else { return }
        let names = options.synchronousStandbys.map { "\"\($0)\"" }.joined(separator: ", ")
        // Set only once the standbys stream: earlier, every commit on the primary would wait.
        _ = try sql(
            primary.name,
            "alter system set synchronous_standby_names = 'ANY \(options.synchronousCount) (\(names))'")
        _ = try sql(primary.name, "select pg_reload_conf()")
    }

    /// Runs one statement through `psql` on `name` and returns its unaligned output.
    /// `fromItsNamespace` runs `psql` inside the server's own network namespace, which reaches it
    /// even while a fault cuts its region off from the rest of the lab.
    public func sql(
        _ name: String, _ statement: String, timeout: Duration = .seconds(10), fromItsNamespace: Bool = false
    ) throws(LabError) -> String {
        let node = node(name)
        let seconds = max(1, Int(timeout.components.seconds))
        return try Processes.capture(
            "\(binDirectory)/psql",
            ["-h", node.host, "-p", String(node.port), "-U", user, "-d", "postgres", "-XAtq", "-c", statement],
            environment: ["PGPASSWORD": password, "PGCONNECT_TIMEOUT": String(seconds)],
            scratchPath: "\(baseDirectory)/psql-\(UUID().uuidString).out", timeout: timeout,
            namespace: fromItsNamespace ? node.namespace : nil)
    }

    // MARK: Restarting

    /// Makes `name` (typically an old primary) a standby of `upstream`: stops it, rewinds it onto
    /// `upstream`'s timeline with `pg_rewind` (a no-op when it has not diverged), writes
    /// `standby.signal` and a `primary_conninfo`, starts it and waits until it streams.
    /// This is the lab's rejoin procedure, what an operator's rejoin command does on a real host.
    public func rejoin(_ name: String, upstream upstreamName: String) throws(LabError) {
        var node = node(name)
        let upstream = self.node(upstreamName)
        // pg_rewind reads the source's timeline from pg_control, which a just-promoted server
        // updates only at its next checkpoint: without one it sees no divergence and skips the rewind.
        _ = try sql(upstreamName, "CHECKPOINT")
        try Processes.stop(node.pid)
        removeStaleLockFile(of: node)
        try Processes.run(
            "\(binDirectory)/pg_rewind",
            [
                "--target-pgdata=\(node.dataDirectory)",
                "--source-server=host=\(upstream.host) port=\(upstream.port) user=\(user) dbname=postgres",
            ],
            environment: serverEnvironment, logPath: node.logPath, timeout: .seconds(120))
        let signal = "\(node.dataDirectory)/standby.signal"
        _ = FileManager.default.createFile(atPath: signal, contents: Data())
        try Processes.giveToServerUser(signal)
        // pg_rewind copied the upstream's configuration files: restate this node's own settings.
        let spec = LabNodeSpec(
            name: node.name, region: node.region, port: node.port, upstream: upstreamName, host: node.host,
            namespace: node.namespace)
        try appendSettings(for: spec, dataDirectory: node.dataDirectory)
        node.upstream = upstreamName
        try relaunch(node)
        try waitUntilStreaming(self.node(name), timeout: .seconds(30))
    }

    /// Starts `name` again on its data directory after a crash (a region's outage), as its host
    /// would after a reboot: PostgreSQL recovers and comes back in the role its files say.
    /// Does nothing when it is running.
    public func restartAfterCrash(_ name: String) throws(LabError) {
        guard !isRunning(name) else { return }
        let node = node(name)
        removeStaleLockFile(of: node)
        try relaunch(node)
    }

    /// A killed postmaster whose parent has exited is reaped by PID 1, which may take seconds here;
    /// until then its PID exists (a zombie) and PostgreSQL (and pg_rewind's single-user run), finding
    /// it in postmaster.pid, refuses to start. A zombie holds no memory and no socket, so once it is
    /// the only trace of the server the stale lock file goes. Call only when the server is not running.
    private func removeStaleLockFile(of node: LabNode) {
        let deadline = ContinuousClock.now + .seconds(2)
        while FileManager.default.fileExists(atPath: "/proc/\(node.pid)") && ContinuousClock.now < deadline {
            usleep(20_000)
        }
        if FileManager.default.fileExists(atPath: "/proc/\(node.pid)") && !Processes.isAlive(node.pid) {
            try? FileManager.default.removeItem(atPath: "\(node.dataDirectory)/postmaster.pid")
        }
    }

    /// Starts `node`'s postmaster and records its new PID.
    private func relaunch(_ node: LabNode) throws(LabError) {
        var node = node
        node.pid = try Processes.spawn(
            "\(binDirectory)/postgres", ["-D", node.dataDirectory], environment: serverEnvironment,
            logPath: node.logPath, namespace: node.namespace)
        let updated = node
        running.withLock { nodes in
            if let index = nodes.firstIndex(where: { $0.name == updated.name }) { nodes[index] = updated }
        }
        try waitUntilReady(node, timeout: .seconds(60))
    }

    // MARK: Stopping

    /// Stops every server by PID (fast shutdown, then SIGKILL after a bounded wait), standbys first,
    /// and removes the lab's directory if the lab created it. Safe to call more than once.
    public func stop() throws(LabError) {
        var failures: [String] = []
        for node in nodes.reversed() {
            do throws(LabError) {
                try Processes.stop(node.pid)
            } catch {
                failures.append(error.description)
            }
        }
        running.withLock { $0.removeAll() }
        guard failures.isEmpty else { throw .command("stop", failures.joined(separator: "; ")) }
        if removesDirectory && ProcessInfo.processInfo.environment["FAILOVER_LAB_KEEP"] == nil {
            try? FileManager.default.removeItem(atPath: baseDirectory)
        }
    }

    /// ``stop()`` off the cooperative pool.
    public func stop() async throws {
        try await Self.offCooperativePool { () throws(LabError) in try self.stop() }
    }

    // MARK: A lab that outlives the command that started it

    private struct SavedState: Codable {
        var baseDirectory: String
        var nodes: [LabNode]
    }

    /// Writes what `stop()` needs to find the servers again (no password).
    public func save(to path: String) throws {
        let state = SavedState(baseDirectory: baseDirectory, nodes: nodes)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(state).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// A lab started earlier by another process, as recorded by ``save(to:)``.
    public static func attach(statePath: String, options: LabOptions = .init()) throws -> LabCluster {
        let state = try JSONDecoder().decode(SavedState.self, from: Data(contentsOf: URL(fileURLWithPath: statePath)))
        return LabCluster(
            baseDirectory: state.baseDirectory, options: options, removesDirectory: false, nodes: state.nodes)
    }

    /// True while `pid` exists and is not a zombie.
    public static func processIsAlive(_ pid: Int32) -> Bool { Processes.isAlive(pid) }

    /// The PIDs whose parent is `pid`: a postmaster's backends, walsenders, walreceiver...
    public static func childProcesses(of pid: Int32) -> [Int32] { Processes.children(of: pid) }

    /// Whether the postmaster of `name` is still running.
    public func isRunning(_ name: String) -> Bool { Processes.isAlive(node(name).pid) }

    static func offCooperativePool<T: Sendable>(
        _ work: @escaping @Sendable () throws(LabError) -> T
    ) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                do {
                    continuation.resume(returning: try work())
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
