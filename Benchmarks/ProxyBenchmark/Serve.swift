import ArgumentParser
import Failover
import Foundation
import Health
import Logging
import Proxy
import Routing
import Topology
import Vocabulary

/// The proxy as failoverd runs it (health monitor feeding snapshots, a routing table naming the
/// primary), alone in its process so that its CPU time can be read. Runs until it is signalled.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the proxy in front of a lab primary and standby (started by `measure`).")

    /// The lab password, passed in the environment rather than on the command line.
    static let passwordVariable = "PROXY_BENCHMARK_PASSWORD"

    @Option(help: "Port of the lab primary on 127.0.0.1.")
    var primaryPort: Int

    @Option(help: "Port of the lab standby on 127.0.0.1.")
    var standbyPort: Int

    @Option(help: "Written with the read-write listener's port once the proxy routes to the primary.")
    var readyFile: String

    func run() async throws {
        var logger = Logger(label: "proxy-benchmark-serve")
        logger.logLevel = .warning
        let password = ProcessInfo.processInfo.environment[Self.passwordVariable] ?? "failover-lab"
        let topology = benchmarkTopology(primaryPort: primaryPort, standbyPort: standbyPort, password: password)
        let monitor = HealthMonitor(topology: topology, logger: logger)
        let (tables, continuation) = AsyncStream.makeStream(of: RoutingTable.self)
        let proxy = ProxyService(
            topology: topology, snapshot: { monitor.latest }, routingUpdates: tables, logger: logger)
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await monitor.run() }
            group.addTask { try await proxy.run() }
            guard let addresses = await proxy.listeningAddresses(timeout: .seconds(10)),
                let port = addresses.readWrite.split(separator: ":").last.map(String.init)
            else {
                throw BenchmarkError("the proxy did not bind its listeners")
            }
            try await waitUntil(timeout: .seconds(20)) { monitor.latest.endpoints.allSatisfy(\.reachable) }
            continuation.yield(routingTable(epoch: 1, writeTarget: "pg-primary"))
            try await waitUntil(timeout: .seconds(5)) { proxy.status().epoch == 1 }
            try port.write(toFile: readyFile, atomically: true, encoding: .utf8)
        }
    }
}
