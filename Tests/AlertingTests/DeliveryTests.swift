import Alerting
import Crypto
import Foundation
import StateStore
import TestSupport
import Testing
import Topology
import Vocabulary

/// Delivery through libcurl to real HTTP receivers on 127.0.0.1.
@Suite(.timeLimit(.minutes(1))) struct DeliveryTests {
    static let token = "T0KEN-SECRET-9f3a"
    static let signingKey = Data("a signing key of the test".utf8)
    static let signingSecret = "whsec_" + signingKey.base64EncodedString()
    static let routingKey = "R0UTING-KEY-77c1"

    func channel(_ kind: AlertChannel.Kind, _ receiver: HTTPReceiver, name: String? = nil) -> AlertChannel {
        AlertChannel(
            name: name ?? kind.rawValue, kind: kind, url: Secret(receiver.url("/\(kind.rawValue)/\(Self.token)")),
            routingKey: kind == .pagerduty ? Secret(Self.routingKey) : nil,
            signingSecret: kind == .webhook ? Secret(Self.signingSecret) : nil, connectTimeout: .seconds(1),
            timeout: .seconds(3))
    }

    func configuration(
        _ channels: [AlertChannel], groupBy: [AlertLabel] = [.dedupKey], groupWait: Duration = .zero,
        backoff: Duration = .milliseconds(100), inhibit: [InhibitRule] = [], silences: [Silence] = []
    ) -> AlertConfiguration {
        AlertConfiguration(
            runbookBase: "https://runbooks.example/failover/",
            delivery: DeliverySettings(
                initialBackoff: backoff, maxBackoff: .milliseconds(400), circuitFailures: 5,
                circuitOpenFor: .milliseconds(300)),
            channels: channels,
            route: Route(channels: channels.map(\.name), groupBy: groupBy, groupWait: groupWait),
            inhibitRules: inhibit, silences: silences)
    }

    @Test func everyChannelGetsItsReceiversPayload() async throws {
        let receiver = try await HTTPReceiver.start()
        let logs = LogCapture()
        let store = try StateStore(path: temporaryStorePath())
        let kinds = AlertChannel.Kind.allCases
        let pipeline = AlertPipeline(
            configuration: configuration(kinds.map { channel($0, receiver) }), store: store, logger: logs.logger(),
            tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        receiver.script([])
        let long = String(repeating: "standby lag keeps growing; ", count: 120)
        pipeline.emit(
            event(
                .failoverTriggered, summary: long,
                facts: ["candidate": "euw1-a", "why": "most advanced LSN 0/5000060", "lag_bytes": "0"]))
        let requests = try await receiver.waitForRequests(kinds.count)
        try await running.stop()
        try await receiver.stop()

        func request(_ kind: AlertChannel.Kind) throws -> HTTPReceiver.Request {
            try #require(requests.first { $0.path == "/\(kind.rawValue)/\(Self.token)" })
        }
        let slack = try request(.slack).json
        #expect((slack["text"] as? String)?.hasPrefix("[FIRING] critical failover_triggered") == true)
        let attachment = try #require((slack["attachments"] as? [[String: Any]])?.first)
        #expect(attachment["color"] as? String == "#D40E0D")
        let blocks = try #require(attachment["blocks"] as? [[String: Any]])
        #expect(blocks.map { $0["type"] as? String } == ["section", "section", "context"])

        let teams = try request(.teams).json
        #expect(teams["type"] as? String == "message")
        let card = try #require((teams["attachments"] as? [[String: Any]])?.first)
        #expect(card["contentType"] as? String == "application/vnd.microsoft.card.adaptive")
        let content = try #require(card["content"] as? [String: Any])
        #expect(content["type"] as? String == "AdaptiveCard")
        let actions = try #require(content["actions"] as? [[String: Any]])
        #expect(actions.first?["url"] as? String == "https://runbooks.example/failover/failover_triggered.md")

        let discord = try request(.discord).json
        let embed = try #require((discord["embeds"] as? [[String: Any]])?.first)
        let description = try #require(embed["description"] as? String)
        #expect(long.count > 2000)
        #expect((discord["content"] as? String).map { $0.count <= 2000 && $0.hasSuffix("… [truncated]") } == true)
        #expect(description.count <= 4096)
        #expect((embed["title"] as? String)?.count ?? 999 <= 256)

        let pagerDuty = try request(.pagerduty).json
        #expect(pagerDuty["routing_key"] as? String == Self.routingKey)
        #expect(pagerDuty["event_action"] as? String == "trigger")
        #expect((pagerDuty["dedup_key"] as? String)?.hasPrefix("failoverd/") == true)
        let payload = try #require(pagerDuty["payload"] as? [String: Any])
        #expect(payload["severity"] as? String == "critical")
        #expect((payload["summary"] as? String)?.count ?? 9999 <= 1024)
        #expect(payload["source"] as? String == "use1-a")

        // The signature, checked here with swift-crypto directly, as a receiver would.
        let webhook = try request(.webhook)
        let id = try #require(webhook.headers["webhook-id"])
        let timestamp = try #require(webhook.headers["webhook-timestamp"])
        let signature = try #require(webhook.headers["webhook-signature"])
        var signed = Data("\(id).\(timestamp).".utf8)
        signed.append(webhook.body)
        let expected = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Self.signingKey))
        #expect(signature == "v1," + Data(expected).base64EncodedString())
        #expect(abs(Double(timestamp)! - Date().timeIntervalSince1970) < 30)
        let json = webhook.json
        #expect(json["schema"] as? String == "failoverd.alerts/v1")
        #expect(json["id"] as? String == id)
        let alert = try #require((json["alerts"] as? [[String: Any]])?.first)
        #expect(alert["type"] as? String == "failover_triggered")
        #expect((alert["facts"] as? [String: String])?["candidate"] == "euw1-a")

        let deliveries = try await store.alertDeliveries()
        #expect(deliveries.count == kinds.count)
        #expect(deliveries.allSatisfy { $0.status == "delivered" && $0.attempts == 1 })
        try await expectNoSecret(in: logs.all, store: store)
    }

    @Test func aTooManyRequestsAnswerIsRetriedNoEarlierThanRetryAfter() async throws {
        let receiver = try await HTTPReceiver.start(script: [
            .init(status: 429, headers: ["Retry-After": "2"]), .init(status: 200),
        ])
        let store = try StateStore(path: temporaryStorePath())
        let pipeline = AlertPipeline(
            configuration: configuration([channel(.webhook, receiver)]), store: store, logger: LogCapture().logger(),
            tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        pipeline.emit(event(.failoverTriggered))
        let requests = try await receiver.waitForRequests(2)
        try await eventually("the delivery is recorded") {
            try await store.alertDeliveries().first?.status == "delivered"
        }
        try await running.stop()
        try await receiver.stop()
        #expect(requests.count == 2)
        #expect(requests[1].at - requests[0].at >= .seconds(2))
        // The retry is the same delivery: same id, so a receiver can drop a repeat.
        #expect(requests[0].headers["webhook-id"] == requests[1].headers["webhook-id"])
        let delivery = try #require(try await store.alertDeliveries().first)
        let attempts = try await store.alertAttempts(deliveryID: delivery.id)
        #expect(attempts.map(\.outcome) == ["retry", "delivered"])
        #expect(attempts.map(\.httpStatus) == [429, 200])
    }

    @Test func aServerErrorThenSuccessIsDeliveredOnce() async throws {
        let receiver = try await HTTPReceiver.start(script: [.init(status: 500), .init(status: 200)])
        let store = try StateStore(path: temporaryStorePath())
        let pipeline = AlertPipeline(
            configuration: configuration([channel(.slack, receiver)]), store: store, logger: LogCapture().logger(),
            tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        pipeline.emit(event(.endpointDown))
        _ = try await receiver.waitForRequests(2)
        try await Task.sleep(for: .milliseconds(500))
        try await running.stop()
        try await receiver.stop()
        #expect(receiver.requests.count == 2)
        let deliveries = try await store.alertDeliveries()
        #expect(deliveries.map(\.status) == ["delivered"])
        #expect(deliveries.first?.attempts == 2)
    }

    @Test func aBadRequestIsRecordedAsPermanentWithTheReceiversAnswer() async throws {
        let receiver = try await HTTPReceiver.start(script: [
            .init(status: 400, body: "invalid_payload (token \(Self.token) rejected)")
        ])
        let logs = LogCapture()
        let store = try StateStore(path: temporaryStorePath())
        let pipeline = AlertPipeline(
            configuration: configuration([channel(.discord, receiver)]), store: store, logger: logs.logger(),
            tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        pipeline.emit(event(.oldPrimaryReturned))
        try await eventually("the delivery fails") { try await store.alertDeliveries().first?.status == "failed" }
        try await Task.sleep(for: .milliseconds(300))
        try await running.stop()
        try await receiver.stop()
        #expect(receiver.requests.count == 1)
        let delivery = try #require(try await store.alertDeliveries().first)
        #expect(delivery.lastHTTPStatus == 400)
        #expect(delivery.lastError == "HTTP 400 from 127.0.0.1:\(receiver.port): invalid_payload (token *** rejected)")
        try await expectNoSecret(in: logs.all, store: store)
    }

    @Test func aReceiverThatIsDownThenUpGetsEverythingInOrder() async throws {
        let reservation = try HTTPReceiver.PortReservation()
        defer { reservation.release() }
        let port = reservation.port
        let logs = LogCapture()
        let store = try StateStore(path: temporaryStorePath())
        let down = AlertChannel(
            name: "hook", kind: .webhook, url: Secret("http://127.0.0.1:\(port)/hook/\(Self.token)"),
            signingSecret: Secret(Self.signingSecret), connectTimeout: .seconds(1), timeout: .seconds(2))
        let pipeline = AlertPipeline(
            configuration: configuration([down]), store: store, logger: logs.logger(), tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        let endpoints = (1...6).map { "ep-\($0)" }
        for endpoint in endpoints {
            pipeline.emit(event(.endpointDown, endpoint: endpoint))
        }
        try await eventually("attempts fail while the receiver is down") {
            try await store.alertDeliveries().last.map { $0.attempts >= 2 } ?? false
        }
        let receiver = try await HTTPReceiver.start(port: port)
        reservation.release()
        let requests = try await receiver.waitForRequests(endpoints.count)
        try await Task.sleep(for: .milliseconds(300))
        try await running.stop()
        try await receiver.stop()
        let received = requests.compactMap { ($0.json["alerts"] as? [[String: Any]])?.first?["endpoint"] as? String }
        #expect(received == endpoints)
        #expect(receiver.requests.count == endpoints.count)
        #expect(receiver.maxOpenConnections == 1)
        #expect(try await store.alertDeliveries().allSatisfy { $0.status == "delivered" })
        try await expectNoSecret(in: logs.all, store: store)
    }

    @Test func undeliveredAlertsAreDeliveredAfterARestart() async throws {
        let reservation = try HTTPReceiver.PortReservation()
        defer { reservation.release() }
        let port = reservation.port
        let path = temporaryStorePath()
        let url = Secret("http://127.0.0.1:\(port)/slack/\(Self.token)")
        let slack = AlertChannel(name: "slack", kind: .slack, url: url, connectTimeout: .seconds(1))
        do {
            let store = try StateStore(path: path)
            let pipeline = AlertPipeline(
                configuration: configuration([slack]), store: store, logger: LogCapture().logger(),
                tick: .milliseconds(20))
            let running = RunningPipeline(pipeline)
            for index in 1...3 {
                pipeline.emit(event(.failoverFailed, endpoint: "ep-\(index)"))
            }
            try await eventually("three deliveries are stored and tried") {
                let rows = try await store.alertDeliveries()
                return rows.count == 3 && rows.allSatisfy { $0.status == "pending" }
                    && rows.contains { $0.attempts > 0 }
            }
            try await running.stop()
        }
        let receiver = try await HTTPReceiver.start(port: port)
        reservation.release()
        let store = try StateStore(path: path)
        let pipeline = AlertPipeline(
            configuration: configuration([slack]), store: store, logger: LogCapture().logger(),
            tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        let requests = try await receiver.waitForRequests(3)
        try await Task.sleep(for: .milliseconds(300))
        try await running.stop()
        try await receiver.stop()
        #expect(receiver.requests.count == 3)
        let texts = requests.compactMap { $0.json["text"] as? String }
        #expect(texts.map { $0.contains("ep-1") || $0.contains("failover_failed") }.count == 3)
        #expect(Set(requests.compactMap { $0.headers["idempotency-key"] }).count == 3)
        #expect(try await store.alertDeliveries().allSatisfy { $0.status == "delivered" })
    }

    @Test func groupingSilencesAndInhibitionChangeWhatIsSent() async throws {
        let receiver = try await HTTPReceiver.start()
        let store = try StateStore(path: temporaryStorePath())
        let inhibit = InhibitRule(
            source: AlertMatch([.type: ["failover_triggered"]]), target: AlertMatch([.type: ["endpoint_down"]]),
            equal: [.cluster])
        let silence = Silence(match: AlertMatch([.region: ["ap-south"]]), endsAt: Date().addingTimeInterval(3600))
        let pipeline = AlertPipeline(
            configuration: configuration(
                [channel(.webhook, receiver)], groupBy: [.cluster, .type], groupWait: .milliseconds(400),
                inhibit: [inhibit], silences: [silence]),
            store: store, logger: LogCapture().logger(), tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        pipeline.emit(event(.failoverTriggered, .critical, endpoint: "use1-a"))
        pipeline.emit(event(.endpointDown, .critical, endpoint: "use1-a"))
        pipeline.emit(event(.endpointSlow, .medium, endpoint: "use1-b"))
        pipeline.emit(event(.endpointSlow, .medium, endpoint: "use1-c"))
        pipeline.emit(event(.endpointSlow, .medium, region: "ap-south", endpoint: "aps1-a"))
        let requests = try await receiver.waitForRequests(2)
        try await Task.sleep(for: .milliseconds(600))
        try await running.stop()
        try await receiver.stop()
        #expect(receiver.requests.count == 2)
        let sent = requests.map { request in
            ((request.json["alerts"] as? [[String: Any]]) ?? []).map {
                "\($0["type"] as? String ?? "?")@\($0["endpoint"] as? String ?? "?")"
            }
        }
        #expect(sent == [["failover_triggered@use1-a"], ["endpoint_slow@use1-b", "endpoint_slow@use1-c"]])
    }

    @Test func emitReturnsAtOnceEvenWhenTheReceiverHangs() async throws {
        // A receiver that accepts connections and never answers: only the channel's timeout ends a request.
        let pipeline = AlertPipeline(
            configuration: configuration([
                AlertChannel(
                    name: "slow", kind: .slack, url: Secret("http://10.255.255.1:9/\(Self.token)"),
                    connectTimeout: .milliseconds(300), timeout: .milliseconds(500))
            ]), store: try StateStore(path: temporaryStorePath()), logger: LogCapture().logger(),
            tick: .milliseconds(20))
        let running = RunningPipeline(pipeline)
        let start = ContinuousClock.now
        for index in 0..<1000 {
            pipeline.emit(event(.endpointSlow, .critical, endpoint: "ep-\(index)"))
        }
        let elapsed = ContinuousClock.now - start
        try await running.stop()
        // Waiting for delivery would take 1000 × the 500 ms timeout.
        #expect(elapsed < .seconds(5))
    }

    func expectNoSecret(
        in logs: [String], store: StateStore, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let secrets = [Self.token, Self.routingKey, Self.signingSecret]
        for line in logs {
            for secret in secrets {
                #expect(!line.contains(secret), "log line holds a secret: \(line)", sourceLocation: sourceLocation)
            }
        }
        #expect(!logs.isEmpty, sourceLocation: sourceLocation)
        let history = try await historyText(store)
        for secret in secrets {
            #expect(!history.contains(secret), "history holds a secret", sourceLocation: sourceLocation)
        }
    }

    /// Everything the history keeps, as one text.
    func historyText(_ store: StateStore) async throws -> String {
        var parts: [String] = []
        for delivery in try await store.alertDeliveries(limit: 1000) {
            parts.append(
                "\(delivery.channel) \(delivery.summary) \(delivery.lastError ?? "") "
                    + String(decoding: delivery.payload, as: UTF8.self))
            for attempt in try await store.alertAttempts(deliveryID: delivery.id) {
                parts.append(attempt.error ?? "")
            }
        }
        return parts.joined(separator: "\n")
    }
}
