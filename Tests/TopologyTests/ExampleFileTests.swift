import Foundation
import Testing
import Topology

@Suite struct ExampleFileTests {
    @Test func labFileIsValid() throws {
        let path = repositoryRoot.appendingPathComponent("regions/lab.yaml").path
        let topology = try TopologyLoader.load(path: path, environment: [:])
        #expect(topology.name == "lab")
        #expect(topology.connection.password?.reveal() == "failover-lab")
        #expect(topology.connection.sslMode == .disable)
        #expect(topology.replication.mode == .synchronous)
        #expect(topology.replication.synchronousStandbys == ["us-east-2", "eu-west-1", "ap-south-1"])
        #expect(topology.replication.synchronousCount == 2)
        // The set survives the loss of the primary's region: validate has nothing to warn about.
        #expect(topology.warnings().isEmpty)
        #expect(topology.regionsByPriority.map(\.name) == ["us-east", "eu-west", "ap-south"])
        #expect(topology.allEndpoints.map(\.port) == [25431, 25432, 25433, 25434, 25435])
        #expect(topology.defaults.probeInterval == .seconds(1))
        #expect(topology.defaults.probeTimeout == .milliseconds(300))
    }

    @Test func aSynchronousSetInsideThePrimarysRegionIsWarnedAbout() throws {
        let yaml = """
            cluster: c
            replication: { mode: synchronous, synchronous_standbys: [a-2, b-1], synchronous_count: 1 }
            regions:
              - { name: a, priority: 2, leader: { name: a-1, host: h1, port: 5432 }, replicas: [{ name: a-2, host: h2, port: 5432 }] }
              - { name: b, priority: 1, leader: { name: b-1, host: h3, port: 5432 } }
            """
        let topology = try TopologyLoader.parse(yaml: yaml, file: "c.yaml", environment: [:])
        let warnings = topology.warnings()
        #expect(warnings.count == 1)
        #expect(warnings.first?.hasPrefix("c.yaml: warning: replication.synchronous_standbys: a-2 is in a") == true)
    }

    @Test func labPasswordComesFromTheEnvironmentWhenSet() throws {
        let path = repositoryRoot.appendingPathComponent("regions/lab.yaml").path
        let topology = try TopologyLoader.load(path: path, environment: ["FAILOVER_LAB_PASSWORD": "other"])
        #expect(topology.connection.password?.reveal() == "other")
    }

    @Test func productionExampleIsValid() throws {
        let path = repositoryRoot.appendingPathComponent("regions/production-example.yaml").path
        let topology = try TopologyLoader.load(
            path: path,
            environment: [
                "FAILOVER_PG_PASSWORD": "s3cr3t-Pa55", "FAILOVER_API_TOKEN": String(repeating: "a", count: 32),
                "FAILOVER_API_VIEWER_TOKEN": String(repeating: "b", count: 32),
            ])
        #expect(topology.connection.sslMode == .verifyFull)
        #expect(topology.api.tokens.map(\.role) == [.operator, .viewer])
        #expect(topology.defaults.probeInterval == .seconds(30))
        #expect(topology.allEndpoints.allSatisfy { $0.port == 5432 })
        #expect(topology.allEndpoints.first?.host == "db-use1-a.internal")
        #expect(!topology.summary().contains("s3cr3t-Pa55"))
    }

    @Test func productionExampleNeedsItsPassword() {
        let path = repositoryRoot.appendingPathComponent("regions/production-example.yaml").path
        #expect(throws: TopologyLoadError.self) {
            try TopologyLoader.load(path: path, environment: [:])
        }
    }

    @Test func unreadableFileIsOneDiagnostic() {
        let path = repositoryRoot.appendingPathComponent("regions/does-not-exist.yaml").path
        do {
            _ = try TopologyLoader.load(path: path, environment: [:])
            Issue.record("expected an error")
        } catch {
            #expect(
                error.diagnostics == [
                    TopologyDiagnostic(
                        file: path,
                        line: 1,
                        column: 1,
                        path: "",
                        reason: "cannot read the file (no such file); check the path and its permissions"
                    )
                ]
            )
            #expect(
                error.description
                    == "\(path):1:1: error: cannot read the file (no such file); check the path and its permissions")
        }
    }

    @Test func fixtureWithSeveralProblemsReportsAllOfThem() {
        let path = repositoryRoot.appendingPathComponent("Tests/TopologyTests/Fixtures/several-problems.yaml").path
        do {
            _ = try TopologyLoader.load(path: path, environment: [:])
            Issue.record("expected an error")
        } catch {
            let lines = error.description.split(separator: "\n").map(String.init)
            #expect(
                lines == [
                    "\(path):3:3: error: connection.sslmod: unknown key \"sslmod\"; did you mean \"sslmode\"?",
                    "\(path):5:26: error: defaults.health_check_interval: \"30\" has no unit; add a unit, e.g. 2s (units: ms, s, m, h)",
                    "\(path):9:15: error: regions[0].priority: expected an integer, got \"high\"; write e.g. priority: 8",
                    "\(path):10:45: error: regions[0].leader.port: port must be from 1 to 65535, got 0; PostgreSQL's default is 5432",
                    "\(path):11:11: error: regions[1].name: duplicate region name \"east\" (first used at line 8); give each region its own name",
                    "\(path):13:21: error: regions[1].leader.name: duplicate endpoint name \"east-1\" (first used at line 10); endpoint names must be unique across all regions",
                ]
            )
        }
    }
}
