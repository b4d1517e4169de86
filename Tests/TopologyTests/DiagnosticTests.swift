import Testing
import Topology

@Suite struct DiagnosticTests {
    @Test func yamlSyntaxError() {
        expectOnly(
            "cluster: c\nregions: [\n",
            line: 3,
            column: 1,
            path: "",
            reason:
                "YAML syntax error: did not find expected node content (while parsing a flow node that starts at line 3); check the indentation, quoting and the ':' after each key"
        )
    }

    @Test func tabIndentation() {
        expectOnly(
            "cluster: c\nregions:\n  - name: r\n    priority: 1\n\tleader: { name: r-1, host: h, port: 1 }\n",
            line: 5,
            column: 1,
            path: "",
            reason: "tabs are not allowed for indentation; use spaces"
        )
    }

    @Test func duplicateKeyPointsAtTheSecond() {
        expectOnly(
            "cluster: c\n" + minimalRegion + "cluster: d\n",
            line: 6,
            column: 1,
            path: "cluster",
            reason: "duplicate key \"cluster\" (first defined at line 1); remove one of them"
        )
    }

    @Test func unknownKeyWithSuggestion() {
        expectOnly(
            """
            cluster: c
            regions:
              - name: r
                prority: 1
                leader: { name: r-1, host: h, port: 5432 }
            """,
            line: 4,
            column: 5,
            path: "regions[0].prority",
            reason: "unknown key \"prority\"; did you mean \"priority\"?"
        )
    }

    @Test func unknownKeyWithoutSuggestion() {
        expectOnly(
            "cluster: c\nreplication:\n  flavour: fast\n" + minimalRegion,
            line: 3,
            column: 3,
            path: "replication.flavour",
            reason: "unknown key \"flavour\"; remove it or use one of: mode, synchronous_standbys, synchronous_count"
        )
    }

    @Test func wrongType() {
        expectOnly(
            """
            cluster: c
            regions:
              - name: r
                priority: high
                leader: { name: r-1, host: h, port: 5432 }
            """,
            line: 4,
            column: 15,
            path: "regions[0].priority",
            reason: "expected an integer, got \"high\"; write e.g. priority: 8"
        )
    }

    @Test func mappingWhereAScalarBelongs() {
        expectOnly(
            "cluster: { name: c }\n" + minimalRegion,
            line: 1,
            column: 10,
            path: "cluster",
            reason: "expected a string, got a mapping; write e.g. cluster: lab"
        )
    }

    @Test func missingRequiredKey() {
        expectOnly(
            "cluster: c\nregions:\n  - name: r\n    priority: 1\n",
            line: 3,
            column: 5,
            path: "regions[0].leader",
            reason: "missing required key \"leader\"; add e.g. leader: { name: us-east-1, host: 10.0.0.1, port: 5432 }"
        )
    }

    @Test func missingClusterName() {
        expectOnly(
            minimalRegion,
            line: 1,
            column: 1,
            path: "cluster",
            reason: "missing required key \"cluster\"; add e.g. cluster: lab"
        )
    }

    @Test func durationWithoutUnit() {
        expectOnly(
            "cluster: c\ndefaults:\n  probe_timeout: 2\n" + minimalRegion,
            line: 3,
            column: 18,
            path: "defaults.probe_timeout",
            reason: "\"2\" has no unit; add a unit, e.g. 2s (units: ms, s, m, h)"
        )
    }

    @Test func badSize() {
        expectOnly(
            "cluster: c\ndefaults:\n  max_lag_on_failover: 16XB\n" + minimalRegion,
            line: 3,
            column: 24,
            path: "defaults.max_lag_on_failover",
            reason: "\"16XB\" has an unknown unit \"XB\"; use B, kB, MB, GB or TB (powers of 1024), e.g. 16MB"
        )
    }

    @Test func badPort() {
        expectOnly(
            """
            cluster: c
            regions:
              - name: r
                priority: 1
                leader: { name: r-1, host: h, port: 70000 }
            """,
            line: 5,
            column: 41,
            path: "regions[0].leader.port",
            reason: "port must be from 1 to 65535, got 70000; PostgreSQL's default is 5432"
        )
    }

    @Test func badSSLMode() {
        expectOnly(
            "cluster: c\nconnection:\n  sslmode: verify_full\n" + minimalRegion,
            line: 3,
            column: 12,
            path: "connection.sslmode",
            reason: "unknown sslmode \"verify_full\"; did you mean \"verify-full\"?"
        )
    }

