import ArgumentParser
import CMallocCounter
import Failover
import Foundation
import Health
import Lab
import Logging
import Routing
import TestSupport
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// pgbench select-only through nothing, through the proxy and through HAProxy on one lab, the CPU
/// each proxy spends per transaction, and the router's cost per pick.
///
/// The proxy runs as its own process (`proxy-benchmark serve`), built as failoverd builds it (health
/// monitor, routing table naming the primary), so its CPU is read from `/proc/<pid>/stat` like
/// HAProxy's. Every configuration uses the same pgbench clients, threads and duration against the
/// same primary.
@main
struct ProxyBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy-benchmark",
        abstract: "pgbench -S direct, through the proxy and through HAProxy; last line is one JSON object.",
        subcommands: [Measure.self, Serve.self],
        defaultSubcommand: Measure.self)
}

struct Measure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "measure", abstract: "Start a lab, the proxy and HAProxy, and run every measurement (default).")

    @Option(help: "Seconds per pgbench run.")
    var duration = 10

    @Option(help: "Rounds over the targets per workload (the order alternates).")
    var rounds = 2

    @Option(help: "pgbench scale factor for `pgbench -i`.")
    var scale = 1

    @Option(help: "Router picks timed, per kind (read, write).")
    var picks = 1_000_000

    @Option(help: "HAProxy executable (Debian's `haproxy`).")
    var haproxy = "/usr/sbin/haproxy"

    @Option(help: "Directory of pgbench.")
    var pgBin = "/usr/lib/postgresql/15/bin"

    func run() async throws {
        for path in [haproxy, pgBin + "/pgbench"] where !FileManager.default.isExecutableFile(atPath: path) {
            throw ValidationError("\(path) not found: install Debian's haproxy and postgresql-15")
        }
        var summary: [String: Any] = ["duration_s": duration, "rounds": rounds, "build": buildKind]
        let ports = try LabCluster.freePorts(2)
        let specs = [
            LabNodeSpec(name: "pg-primary", region: "us-east", port: ports[0], upstream: nil),
            LabNodeSpec(name: "pg-standby", region: "eu-west", port: ports[1], upstream: "pg-primary"),
        ]
        try await LabCluster.withCluster(specs) { lab in
            let router = try await RouterCost.measure(lab: lab, picks: picks)
            print(
                "router: read \(format(router.readNanoseconds)) ns/pick, write \(format(router.writeNanoseconds)) ns/pick, "
                    + "allocations/pick \(router.allocationsPerPick.map { format($0) } ?? "not counted")")
            summary["router_ns_per_pick"] = router.readNanoseconds
            summary["router_ns_per_write_pick"] = router.writeNanoseconds
            summary["router_allocs_per_pick"] = router.allocationsPerPick ?? -1

            let primary = lab.node("pg-primary").port
            let pgbench = PGBench(path: pgBin + "/pgbench", user: lab.user, password: lab.password)
            try await pgbench.initialize(port: primary, scale: scale)

            let work = FileManager.default.temporaryDirectory.appendingPathComponent("proxy-benchmark-\(getpid())")
                .path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: work) }

            let proxy = try await ProxyProcess.start(
                primaryPort: primary, standbyPort: lab.node("pg-standby").port, password: lab.password,
                directory: work)
            defer { proxy.process.stop() }
            let haproxy = try await HAProxyProcess.start(executable: haproxy, backendPort: primary, directory: work)
            defer { haproxy.process.stop() }
            print(
                "targets: direct 127.0.0.1:\(primary), proxy 127.0.0.1:\(proxy.port) (pid \(proxy.process.pid)), "
                    + "haproxy 127.0.0.1:\(haproxy.port) (pid \(haproxy.process.pid))")

            let targets: [(name: String, port: Int, pid: Int32?)] = [
                ("direct", primary, nil),
                ("proxy", proxy.port, proxy.process.pid),
                ("haproxy", haproxy.port, haproxy.process.pid),
            ]
            for workload in Workload.all {
                // Rounds alternate the order (direct, proxy, haproxy, then reversed) so that drift in
                // the machine's load does not favour one target; figures are means over the rounds.
                var totals: [String: Totals] = [:]
                for round in 0..<rounds {
                    for target in round.isMultiple(of: 2) ? targets : targets.reversed() {
                        let before = target.pid.flatMap(ProcessCPU.seconds(of:))
                        let result = try await pgbench.run(workload, port: target.port, duration: duration)
                        let after = target.pid.flatMap(ProcessCPU.seconds(of:))
                        var cpu: Double?
                        if let before, let after {
                            cpu = after - before
                        }
                        totals[target.name, default: Totals()].add(result, cpuSeconds: cpu)
                        print(
                            "\(workload.name) \(target.name) round \(round + 1): tps=\(format(result.tps)) "
                                + "latency_avg=\(format(result.latencyMilliseconds * 1000)) us "
                                + "transactions=\(result.transactions)"
                                + (cpu.map {
                                    " cpu_per_tx=\(format($0 / Double(max(1, result.transactions)) * 1e6)) us"
                                }
                                    ?? ""))
                    }
                }
                for target in targets {
                    guard let total = totals[target.name] else { continue }
                    summary["\(target.name)_tps\(workload.suffix)"] = total.tps
                    summary["\(target.name)_latency\(workload.suffix)_us"] = total.latencyMicroseconds
                    if let cpu = total.cpuMicrosecondsPerTransaction {
                        summary["\(target.name)_cpu_us_per_tx\(workload.suffix)"] = cpu
                    }
                }
                if let direct = totals["direct"] {
                    for name in ["proxy", "haproxy"] {
                        guard let through = totals[name] else { continue }
                        let added = through.latencyMicroseconds - direct.latencyMicroseconds
                        summary["\(name)_added_latency\(workload.suffix)_us"] = added
                        summary["\(name)_vs_direct_tps\(workload.suffix)"] = through.tps / direct.tps
                        print(
                            "\(workload.name) \(name) vs direct: tps \(format(through.tps / direct.tps))x, "
                                + "added latency \(format(added)) us"
                                + (through.cpuMicrosecondsPerTransaction.map { ", cpu_per_tx \(format($0)) us" } ?? ""))
                    }
                }
                if let ours = totals["proxy"], let theirs = totals["haproxy"] {
                    summary["proxy_vs_haproxy_tps\(workload.suffix)"] = ours.tps / theirs.tps
                }
            }
            proxy.process.stop()
            haproxy.process.stop()
        }
        let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    private var buildKind: String {
        #if DEBUG
            "debug"
        #else
            "release"
        #endif
    }
}

