import AdminAPI
import Failover
import Foundation
import Health
import Logging
import Metrics
import Proxy
import StateStore
import Topology
import Vocabulary

/// Builds the admin API service of the daemon from the cluster file's `api:` section.
enum AdminWiring {
    /// - Parameter listen: `HOST:PORT` from `--listen`, overriding `api.listen`.
    static func make(
        topology: ClusterTopology, listen: String?, configPath: String, monitor: HealthMonitor,
        service: RegionalFailoverService, store: StateStore, proxy: ProxyService?, events: any EventSink
    ) throws -> AdminAPI {
        var settings = topology.api
        if let listen {
            guard let (host, port) = APISettings.parseListen(listen) else {
                throw ValidationErrorText("--listen must be HOST:PORT, e.g. 127.0.0.1:8008")
            }
            settings.host = host
            settings.port = port
        }
        let metrics = APIMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        let logger = Logger(label: "failoverd.api")
        let cluster = topology.name
        let reload: @Sendable () async throws -> Void = {
            let topology: ClusterTopology
            do {
                topology = try TopologyLoader.load(path: configPath)
            } catch let error as TopologyLoadError {
                // As for SIGHUP: the caller gets the diagnostics, operators get the alert.
                events.emit(
                    ConfigurationReloader.failedEvent(path: configPath, cluster: cluster, error: error, at: Date()))
                throw error
            }
            monitor.reconfigure(topology: topology)
            await service.reconfigure(topology: topology, settings: FailoverSettings(policy: topology.failover))
            logger.notice("configuration reloaded", metadata: ["file": "\(configPath)"])
        }
        if settings.tokens.isEmpty {
            logger.warning("api.tokens is empty: every admin route but /healthz and /readyz answers 401")
        }
        return AdminAPI(
            settings: settings,
            dependencies: .init(service: service, monitor: monitor, store: store, proxy: proxy, reload: reload),
            metrics: metrics, logger: logger)
    }
}

struct ValidationErrorText: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