    @Test func invalidEndpointName() {
        expectOnly(
            "cluster: c\nregions:\n  - name: r\n    priority: 1\n    leader: { name: R_1, host: h, port: 1 }\n",
            line: 5,
            column: 21,
            path: "regions[0].leader.name",
            reason:
                "endpoint name \"R_1\" is not valid; use lowercase letters, digits and '-', starting with a letter or digit, e.g. us-east-1"
        )
    }

    @Test func probeTimeoutNotBelowInterval() {
        expectOnly(
            "cluster: c\ndefaults:\n  health_check_interval: 2s\n  probe_timeout: 2s\n" + minimalRegion,
            line: 4,
            column: 18,
            path: "defaults.probe_timeout",
            reason:
                "probe_timeout (2s) must be less than health_check_interval (2s); lower probe_timeout or raise health_check_interval"
        )
    }

    @Test func endpointOverrideConflictsWithDefaults() {
        expectOnly(
            """
            cluster: c
            defaults:
              probe_timeout: 3s
            regions:
              - name: r
                priority: 1
                leader: { name: r-1, host: h, port: 1, health_check_interval: 1s }
            """,
            line: 7,
            column: 67,
            path: "regions[0].leader.health_check_interval",
            reason:
                "probe_timeout (3s) must be less than health_check_interval (1s); lower probe_timeout or raise health_check_interval"
        )
    }

    @Test func failureThresholdBelowOne() {
        expectOnly(
            "cluster: c\ndefaults:\n  failure_threshold: 0\n" + minimalRegion,
            line: 3,
            column: 22,
            path: "defaults.failure_threshold",
            reason: "failure_threshold must be at least 1, got 0; write e.g. failure_threshold: 3"
        )
    }

    @Test func criticalNotAboveWarning() {
        expectOnly(
            "cluster: c\ndefaults:\n  replication_lag_warning: 5m\n  replication_lag_critical: 300s\n" + minimalRegion,
            line: 4,
            column: 29,
            path: "defaults.replication_lag_critical",
            reason:
                "replication_lag_critical (5m) must be more than replication_lag_warning (5m); raise the critical threshold or lower the warning"
        )
    }

    @Test func errorRateAboveHundredPercent() {
        expectOnly(
            "cluster: c\ndefaults:\n  error_rate_critical: 120%\n" + minimalRegion,
            line: 3,
            column: 24,
            path: "defaults.error_rate_critical",
            reason: "\"120%\" is more than 100%; write a percentage from 0% to 100%"
        )
    }

    @Test func priorityOutOfRange() {
        expectOnly(
            "cluster: c\nregions:\n  - name: r\n    priority: 1001\n    leader: { name: r-1, host: h, port: 1 }\n",
            line: 4,
            column: 15,
            path: "regions[0].priority",
            reason: "priority must be from 0 to 1000, got 1001; write e.g. priority: 8"
        )
    }

    static let twoRegions = """
        cluster: c
        regions:
          - name: r
            priority: 1
            leader: { name: r-1, host: h, port: 1 }
          - name: NAME
            priority: PRIORITY
            leader: { name: LEADER, host: h, port: PORT }
        """

    func twoRegions(name: String = "s", priority: String = "2", leader: String = "s-1", port: String = "2") -> String {
        Self.twoRegions
            .replacing("NAME", with: name)
            .replacing("PRIORITY", with: priority)
            .replacing("LEADER", with: leader)
            .replacing("PORT", with: port)
    }

    @Test func duplicateRegionName() {
        expectOnly(
            twoRegions(name: "r"),
            line: 6,
            column: 11,
            path: "regions[1].name",
            reason: "duplicate region name \"r\" (first used at line 3); give each region its own name"
        )
    }

    @Test func duplicatePriority() {
        expectOnly(
            twoRegions(priority: "1"),
            line: 7,
            column: 15,
            path: "regions[1].priority",
            reason:
                "priority 1 is already used by region \"r\" at line 4; give each region a different priority so failover order is unambiguous"
        )
    }

    @Test func duplicateEndpointName() {
        expectOnly(
            twoRegions(leader: "r-1"),
            line: 8,
            column: 21,
            path: "regions[1].leader.name",
            reason:
                "duplicate endpoint name \"r-1\" (first used at line 5); endpoint names must be unique across all regions"
        )
    }

