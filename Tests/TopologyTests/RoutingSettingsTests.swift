import Testing
import Topology

@Suite struct RoutingSettingsTests {
    static let twoRegions = """
        cluster: c
        regions:
          - name: east
            priority: 2
            leader: { name: east-1, host: h, port: 5432 }
            replicas: [{ name: east-2, host: h, port: 5433 }]
          - name: west
            priority: 1
            leader: { name: west-1, host: h, port: 5434 }

        """

    static func load(_ routing: String) throws -> RoutingSettings {
        try TopologyLoader.parse(yaml: twoRegions + routing, file: "test.yaml", environment: [:]).routing
    }

    @Test func withoutASectionTheProxyIsOff() throws {
        let settings = try Self.load("")
        #expect(settings == RoutingSettings())
        #expect(!settings.enabled)
    }

    @Test func everyKeyIsRead() throws {
        let settings = try Self.load(
            """
            routing:
              listen_rw: 127.0.0.1:7432
              listen_ro: "[::1]:7433"
              strategy: weighted
              weights: { east-2: 70, west-1: 30 }
              max_lag: 10s
              max_lag_bytes: 1MB
              fallback_to_primary: false
              latency_hysteresis: 10%
              hold_timeout: 3s
              drain_grace: 2s
              max_connections: 50
              pools: { writes: 20, reads: 20, admin: 5, reserve: 5 }
              queue_timeout: 500ms
              breaker: { failures: 5, window: 10s, open_for: 2s, half_open_trials: 2 }
              connect_timeout: { min: 50ms, max: 1s, factor: 3 }

            """)
        #expect(settings.enabled)
        #expect(settings.listenReadWrite == ListenAddress(host: "127.0.0.1", port: 7432))
        #expect(settings.listenReadOnly == ListenAddress(host: "::1", port: 7433))
        #expect(settings.listenReadOnly.description == "[::1]:7433")
        #expect(settings.strategy == .weighted)
        #expect(settings.weights == ["east-2": 70, "west-1": 30])
        #expect(settings.maxLagTime == .seconds(10))
        #expect(settings.maxLagBytes == .mebibytes(1))
        #expect(!settings.fallbackToPrimary)
        #expect(settings.latencyHysteresis == 0.1)
        #expect(settings.holdTimeout == .seconds(3))
        #expect(settings.drainGrace == .seconds(2))
        #expect(settings.maxConnections == 50)
        #expect(settings.pools.map(\.name) == ["writes", "reads", "admin", "reserve"])
        #expect(settings.pool(named: "reads")?.size == 20)
        #expect(settings.queueTimeout == .milliseconds(500))
        #expect(
            settings.breaker
                == BreakerSettings(
                    failureThreshold: 5, window: .seconds(10), openDuration: .seconds(2), halfOpenTrials: 2))
        #expect(
            settings.connectTimeout
                == AdaptiveTimeoutSettings(minimum: .milliseconds(50), maximum: .seconds(1), factor: 3))
    }

    @Test func enabledFalseKeepsTheSettingsButTurnsTheProxyOff() throws {
        let settings = try Self.load("routing: { enabled: false, strategy: round_robin }\n")
        #expect(!settings.enabled)
        #expect(settings.strategy == .roundRobin)
    }

    @Test func aTotalWithoutPoolsScalesTheDefaultSplit() throws {
        let settings = try Self.load("routing: { max_connections: 10 }\n")
        #expect(
            settings.pools == [
                ConnectionPool(name: "writes", size: 6), ConnectionPool(name: "reads", size: 3),
                ConnectionPool(name: "admin", size: 1),
            ])
    }

    @Test(arguments: [
        (
            "routing: { strategy: latncy }\n", 10, 22, "routing.strategy",
            "unknown strategy \"latncy\"; did you mean \"latency\"?"
        ),
        (
            "routing: { stratgy: latency }\n", 10, 12, "routing.stratgy",
            "unknown key \"stratgy\"; did you mean \"strategy\"?"
        ),
        (
            "routing: { weights: { east-22: 5 } }\n", 10, 23, "routing.weights.east-22",
            "\"east-22\" is not an endpoint in this file; did you mean \"east-2\"?"
        ),
        (
            "routing: { listen_rw: 6432 }\n", 10, 23, "routing.listen_rw",
            "\"6432\" is not a listen address; write host:port, e.g. 127.0.0.1:6432 or [::1]:6432"
        ),
        (
            "routing: { max_connections: 10, pools: { writes: 8, reads: 8 } }\n", 10, 40, "routing.pools",
            "pool sizes add up to 16, more than max_connections (10); shrink the pools or raise max_connections"
        ),
        (
            "routing: { pools: { writes: 8 } }\n", 10, 19, "routing.pools.reads",
            "missing pool \"reads\"; the read-only listener draws from it, add e.g. reads: 10"
        ),
        (
            "routing: { fallback_to_primary: maybe }\n", 10, 33, "routing.fallback_to_primary",
            "expected true or false, got \"maybe\"; write e.g. fallback_to_primary: true"
        ),
        (
            "routing: { breaker: { failures: 0 } }\n", 10, 33, "routing.breaker.failures",
            "failures must be from 1 to 1000, got 0; write e.g. failures: 3"
        ),
        (
            "routing: { connect_timeout: { min: 2s, max: 1s } }\n", 10, 36, "routing.connect_timeout.min",
            "min (2s) must be at most max (1s); lower min or raise max"
        ),
        (
            "routing: { listen_rw: 127.0.0.1:7000, listen_ro: 127.0.0.1:7000 }\n", 10, 23, "routing.listen_rw",
            "listen_rw and listen_ro are both 127.0.0.1:7000; give each listener its own port"
        ),
    ])
    func diagnostics(yaml: String, line: Int, column: Int, path: String, reason: String) {
        expectOnly(Self.twoRegions + yaml, line: line, column: column, path: path, reason: reason)
    }
}
