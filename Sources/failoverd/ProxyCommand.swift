import ArgumentParser
import Failover
import Foundation
import Health
import Hummingbird
import Logging
import NIOCore
import Proxy
import Routing
import ServiceLifecycle
import Topology
import UnixSignals

/// `failoverd proxy`: the read/write proxy as its own process, following a daemon's routing table.
struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Run the read/write proxy as its own process, following a failoverd's routing table.",
        discussion: """
            The proxy listens on the cluster file's routing: addresses (whatever routing.enabled says: \
            that key is about the proxy inside the daemon), probes the endpoints with its own health \
            monitor for the choice of readers, and takes the write target only from the daemon's \
            GET /api/routing/watch. When the daemon is unreachable it keeps routing with the last table \
            (it never picks a primary itself), says so in its log and status, and reconnects. \
            Signals: SIGTERM and SIGINT stop it.
            """
    )

    @Option(help: "Cluster file (YAML): endpoints, health settings and the routing: section.")
    var config: String

    @Option(help: "The daemon's admin API URL, e.g. http://127.0.0.1:8008.")
    var control: String

    @Option(help: "Environment variable that holds a viewer token for the admin API (never a flag: flags show in ps).")
    var tokenEnv = "FAILOVER_API_TOKEN"

    @Option(help: "PEM file of the CA of the daemon's certificate, for an https control URL.")
    var caFile: String?

    @Option(help: "Serve GET /status (JSON) on HOST:PORT, e.g. 127.0.0.1:6439; off without it.")
    var statusListen: String?

    @Option(help: "Seconds between status lines in the log (0: none).")
    var statusInterval = 30

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard control.hasPrefix("http://") || control.hasPrefix("https://") else {
            throw ValidationError("--control must be an http:// or https:// URL, e.g. http://127.0.0.1:8008")
        }
        if let statusListen, APISettings.parseListen(statusListen) == nil {
            throw ValidationError("--status-listen must be HOST:PORT, e.g. 127.0.0.1:6439")
        }
        guard (0...86_400).contains(statusInterval) else {
            throw ValidationError("--status-interval must be from 0 to 86400 seconds")
        }
    }

    func run() async throws {
        Failoverd.bootstrapLogging(logLevel)
        let logger = Logger(label: "failoverd.proxy")
        let topology: ClusterTopology
        do {
            topology = try TopologyLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let token = ProcessInfo.processInfo.environment[tokenEnv].flatMap { $0.isEmpty ? nil : $0 }
        if token == nil {
            logger.warning(
                "no token in the environment variable; the watch route will answer 401 if the API needs one",
                metadata: ["variable": "\(tokenEnv)"])
        }
        // It only reports (reader choice, breakers); it never decides anything about the cluster.
        let monitor = HealthMonitor(
            topology: topology,
            options: HealthMonitor.Options(fastReprobeInterval: topology.failover.fastReprobeInterval),
            logger: Logger(label: "failoverd.proxy.health"))
        var options = RoutingFollower.Options()
        options.caFile = caFile
        let follower = RoutingFollower(
            control: control, token: token, options: options, logger: Logger(label: "failoverd.proxy.control"))
        let proxy = ProxyService(
            topology: topology, snapshot: { monitor.latest }, routingUpdates: follower.tables, logger: logger)
        let reporter = ProxyStatusReporter(
            follower: follower, proxy: proxy, interval: statusInterval, logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: monitor), .init(service: follower), .init(service: proxy), .init(service: reporter),
        ]
        if let statusListen, let (host, port) = APISettings.parseListen(statusListen) {
            services.append(.init(service: reporter.statusServer(host: host, port: port)))
        }
        logger.notice(
            "failoverd proxy starting",
            metadata: [
                "cluster": "\(topology.name)", "control": "\(RoutingFollower.withoutUserInformation(control))",
                "listen_rw": "\(topology.routing.listenReadWrite)", "listen_ro": "\(topology.routing.listenReadOnly)",
            ])
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// What `GET /status` of a separate proxy answers.
struct ProxyProcessStatus: Codable, Sendable {
    /// Where the routing table comes from; `stale: true` while the daemon is not heard.
    var control: RoutingFollower.Status
    /// The proxy: the table in use, listeners, pools, counters, breakers.
    var proxy: ProxyStatus
}

/// A status line in the log every `interval` seconds, and the optional `GET /status` listener.
struct ProxyStatusReporter: Service {
    let follower: RoutingFollower
    let proxy: ProxyService
    let interval: Int
    let logger: Logger

    func status() -> ProxyProcessStatus {
        ProxyProcessStatus(control: follower.status(), proxy: proxy.status())
    }

    func run() async throws {
        guard interval > 0 else { return }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: .seconds(interval))
            guard !Task.isShuttingDownGracefully && !Task.isCancelled else { break }
            let status = status()
            logger.info(
                "proxy status",
                metadata: [
                    "table": "\(status.control.stale ? "stale" : "current")", "epoch": "\(status.proxy.epoch)",
                    "write_target": "\(status.proxy.writeTarget ?? "none")",
                    "connections": "\(status.proxy.endpoints.reduce(0) { $0 + $1.activeConnections })",
                    "accepted": "\(status.proxy.accepted)",
                ])
        }
    }

    func statusServer(host: String, port: Int) -> some Service {
        let router = Router()
        router.get("/status") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            encoder.dateEncodingStrategy = .iso8601
            let data = (try? encoder.encode(status())) ?? Data("{}".utf8)
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/healthz") { _, _ in "ok\n" }
        return Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            logger: Logger(label: "failoverd.proxy.status"))
    }
}