/// One target's runs of one workload.
struct Totals {
    var runs = 0
    var tpsSum = 0.0
    var latencySum = 0.0
    var transactions = 0
    var cpuSeconds: Double?

    mutating func add(_ result: PGBench.Result, cpuSeconds cpu: Double?) {
        runs += 1
        tpsSum += result.tps
        latencySum += result.latencyMilliseconds * 1000
        transactions += result.transactions
        if let cpu {
            cpuSeconds = (cpuSeconds ?? 0) + cpu
        }
    }

    var tps: Double { tpsSum / Double(max(1, runs)) }
    var latencyMicroseconds: Double { latencySum / Double(max(1, runs)) }
    var cpuMicrosecondsPerTransaction: Double? {
        cpuSeconds.map { $0 / Double(max(1, transactions)) * 1e6 }
    }
}

/// One pgbench configuration, run against every target.
struct Workload {
    var name: String
    /// Appended to the JSON keys: "" for the headline (8 clients), `_1client`, `_churn`.
    var suffix: String
    var clients: Int
    var threads: Int
    /// `-C`: a new connection per transaction.
    var reconnect: Bool

    static let all = [
        Workload(name: "select 8 clients", suffix: "", clients: 8, threads: 2, reconnect: false),
        Workload(name: "select 1 client", suffix: "_1client", clients: 1, threads: 1, reconnect: false),
        Workload(name: "select 8 clients -C", suffix: "_churn", clients: 8, threads: 2, reconnect: true),
    ]
}

/// The router's decision cost on the lab's real health snapshot: the same calls the proxy makes per
/// new connection, on one thread, with the thread's heap allocations counted around them.
enum RouterCost {
    struct Result {
        var readNanoseconds: Double
        var writeNanoseconds: Double
        /// nil when the allocation counter is not in effect (see ``CMallocCounter``).
        var allocationsPerPick: Double?
    }

