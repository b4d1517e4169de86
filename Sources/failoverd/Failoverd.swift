import AdminAPI
import Alerting
import ArgumentParser
import Failover
import Foundation
import Health
import Logging
import Proxy
import ServiceLifecycle
import StateStore
import Topology
import UnixSignals
import Vocabulary

/// `failoverd`: the daemon (the default command), or `failoverd proxy`, the read/write proxy as its
/// own process.
@main
struct Failoverd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failoverd",
        abstract: "Watch a multi-region PostgreSQL cluster and move writes to the best standby when the primary fails.",
        discussion: """
            Without a subcommand, runs the daemon (`failoverd run`); `failoverd proxy` runs the \
            read/write proxy as its own process, following a daemon's routing table.
            """,
        subcommands: [DaemonCommand.self, ProxyCommand.self],
        defaultSubcommand: DaemonCommand.self
    )

    static func bootstrapLogging(_ logLevel: String) {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// The failover daemon: watches the cluster of a cluster file and fails over when its primary dies.
struct DaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (the default command): monitor, failover service, admin API, proxy.",
        discussion: """
            Signals: SIGTERM and SIGINT stop gracefully (the running step finishes and is journaled); \
            SIGHUP reloads the cluster file (validated first; on error the old configuration stays and a \
            config_reload_failed alert is raised).
            """
    )

    /// How long a graceful stop may take before the services are cancelled.
    static let gracefulShutdownBound: Duration = .seconds(15)
    /// How long cancelled services get before the process ends regardless.
    static let cancellationBound: Duration = .seconds(5)

    /// On SIGTERM or SIGINT, starts a clock: `after` that, running operator commands are killed
    /// and the process exits, even if a service never returned.
    static func armStopWatchdog(after bound: Duration) -> any DispatchSourceSignal {
        let source = DispatchSource.makeSignalSource(signal: SIGTERM, queue: .global())
        source.setEventHandler {
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: Double(bound.components.seconds))
                FileHandle.standardError.write(Data("failoverd: still running \(bound) after SIGTERM; exiting\n".utf8))
                OperatorCommands.killAll()
                _exit(1)
            }
        }
        source.resume()
        return source
    }

    @Option(help: "Cluster file (YAML), e.g. /etc/failoverd/cluster.yaml (the lab's: regions/lab.yaml).")
    var config: String

    @Option(
        help: "Alert rules and channels (YAML, see docs/alerting.md); without it events are only logged and stored.")
    var alerts: String?

    @Option(help: "State store (SQLite) path: journal, history, events.")
    var state = ".failoverd/state.sqlite"

    @Option(help: "Admin API address HOST:PORT; overrides api.listen (default 127.0.0.1:8008).")
    var listen: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        // A SIGHUP before the reloader listens would end the process (the default action): ignore
        // it until then. The reloader's signal sequence takes the signal over.
        signal(SIGHUP, SIG_IGN)
        Failoverd.bootstrapLogging(logLevel)
        let logger = Logger(label: "failoverd")
        let topology: ClusterTopology
        do {
            topology = try TopologyLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            throw ExitCode(1)
        }
        let lock: StateFileLock
        do {
            lock = try StateFileLock(statePath: state)
        } catch {
            FileHandle.standardError.write(Data("failoverd: \(error)\n".utf8))
            throw ExitCode(1)
        }
        defer { withExtendedLifetime(lock) {} }
        let store = try StateStore(path: state)
        let monitor = HealthMonitor(
            topology: topology,
            options: HealthMonitor.Options(fastReprobeInterval: topology.failover.fastReprobeInterval),
            logger: Logger(label: "failoverd.health"))
        var alertPipeline: AlertPipeline?
        if let alerts {
            do {
                let configuration = try AlertConfigurationLoader.load(path: alerts)
                alertPipeline = AlertPipeline(
                    configuration: configuration, store: store, logger: Logger(label: "failoverd.alerts"),
                    cluster: topology.name)
            } catch {
                FileHandle.standardError.write(Data((error.description + "\n").utf8))
                throw ExitCode(1)
            }
        }
        let events = EventLog(store: store, logger: Logger(label: "failoverd.events"), forwardingTo: alertPipeline)
        let service = RegionalFailoverService(
            topology: topology, settings: FailoverSettings(policy: topology.failover), monitor: monitor, store: store,
            events: events, logger: Logger(label: "failoverd.failover"),
            faultPoint: ProcessInfo.processInfo.environment["FAILOVERD_FAULT_POINT"])
        // The read/write proxy follows the decision-maker's routing table; off without a routing: section.
        let proxy: ProxyService? =
            topology.routing.enabled
            ? ProxyService(
                topology: topology, snapshot: { monitor.latest }, routingUpdates: service.routingUpdates(),
                logger: Logger(label: "failoverd.proxy"), events: events)
            : nil
        let reloader = ConfigurationReloader(
            path: config, cluster: topology.name, monitor: monitor, service: service, events: events, logger: logger)
        let api = try AdminWiring.make(
            topology: topology, listen: listen, configPath: config, monitor: monitor, service: service, store: store,
            proxy: proxy, events: events)

        logger.notice(
            "failoverd starting",
            metadata: [
                "cluster": "\(topology.name)", "endpoints": "\(topology.allEndpoints.count)", "state": "\(state)",
            ])
        var configuration = ServiceGroupConfiguration(
            services: [
                .init(service: events), .init(service: monitor), .init(service: service),
                .init(
                    service: ThresholdAlertMonitor(
                        monitor: monitor, events: events, logger: Logger(label: "failoverd.thresholds"))),
                .init(service: reloader), .init(service: api),
            ] + (alertPipeline.map { [.init(service: $0)] } ?? []) + (proxy.map { [.init(service: $0)] } ?? []),
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // A graceful stop waits for the running step, open HTTP streams (a proxy following
        // /api/routing/watch never ends its request) and the outbox; past these bounds, well inside
        // systemd's TimeoutStopSec=60, everything is cancelled (a running command is killed with its
        // process group) and the process ends.
        configuration.maximumGracefulShutdownDuration = Self.gracefulShutdownBound
        configuration.maximumCancellationDuration = Self.cancellationBound
        // The last resort: whatever a service does, the process ends (its commands killed) a few
        // seconds after those bounds, inside systemd's TimeoutStopSec=60.
        let stopWatchdog = Self.armStopWatchdog(
            after: Self.gracefulShutdownBound + Self.cancellationBound + .seconds(5))
        defer { stopWatchdog.cancel() }
        try await ServiceGroup(configuration: configuration).run()
        logger.notice("failoverd stopped")
    }
}