    @Test func duplicateHostAndPort() {
        expectOnly(
            twoRegions(port: "1"),
            line: 8,
            column: 13,
            path: "regions[1].leader",
            reason: "h:1 is already used by endpoint \"r-1\" at line 5; each endpoint needs its own host:port"
        )
    }

    @Test func unsetVariable() {
        expectOnly(
            "cluster: c\nconnection:\n  password: ${PGPW}\n" + minimalRegion,
            line: 3,
            column: 13,
            path: "connection.password",
            reason: "environment variable PGPW is not set; export PGPW or give a default with ${PGPW:-default}"
        )
    }

    @Test func emptyVariableTakesTheDefault() throws {
        let topology = try TopologyLoader.parse(
            yaml: "cluster: ${NAME:-fallback}\n" + minimalRegion,
            file: "c.yaml",
            environment: ["NAME": ""]
        )
        #expect(topology.name == "fallback")
    }

    @Test func emptyRegions() {
        expectOnly(
            "cluster: c\nregions: []\n",
            line: 2,
            column: 10,
            path: "regions",
            reason: "regions is empty; add at least one region with a name, a priority and a leader"
        )
    }

    static let synchronous = """
        cluster: c
        replication:
          mode: synchronous
          synchronous_standbys: [STANDBYS]
        regions:
          - name: r
            priority: 1
            leader: { name: r-1, host: h, port: 1 }
            replicas: [{ name: r-2, host: h, port: 2 }]
        """

    @Test func synchronousStandbyThatIsNotAnEndpoint() {
        expectOnly(
            Self.synchronous.replacing("STANDBYS", with: "r-3"),
            line: 4,
            column: 26,
            path: "replication.synchronous_standbys[0]",
            reason: "\"r-3\" is not an endpoint in this file; did you mean \"r-2\"?"
        )
    }

    @Test func synchronousStandbyThatIsThePrimary() {
        expectOnly(
            Self.synchronous.replacing("STANDBYS", with: "r-2, r-1"),
            line: 4,
            column: 31,
            path: "replication.synchronous_standbys[1]",
            reason:
                "\"r-1\" is the leader of the highest-priority region, so it starts as the primary and cannot be its own synchronous standby; list standby endpoints only"
        )
    }

    @Test func synchronousWithoutStandbys() {
        expectOnly(
            "cluster: c\nreplication:\n  mode: synchronous\n" + minimalRegion,
            line: 3,
            column: 3,
            path: "replication.synchronous_standbys",
            reason: "synchronous replication needs at least one standby; add e.g. synchronous_standbys: [us-east-2]"
        )
    }

    @Test func synchronousCountAboveStandbys() {
        expectOnly(
            """
            cluster: c
            replication:
              mode: synchronous
              synchronous_standbys: [r-2]
              synchronous_count: 2
            regions:
              - name: r
                priority: 1
                leader: { name: r-1, host: h, port: 1 }
                replicas: [{ name: r-2, host: h, port: 2 }]
            """,
            line: 5,
            column: 22,
            path: "replication.synchronous_count",
            reason: "synchronous_count must be from 1 to 1, got 2; write e.g. synchronous_count: 1"
        )
    }

    @Test func severalProblemsAreAllReportedInOrder() {
        let found = diagnostics(
            """
            cluster: ${MISSING}
            defaults:
              probe_timeout: soon
            regions:
              - name: Bad Name
                priority: -1
                leader: { name: x, host: h, port: 99999 }
            """
        )
        #expect(
            found.map(\.path) == [
                "cluster", "defaults.probe_timeout", "regions[0].name", "regions[0].priority", "regions[0].leader.port",
            ])
        #expect(found.map(\.line) == [1, 3, 5, 6, 7])
        #expect(found.allSatisfy { $0.file == "test.yaml" })
    }

    @Test func descriptionFormat() {
        let diagnostic = TopologyDiagnostic(
            file: "a.yaml", line: 3, column: 7, path: "regions[1].leader.port", reason: "bad")
        #expect(diagnostic.description == "a.yaml:3:7: error: regions[1].leader.port: bad")
        let error = TopologyLoadError(diagnostics: [diagnostic, diagnostic])
        #expect(
            error.description
                == "a.yaml:3:7: error: regions[1].leader.port: bad\na.yaml:3:7: error: regions[1].leader.port: bad")
    }
}
