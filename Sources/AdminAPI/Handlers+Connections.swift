import Foundation
import Health
import Hummingbird
import Proxy
import Topology

/// What `POST /api/database/reconnect/{region}` and `POST /api/database/connections/refresh` did.
struct ReconnectResponse: Codable, Equatable {
    /// The region reconnected; absent for a refresh of every connection.
    var region: String?
    /// The endpoints whose connections were reset.
    var endpoints: [String]
    /// The health monitor's idle watch connections closed; each is opened again after a fresh probe.
    var monitorConnectionsClosed: Int
    /// Whether the read/write proxy runs (the cluster file has a `routing:` section).
    var proxyRunning: Bool
    /// Proxied client connections closed; their clients reconnect through a new routing decision.
    /// Absent when no proxy runs.
    var proxyConnectionsClosed: Int?
    var detail: String
}

extension AdminRoutes {
    /// Drops and re-opens the control plane's and the proxy's connections to one region's endpoints.
    func reconnect(_ call: inout Call) throws(APIError) -> Response {
        let region = call.parameter("region")
        let topology = monitor.topology
        guard topology.region(named: region) != nil else { throw .unknownRegion(region) }
        let names = topology.allEndpoints.filter { $0.region == region }.map(\.name)
        return resetConnections(region: region, endpoints: names)
    }

    /// Drops and re-opens every connection of the proxy and of the health monitor.
    func refreshConnections() -> Response {
        resetConnections(region: nil, endpoints: monitor.topology.allEndpoints.map(\.name))
    }

    private func resetConnections(region: String?, endpoints names: [String]) -> Response {
        let monitorClosed = monitor.resetConnections(endpoints: names)
        let proxyClosed = dependencies.proxy.map { $0.closeConnections(to: region == nil ? nil : Set(names)) }
        let scope = region.map { "region \($0)" } ?? "every endpoint"
        let detail =
            proxyClosed == nil
            ? "health monitor connections to \(scope) reset; no proxy runs (the cluster file has no routing: section)"
            : "health monitor and proxy connections to \(scope) reset; clients reconnect through the proxy"
        return JSONBody.response(
            ReconnectResponse(
                region: region, endpoints: names, monitorConnectionsClosed: monitorClosed,
                proxyRunning: proxyClosed != nil, proxyConnectionsClosed: proxyClosed, detail: detail))
    }
}
