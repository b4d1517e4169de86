import Testing
import Topology

@Suite struct ValidTopologyTests {
    static let yaml = """
        cluster: shop
        connection:
          user: app
          database: shop
          password: ${PGPW}
          sslmode: verify-full
          connect_timeout: 1.5s
        replication:
          mode: synchronous
          synchronous_standbys: [east-2, west-1]
          synchronous_count: 2
        defaults:
          health_check_interval: 10s
          failure_threshold: 4
          error_rate_warning: 0.1
          error_rate_critical: 50%
          max_lag_on_failover: 64MB
          rto_target: 2m
        regions:
          - name: west
            priority: 5
            leader: { name: west-1, host: 10.0.1.1, port: 5432 }
          - name: east
            priority: 9
            latency_hint: 4ms
            leader: { name: east-1, host: 10.0.0.1, port: 5432 }
            replicas:
              - name: east-2
                host: ${EAST_HOST:-10.0.0.2}
                port: 5433
                probe_timeout: 300ms
                health_check_interval: 2s
                response_time_critical: 9s
        """

    func load() throws -> ClusterTopology {
        try TopologyLoader.parse(yaml: Self.yaml, file: "shop.yaml", environment: ["PGPW": "s3cr3t-Pa55"])
    }

    @Test func clusterConnectionAndReplication() throws {
        let topology = try load()
        #expect(topology.name == "shop")
        #expect(topology.sourceFile == "shop.yaml")
        #expect(topology.connection.user == "app")
        #expect(topology.connection.database == "shop")
        #expect(topology.connection.password?.reveal() == "s3cr3t-Pa55")
        #expect(topology.connection.sslMode == .verifyFull)
        #expect(topology.connection.connectTimeout == .milliseconds(1500))
        #expect(topology.replication.mode == .synchronous)
        #expect(topology.replication.synchronousStandbys == ["east-2", "west-1"])
        #expect(topology.replication.synchronousCount == 2)
        #expect(topology.replication.synchronousStandbyNames == "ANY 2 (east-2, west-1)")
    }

    @Test func regionsAndEndpoints() throws {
        let topology = try load()
        #expect(topology.regions.map(\.name) == ["west", "east"])
        #expect(topology.regionsByPriority.map(\.name) == ["east", "west"])
        #expect(topology.regions.map(\.priority) == [5, 9])
        #expect(topology.allEndpoints.map(\.name) == ["east-1", "east-2", "west-1"])
        #expect(topology.allEndpoints.map(\.role) == [.leader, .replica, .leader])
        #expect(topology.allEndpoints.map(\.address) == ["10.0.0.1:5432", "10.0.0.2:5433", "10.0.1.1:5432"])
        #expect(topology.region(named: "east")?.latencyHint == .milliseconds(4))
        #expect(topology.region(named: "west")?.latencyHint == nil)
        #expect(topology.region(named: "north") == nil)
        #expect(topology.endpoint(named: "east-2")?.region == "east")
        #expect(topology.endpoint(named: "east-2")?.port == 5433)
        #expect(topology.endpoint(named: "nope") == nil)
        #expect(topology.initialPrimary?.name == "east-1")
    }

    @Test func defaultsAndEffectiveOverrides() throws {
        let topology = try load()
        let defaults = topology.defaults
        #expect(defaults.probeInterval == .seconds(10))
        // Unwritten probe_timeout follows the interval: min(5s, 10s / 2).
        #expect(defaults.probeTimeout == .seconds(5))
        #expect(defaults.failureThreshold == 4)
        #expect(defaults.responseTimeWarning == .milliseconds(1000))
        #expect(defaults.responseTimeCritical == .milliseconds(5000))
        #expect(defaults.replicationLagWarning == .seconds(30))
        #expect(defaults.replicationLagCritical == .seconds(300))
        #expect(defaults.errorRateWarning == 0.1)
        #expect(defaults.errorRateCritical == 0.5)
        #expect(defaults.maxLagOnFailover == ByteSize(bytes: 64 * 1024 * 1024))
        #expect(defaults.rtoTarget == .seconds(120))
        #expect(defaults.rpoTargetSynchronous == .seconds(1))
        #expect(defaults.rpoTargetAsynchronous == .seconds(30))

        let replica = try #require(topology.endpoint(named: "east-2"))
        #expect(replica.health.probeInterval == .seconds(2))
        #expect(replica.health.probeTimeout == .milliseconds(300))
        #expect(replica.health.responseTimeCritical == .seconds(9))
        #expect(replica.health.failureThreshold == 4)
        #expect(replica.health.maxLagOnFailover == defaults.maxLagOnFailover)
        #expect(topology.endpoint(named: "east-1")?.health == defaults)
    }

    @Test func intervalOverrideWithoutTimeoutDerivesTheTimeout() throws {
        let topology = try TopologyLoader.parse(
            yaml: """
                cluster: c
                regions:
                  - name: r
                    priority: 1
                    leader: { name: r-1, host: h, port: 1, health_check_interval: 4s }
                """,
            file: "c.yaml",
            environment: [:]
        )
        let leader = try #require(topology.endpoint(named: "r-1"))
        #expect(leader.health.probeInterval == .seconds(4))
        #expect(leader.health.probeTimeout == .seconds(2))
        #expect(topology.defaults.probeTimeout == .seconds(5))
    }

    @Test func omittedSectionsTakeDefaults() throws {
        let topology = try TopologyLoader.parse(yaml: "cluster: c\n" + minimalRegion, file: "c.yaml", environment: [:])
        #expect(topology.connection == ConnectionSettings())
        #expect(topology.connection.user == "postgres")
        #expect(topology.connection.password == nil)
        #expect(topology.connection.sslMode == .prefer)
        #expect(topology.connection.connectTimeout == .seconds(2))
        #expect(topology.replication == ReplicationSettings())
        #expect(topology.replication.mode == .asynchronous)
        #expect(topology.replication.synchronousStandbyNames == nil)
        #expect(topology.defaults == HealthSettings())
        #expect(topology.region(named: "r")?.replicas == [])
    }

    @Test func aliasesTakeTheAnchoredValue() throws {
        let topology = try TopologyLoader.parse(
            yaml: """
                cluster: c
                regions:
                  - name: r
                    priority: 1
                    leader: { name: r-1, host: &shared db.internal, port: 1 }
                    replicas: [{ name: r-2, host: *shared, port: 2 }]
                """,
            file: "c.yaml",
            environment: [:]
        )
        #expect(topology.endpoint(named: "r-2")?.host == "db.internal")
    }
}
