import Testing
import Topology

@Suite struct SummaryTests {
    @Test func summaryShowsWhatWasUnderstood() throws {
        let topology = try TopologyLoader.parse(
            yaml: ValidTopologyTests.yaml,
            file: "shop.yaml",
            environment: ["PGPW": "s3cr3t-Pa55"]
        )
        let lines = topology.summary().split(separator: "\n").map(String.init)
        #expect(lines.first == "cluster shop (shop.yaml)")
        #expect(
            lines.contains(
                "  connection: user app, database shop, password ***, sslmode verify-full, connect timeout 1500ms"
            )
        )
        #expect(lines.contains("  replication: synchronous, ANY 2 of [east-2, west-1]"))
        // Regions by priority, each leader before its replicas, overrides shown beside the endpoint.
        let east = try #require(lines.firstIndex(of: "    east  priority 9, latency hint 4ms"))
        #expect(lines[east + 1] == "      leader   east-1  10.0.0.1:5432")
        #expect(
            lines[east + 2]
                == "      replica  east-2  10.0.0.2:5433  (probe every 2s, timeout 300ms, response critical 9s)"
        )
        #expect(lines[east + 3] == "    west  priority 5")
        #expect(lines.contains("    probe every 10s, timeout 5s, failed after 4 consecutive failures"))
        #expect(lines.contains("    error rate warning 10%, critical 50%"))
        #expect(lines.contains("  failover: max lag on failover 64MB, RTO target 2m"))
    }
}

@Suite struct InterpolationTests {
    @Test func severalReferencesInOneValue() throws {
        let topology = try TopologyLoader.parse(
            yaml: "cluster: ${A}-${B:-two}\n" + minimalRegion,
            file: "c.yaml",
            environment: ["A": "one"]
        )
        #expect(topology.name == "one-two")
    }

    @Test func unterminatedReference() {
        expectOnly(
            "cluster: ${A\n" + minimalRegion,
            line: 1,
            column: 10,
            path: "cluster",
            reason: "unterminated \"${\" in \"${A\"; close it with \"}\", e.g. ${PGPASSWORD}"
        )
    }

    @Test func invalidVariableName() {
        expectOnly(
            "cluster: ${1A}\n" + minimalRegion,
            line: 1,
            column: 10,
            path: "cluster",
            reason:
                "\"${1A}\" is not a valid variable reference; write ${NAME} or ${NAME:-default} with NAME of letters, digits and '_'"
        )
    }

    @Test func expandedValueIsNeverQuoted() {
        expectOnly(
            "cluster: c\nconnection:\n  connect_timeout: ${T}\n" + minimalRegion,
            environment: ["T": "ninety"],
            line: 3,
            column: 20,
            path: "connection.connect_timeout",
            reason: "\"${T}\" is not a duration; write a number and a unit, e.g. 2s or 500ms"
        )
    }
}
