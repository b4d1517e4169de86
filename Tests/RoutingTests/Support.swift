import Foundation
import Health
import Routing
import Topology
import Vocabulary

/// east (priority 3): east-1 (primary), east-2; west (priority 2): west-1, west-2.
enum Fixture {
    static let names = ["east-1", "east-2", "west-1", "west-2"]

    static func endpoints() -> [Endpoint] {
        names.enumerated().map { index, name in
            Endpoint(
                name: name,
                region: String(name.prefix(4)),
                role: name.hasSuffix("-1") ? .leader : .replica,
                host: "127.0.0.1",
                port: 5432 + index,
                health: HealthSettings()
            )
        }
    }

    static func router(_ configure: (inout RoutingSettings) -> Void = { _ in }) -> ConnectionRouter {
        var settings = RoutingSettings(enabled: true)
        configure(&settings)
        return ConnectionRouter(settings: settings, endpoints: endpoints())
    }

    /// Everything healthy; east-1 primary; replicas at 1, 2, 3 ms, caught up.
    static func snapshot(_ change: (inout [String: EndpointHealth]) -> Void = { _ in }) -> HealthSnapshot {
        var byName: [String: EndpointHealth] = [:]
        for (index, endpoint) in endpoints().enumerated() {
            var health = EndpointHealth(
                endpoint: endpoint.name, region: endpoint.region, address: "127.0.0.1:\(endpoint.port)")
            health.reachable = true
            health.role = index == 0 ? .primary : .standby
            health.smoothedLatencyMilliseconds = Double(index == 0 ? 1 : index)
            if index > 0 {
                health.lagSeconds = 0
                health.lagBytes = 0
            }
            byName[endpoint.name] = health
        }
        change(&byName)
        return HealthSnapshot(sequence: 1, takenAt: Date(), endpoints: names.compactMap { byName[$0] })
    }

    static let table = RoutingTable.make(epoch: 1, writeTarget: "east-1", writesPaused: false, fenced: [])

    static let start = ContinuousClock.now

    static func at(_ seconds: Double) -> ContinuousClock.Instant {
        start + .milliseconds(Int64(seconds * 1000))
    }
}

extension ConnectionRouter {
    /// Picks `count` times and counts where each went ("-" for unavailable).
    mutating func tally(
        _ count: Int,
        _ request: RouteRequest = .read,
        snapshot: HealthSnapshot = Fixture.snapshot(),
        table: RoutingTable = Fixture.table
    ) -> [String: Int] {
        var counts: [String: Int] = [:]
        for _ in 0..<count {
            let decision = route(request, snapshot: snapshot, table: table, now: Fixture.start)
            counts[decision.target?.endpoint ?? "-", default: 0] += 1
        }
        return counts
    }

    /// The endpoints of `count` successive picks.
    mutating func sequence(
        _ count: Int,
        _ request: RouteRequest = .read,
        snapshot: HealthSnapshot = Fixture.snapshot(),
        table: RoutingTable = Fixture.table
    ) -> [String] {
        (0..<count).map { _ in
            route(request, snapshot: snapshot, table: table, now: Fixture.start).target?.endpoint ?? "-"
        }
    }
}

extension RoutingTable {
    /// The failover service builds tables; tests build them from their JSON form, which is public.
    static func make(epoch: UInt64, writeTarget: String?, writesPaused: Bool, fenced: [String]) -> RoutingTable {
        var object: [String: Any] = ["epoch": epoch, "writesPaused": writesPaused, "fenced": fenced]
        object["writeTarget"] = writeTarget
        let data = try! JSONSerialization.data(withJSONObject: object)
        return try! JSONDecoder().decode(RoutingTable.self, from: data)
    }
}