    static func measure(lab: LabCluster, picks: Int) async throws -> Result {
        var logger = Logger(label: "proxy-benchmark")
        logger.logLevel = .error
        let topology = benchmarkTopology(
            primaryPort: lab.node("pg-primary").port, standbyPort: lab.node("pg-standby").port, password: lab.password)
        let monitor = HealthMonitor(topology: topology, logger: logger)
        let task = Task { try await monitor.run() }
        defer { task.cancel() }
        try await waitUntil(timeout: .seconds(20)) {
            monitor.latest.endpoints.allSatisfy { $0.reachable && ($0.role == .primary || $0.lagBytes != nil) }
        }
        let snapshot = monitor.latest
        task.cancel()
        _ = await task.result
        return timePicks(topology: topology, snapshot: snapshot, picks: picks)
    }

    private static func timePicks(topology: ClusterTopology, snapshot: HealthSnapshot, picks: Int) -> Result {
        var router = ConnectionRouter(topology: topology)
        let table = routingTable(epoch: 1, writeTarget: "pg-primary")
        let now = ContinuousClock.now
        let clock = ContinuousClock()
        var chosen = 0
        // Warm-up, and a check that both kinds find an endpoint.
        for request in [RouteRequest.read, .write] {
            guard router.route(request, snapshot: snapshot, table: table, now: now).target != nil else {
                preconditionFailure("the router found no endpoint for \(request.kind)")
            }
        }
        var nanoseconds: [RouteRequest.Kind: Double] = [:]
        let allocationsBefore = malloc_counter_thread_allocations()
        for kind in [RouteRequest.Kind.read, .write] {
            let request = RouteRequest(kind)
            let started = clock.now
            for _ in 0..<picks {
                chosen &+= router.route(request, snapshot: snapshot, table: table, now: now).target?.index ?? 0
            }
            nanoseconds[kind] = seconds(clock.now - started) * 1e9 / Double(picks)
        }
        let allocations = malloc_counter_thread_allocations() - allocationsBefore
        // The counter is in effect only if it sees an allocation made on purpose.
        let probeBefore = malloc_counter_thread_allocations()
        let probe = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        probe.deallocate()
        let counting = malloc_counter_thread_allocations() > probeBefore
        precondition(chosen >= 0)
        return Result(
            readNanoseconds: nanoseconds[.read] ?? -1, writeNanoseconds: nanoseconds[.write] ?? -1,
            allocationsPerPick: counting ? Double(allocations) / Double(2 * picks) : nil)
    }
}

/// The lab's primary and standby as a cluster file would describe them, each its own region;
/// routing enabled on ports chosen by the system.
func benchmarkTopology(primaryPort: Int, standbyPort: Int, password: String) -> ClusterTopology {
    let health = HealthSettings(probeInterval: .seconds(1), probeTimeout: .milliseconds(500))
    let servers = [("pg-primary", "us-east", primaryPort), ("pg-standby", "eu-west", standbyPort)]
    let regions = servers.enumerated().map { index, server in
        Region(
            name: server.1, priority: 100 - index,
            leader: Endpoint(
                name: server.0, region: server.1, role: .leader, host: "127.0.0.1", port: server.2, health: health),
            replicas: [])
    }
    var topology = ClusterTopology(
        name: "proxy-benchmark", sourceFile: "proxy-benchmark",
        connection: ConnectionSettings(
            user: "postgres", password: Secret(password), sslMode: .disable, connectTimeout: .seconds(1)),
        replication: ReplicationSettings(), defaults: health, regions: regions)
    topology.routing = RoutingSettings(
        enabled: true,
        listenReadWrite: ListenAddress(host: "127.0.0.1", port: 0),
        listenReadOnly: ListenAddress(host: "127.0.0.1", port: 0))
    return topology
}

func routingTable(epoch: UInt64, writeTarget: String) -> RoutingTable {
    // RoutingTable has no public memberwise initializer; its Codable form is public.
    let json = #"{"epoch":\#(epoch),"writeTarget":"\#(writeTarget)","writesPaused":false,"fenced":[]}"#
    return try! JSONDecoder().decode(RoutingTable.self, from: Data(json.utf8))
}

func waitUntil(timeout: Duration, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw BenchmarkError("condition not met within \(timeout)")
}

struct BenchmarkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

func format(_ value: Double) -> String {
    String(format: "%.2f", value)
}