/// Reloads the cluster file on SIGHUP: validated first; on error the running configuration stays
/// and a `config_reload_failed` event (high) goes to the event log and the alerts.
struct ConfigurationReloader: Service {
    let path: String
    /// The cluster the running configuration names, for the event.
    let cluster: String
    let monitor: HealthMonitor
    let service: RegionalFailoverService
    let events: any EventSink
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                let topology = try TopologyLoader.load(path: path)
                monitor.reconfigure(topology: topology)
                await service.reconfigure(topology: topology, settings: FailoverSettings(policy: topology.failover))
                logger.notice("configuration reloaded", metadata: ["file": "\(path)"])
            } catch {
                logger.error(
                    "configuration reload failed; keeping the running configuration",
                    metadata: ["file": "\(path)", "errors": "\(error.diagnostics.count)"])
                for diagnostic in error.diagnostics { logger.error("\(diagnostic.description)") }
                events.emit(Self.failedEvent(path: path, cluster: cluster, error: error, at: Date()))
            }
        }
    }
}

extension ConfigurationReloader {
    /// The count of problems and the first one (`FILE:LINE:COLUMN: error: ...`); diagnostics never
    /// quote a value read from the environment, so no secret reaches the facts.
    static func failedEvent(path: String, cluster: String, error: TopologyLoadError, at: Date) -> ControlEvent {
        var facts = ["file": path, "diagnostics": "\(error.diagnostics.count)"]
        if let first = error.diagnostics.first { facts["first_diagnostic"] = first.description }
        return ControlEvent(
            kind: .configReloadFailed, severity: .high, cluster: cluster,
            summary:
                "reloading \(path) failed with \(error.diagnostics.count) problem(s); the running configuration stays",
            facts: facts, at: at, dedupKey: "\(cluster)/config_reload_failed")
    }
}
