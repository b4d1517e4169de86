import Testing
import Topology

@Suite struct SecretTests {
    static let password = "s3cr3t-Pa55"
    static let environment = ["PGPW": password]

    @Test func secretNeverPrintsItsValue() {
        let secret = Secret(Self.password)
        #expect(secret.reveal() == Self.password)
        #expect(secret.description == "***")
        #expect(secret.debugDescription == "***")
        #expect("\(secret)" == "***")
        #expect(String(reflecting: secret) == "***")
        var dumped = ""
        dump(secret, to: &dumped)
        #expect(!dumped.contains(Self.password))
    }

    @Test func loadedModelNeverPrintsThePassword() throws {
        let topology = try TopologyLoader.parse(
            yaml: ValidTopologyTests.yaml,
            file: "shop.yaml",
            environment: ["PGPW": Self.password]
        )
        #expect(topology.connection.password?.reveal() == Self.password)
        var dumped = ""
        dump(topology, to: &dumped)
        for text in [
            topology.summary(), String(describing: topology), String(reflecting: topology), "\(topology.connection)",
            dumped,
        ] {
            #expect(!text.contains(Self.password))
        }
        #expect(topology.summary().contains("password ***"))
    }

    @Test func summaryWithoutPasswordSaysNone() throws {
        let topology = try TopologyLoader.parse(yaml: "cluster: c\n" + minimalRegion, file: "c.yaml", environment: [:])
        #expect(topology.summary().contains("password (none)"))
    }

    @Test func diagnosticsNeverQuoteSecretsOrExpandedVariables() {
        // Every value here is wrong in a way that could tempt a message to echo it.
        let found = diagnostics(
            """
            cluster: c
            connection:
              password:
                - ${PGPW}
              sslmode: ${PGPW}
              connect_timeout: ${PGPW}
            defaults:
              max_lag_on_failover: ${PGPW}
              error_rate_warning: ${PGPW}
            regions:
              - name: ${PGPW}
                priority: ${PGPW}
                leader:
                  name: r-1
                  host: h
                  port: ${PGPW}
            """,
            environment: Self.environment
        )
        #expect(found.count == 8, "\(found)")
        for diagnostic in found {
            #expect(!diagnostic.description.contains(Self.password))
        }
        #expect(found.contains { $0.reason.contains("${PGPW}") })
    }

    @Test func passwordTypeErrorDoesNotEchoTheValue() {
        expectOnly(
            "cluster: c\nconnection:\n  password: [hunter2]\n" + minimalRegion,
            line: 3,
            column: 13,
            path: "connection.password",
            reason: "expected a string, got a list; write e.g. password: ${FAILOVER_PG_PASSWORD}"
        )
    }
}
