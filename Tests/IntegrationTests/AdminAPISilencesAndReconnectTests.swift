import AdminAPI
import Alerting
import Failover
import Foundation
import Health
import Lab
import Logging
import Postgres
import Proxy
import StateStore
import Testing
import Topology
import Vocabulary

/// Runtime silences and dropping connections through the admin API, on a real lab.
@Suite(.serialized) struct AdminAPISilencesAndReconnectTests {
    static let ops = AdminAPIIntegrationTests.operatorToken
    static let viewer = AdminAPIIntegrationTests.viewerToken

    @Test(.timeLimit(.minutes(3))) func silencesAreStoredListedAppliedAndRemoved() async throws {
        try await FailoverFixture.run { fixture in
            try await AdminAPIIntegrationTests.withAPI(fixture) { client in
                let added = try await client.post(
                    "/api/alerts/silences", token: Self.ops,
                    json: #"""
                        {"matchers": {"region": "eu-west", "severity": ["high", "critical"]}, "duration": "2h",
                         "comment": "eu-west storage maintenance"}
                        """#)
                #expect(added.status == 201, "\(added.text)")
                let id = try #require(added.object["id"] as? Int)
                #expect(added.object["createdBy"] as? String == "oncall")
                #expect(added.object["active"] as? Bool == true)
                #expect((added.object["matchers"] as? [String: [String]])?["severity"] == ["critical", "high"])

                let listed = try await client.get("/api/alerts/silences", token: Self.viewer)
                #expect(listed.status == 200)
                #expect(listed.array.map { $0["id"] as? Int } == [id])

                // Bad input: 400 naming the field; nothing stored.
                let past = ISO8601DateFormatter().string(from: Date().addingTimeInterval(-60))
                let bad: [(String, String)] = [
                    (#"{"matchers": {"regoin": "eu-west"}, "duration": "1h", "comment": "x"}"#, "matchers.regoin"),
                    (#"{"matchers": {"region": "mars"}, "duration": "1h", "comment": "x"}"#, "matchers.region"),
                    (#"{"matchers": {"type": "endpoint_gone"}, "duration": "1h", "comment": "x"}"#, "matchers.type"),
                    (#"{"matchers": {"region": 5}, "duration": "1h", "comment": "x"}"#, "matchers.region"),
                    (#"{"matchers": {}, "duration": "1h", "comment": "x"}"#, "matchers"),
                    (#"{"matchers": {"region": "eu-west"}, "duration": "2 hours", "comment": "x"}"#, "duration"),
                    (#"{"matchers": {"region": "eu-west"}, "duration": "0s", "comment": "x"}"#, "duration"),
                    (#"{"matchers": {"region": "eu-west"}, "endsAt": "\#(past)", "comment": "x"}"#, "endsAt"),
                    (#"{"matchers": {"region": "eu-west"}, "endsAt": "tomorrow", "comment": "x"}"#, "endsAt"),
                    (#"{"matchers": {"region": "eu-west"}, "comment": "x"}"#, "endsAt"),
                    (#"{"matchers": {"region": "eu-west"}, "duration": "1h"}"#, "comment"),
                    (#"{"matchers": {"region": "eu-west"}, "duration": "1h", "comment": " "}"#, "comment"),
                    (#"{"matchers": {"region": "eu-west"}, "duration": "1h", "comment": "x", "by": "me"}"#, "by"),
                ]
                for (body, field) in bad {
                    let answer = try await client.post("/api/alerts/silences", token: Self.ops, json: body)
                    #expect(answer.status == 400, "\(body): \(answer.status) \(answer.text)")
                    #expect(answer.object["field"] as? String == field, "\(body): \(answer.text)")
                }
                #expect(try await fixture.store.silences(notEndedAt: Date()).count == 1)

                // The rules apply the stored silence: a high alert in eu-west is silenced, others are not.
                var rules = AlertRules(
                    configuration: AlertConfiguration(channels: [], route: Route(channels: [], groupWait: .zero)))
                rules.runtimeSilences = try await fixture.store.silences(notEndedAt: Date()).compactMap(
                    Silence.init(stored:))
                func disposition(_ region: String, _ severity: ControlEvent.Severity) -> AlertRules.Disposition? {
                    let event = ControlEvent(
                        kind: .endpointDown, severity: severity, cluster: "test", region: region,
                        endpoint: "\(region)-1", summary: "down", at: Date(), dedupKey: "test/down/\(region)")
                    return rules.alerts(for: event).first.map { rules.add($0, now: Date()) }
                }
                #expect(disposition("eu-west", .high) == .silenced)
                #expect(disposition("eu-west", .low) != .silenced)
                #expect(disposition("us-east", .critical) != .silenced)

                // A restart keeps it: the store file, opened again, still holds it.
                let reopened = try StateStore(path: fixture.statePath)
                #expect(try await reopened.silences(notEndedAt: Date()).map(\.id) == [Int64(id)])

                // Removal by id; an unknown id is 404, a malformed one 400.
                let removed = try await client.send("DELETE", "/api/alerts/silences/\(id)", token: Self.ops)
                #expect(removed.status == 200, "\(removed.text)")
                #expect(try await client.get("/api/alerts/silences", token: Self.viewer).array.isEmpty)
                let again = try await client.send("DELETE", "/api/alerts/silences/\(id)", token: Self.ops)
                #expect(again.status == 404)
                #expect(again.object["field"] as? String == "id")
                let malformed = try await client.send("DELETE", "/api/alerts/silences/abc", token: Self.ops)
                #expect(malformed.status == 400)
                #expect(malformed.object["field"] as? String == "id")

                // Audited: who added and removed it.
                let audit = try await fixture.store.audit(limit: 100)
                let addRow = try #require(
                    audit.last { $0.label == "POST /api/alerts/silences" && $0.kind == "oncall" })
                #expect(String(decoding: addRow.payload, as: UTF8.self).contains("eu-west storage maintenance"))
                #expect(audit.contains { $0.label == "DELETE /api/alerts/silences/{id}" && $0.kind == "oncall" })
                for row in audit {
                    AdminAPIIntegrationTests.expectNoSecret(String(decoding: row.payload, as: UTF8.self))
                }

                // The proxy is off here: reconnect resets the monitor's connections and says so.
                let reconnected = try await client.post("/api/database/reconnect/eu-west", token: Self.ops)
                #expect(reconnected.status == 200, "\(reconnected.text)")
                #expect(reconnected.object["proxyRunning"] as? Bool == false)
                #expect(reconnected.object["proxyConnectionsClosed"] == nil)
                #expect(reconnected.object["endpoints"] as? [String] == ["eu-west-1", "eu-west-2"])
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func reconnectAndRefreshCloseProxiedConnections() async throws {
        try await FailoverFixture.run { fixture in
            var topology = fixture.topology
            topology.routing = RoutingSettings(
                enabled: true, listenReadWrite: ListenAddress(host: "127.0.0.1", port: 0),
                listenReadOnly: ListenAddress(host: "127.0.0.1", port: 0))
            var logger = Logger(label: "test.proxy")
            logger.logLevel = .warning
            let monitor = fixture.monitor
            let proxy = ProxyService(
                topology: topology, snapshot: { monitor.latest }, routingUpdates: fixture.service.routingUpdates(),
                logger: logger)
            let proxyTask = Task { try await proxy.run() }
            defer { proxyTask.cancel() }
            let addresses = try #require(await proxy.listeningAddresses(timeout: .seconds(10)))
            let readWritePort = try #require(addresses.readWrite.split(separator: ":").last.flatMap { Int($0) })
            let lab = fixture.lab
            func connect() async throws -> PostgresConnection {
                try await PostgresConnection.connect(
                    PostgresConfiguration(
                        host: "127.0.0.1", port: readWritePort, user: lab.user, password: lab.password,
                        sslMode: "disable", applicationName: "reconnect-test"),
                    timeout: .seconds(10))
            }
            try await AdminAPIIntegrationTests.withAPI(fixture, proxy: proxy) { client in
                try await fixture.waitFor("the proxy to route writes", timeout: .seconds(10)) {
                    proxy.status().writeTarget == "us-east-1"
                }
                let first = try await connect()
                defer { first.close() }
                #expect(try await first.query("select 1 as one", timeout: .seconds(5)).first?.int("one") == 1)

                // Another region's reconnect leaves the write connection alone.
                let other = try await client.post("/api/database/reconnect/ap-south", token: Self.ops)
                #expect(other.status == 200, "\(other.text)")
                #expect(other.object["proxyRunning"] as? Bool == true)
                #expect(other.object["proxyConnectionsClosed"] as? Int == 0)
                #expect(try await first.query("select 1 as one", timeout: .seconds(5)).first?.int("one") == 1)

                // The primary's region: its connection is closed; a new one routes again.
                let answer = try await client.post("/api/database/reconnect/us-east", token: Self.ops)
                #expect(answer.status == 200, "\(answer.text)")
                #expect(answer.object["region"] as? String == "us-east")
                #expect(answer.object["proxyConnectionsClosed"] as? Int == 1)
                // us-east-1 and us-east-2 hold a watch connection between probes once they answered.
                #expect((answer.object["monitorConnectionsClosed"] as? Int ?? 0) >= 1, "\(answer.text)")
                await #expect(throws: PostgresError.self) {
                    _ = try await first.query("select 1", timeout: .seconds(5))
                }
                let second = try await connect()
                defer { second.close() }
                #expect(try await second.query("select 1 as one", timeout: .seconds(5)).first?.int("one") == 1)

                // Refresh: every proxied connection.
                let refreshed = try await client.post("/api/database/connections/refresh", token: Self.ops)
                #expect(refreshed.status == 200, "\(refreshed.text)")
                #expect(refreshed.object["region"] == nil)
                #expect(refreshed.object["proxyConnectionsClosed"] as? Int == 1)
                // Including the watches the monitor opened again after the reconnect.
                #expect((refreshed.object["monitorConnectionsClosed"] as? Int ?? 0) >= 1, "\(refreshed.text)")
                #expect((refreshed.object["endpoints"] as? [String])?.count == FailoverFixture.names.count)
                await #expect(throws: PostgresError.self) {
                    _ = try await second.query("select 1", timeout: .seconds(5))
                }

                let unknown = try await client.post("/api/database/reconnect/nowhere", token: Self.ops)
                #expect(unknown.status == 400)
                #expect(unknown.object["field"] as? String == "region")
                let audit = try await fixture.store.audit(limit: 50)
                #expect(audit.contains { $0.label == "POST /api/database/reconnect/{region}" && $0.kind == "oncall" })
                #expect(audit.contains { $0.label == "POST /api/database/connections/refresh" })
            }
        }
    }
}
