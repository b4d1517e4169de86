import Testing
import Topology

/// A valid cluster file without an `api:` section.
private let minimalFile = "cluster: c\n" + minimalRegion

@Suite struct APISectionTests {
    static let token = "0123456789abcdef0123456789abcdef"

    @Test func defaultsToLoopbackWithoutTokens() throws {
        let topology = try TopologyLoader.parse(yaml: minimalFile, file: "test.yaml", environment: [:])
        #expect(topology.api == APISettings())
        #expect(topology.api.listen == "127.0.0.1:8008")
        #expect(topology.api.tokens.isEmpty)
        #expect(!topology.api.metricsAuth)
    }

    @Test func readsEveryKeyWithTokensFromTheEnvironment() throws {
        let yaml =
            minimalFile + """

                api:
                  listen: "[::1]:9000"
                  tls_certificate: /etc/failoverd/api.pem
                  tls_key: /etc/failoverd/api.key
                  metrics_auth: true
                  tokens:
                    - { name: oncall, role: operator, token: "${OPS_TOKEN}" }
                    - { name: grafana, role: viewer, token: "${VIEW_TOKEN}" }
                """
        let topology = try TopologyLoader.parse(
            yaml: yaml, file: "test.yaml", environment: ["OPS_TOKEN": Self.token, "VIEW_TOKEN": Self.token + "00"])
        #expect(topology.api.host == "::1")
        #expect(topology.api.port == 9000)
        #expect(topology.api.listen == "[::1]:9000")
        #expect(topology.api.tlsCertificatePath == "/etc/failoverd/api.pem")
        #expect(topology.api.tlsKeyPath == "/etc/failoverd/api.key")
        #expect(topology.api.metricsAuth)
        #expect(topology.api.tokens.map(\.name) == ["oncall", "grafana"])
        #expect(topology.api.tokens.map(\.role) == [.operator, .viewer])
        #expect(topology.api.tokens[0].token.reveal() == Self.token)
        var dumped = ""
        dump(topology.api, to: &dumped)
        #expect(!dumped.contains(Self.token))
    }

    @Test func misspeltKeyIsReportedWithASuggestion() {
        let found = diagnostics(minimalFile + "\napi: { listn: \"127.0.0.1:8008\" }")
        #expect(found.count == 1)
        #expect(found.first?.path == "api.listn")
        #expect(found.first?.reason.contains("listen") == true)
    }

    @Test(arguments: ["localhost", "127.0.0.1:http", ":8008", "127.0.0.1:70000"])
    func badListenNamesTheForm(_ listen: String) {
        let found = diagnostics(minimalFile + "\napi: { listen: \"\(listen)\" }")
        #expect(found.count == 1)
        #expect(found.first?.path == "api.listen")
        #expect(found.first?.reason.contains("HOST:PORT") == true)
    }

    @Test func tokenProblemsAreAllReportedWithoutTheSecret() {
        let yaml =
            minimalFile + """

                api:
                  tls_certificate: /etc/api.pem
                  tokens:
                    - { name: oncall, role: admin, token: short-secret }
                    - { name: Bad Name, role: viewer, token: "\(Self.token)" }
                    - { name: dup, role: viewer, token: "\(Self.token)" }
                    - { name: dup, role: viewer, token: "\(Self.token)" }
                """
        let found = diagnostics(yaml)
        let paths = found.map(\.path)
        #expect(paths.contains("api.tls_certificate"))
        #expect(paths.contains("api.tokens[0].role"))
        #expect(paths.contains("api.tokens[0].token"))
        #expect(paths.contains("api.tokens[1].name"))
        #expect(paths.contains("api.tokens[3].name"))
        #expect(found.first { $0.path == "api.tokens[0].role" }?.reason.contains("operator") == true)
        #expect(!found.map(\.description).joined().contains("short-secret"))
    }

    @Test func metricsAuthMustBeABoolean() {
        let found = diagnostics(minimalFile + "\napi: { metrics_auth: maybe }")
        #expect(found.map(\.path) == ["api.metrics_auth"])
    }
}
