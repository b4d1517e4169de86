import Alerting
import Foundation
import StateStore
import TestSupport
import Testing
import Topology
import Vocabulary

/// A channel's circuit breaker raises `circuit_open` through the pipeline, and resolves it.
@Suite(.timeLimit(.minutes(1))) struct CircuitAlertTests {
    static let token = "CIRCUIT-T0KEN-5e2b"

    @Test func aChannelWhoseCircuitOpensRaisesCircuitOpenThenResolvesIt() async throws {
        let ops = try await HTTPReceiver.start()
        let reservation = try HTTPReceiver.PortReservation()
        defer { reservation.release() }
        let port = reservation.port
        let chat = AlertChannel(
            name: "chat", kind: .slack, url: Secret("http://127.0.0.1:\(port)/chat/\(Self.token)"),
            connectTimeout: .milliseconds(500), timeout: .seconds(2))
        let opsChannel = AlertChannel(
            name: "ops", kind: .webhook, url: Secret(ops.url("/ops")), signingSecret: Secret("ops signing key"),
            connectTimeout: .seconds(1), timeout: .seconds(3))
        let immediate = Route(channels: ["chat"], groupBy: [.dedupKey], groupWait: .zero, groupInterval: .zero)
        let configuration = AlertConfiguration(
            delivery: DeliverySettings(
                initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(100), circuitFailures: 2,
                circuitOpenFor: .milliseconds(300)),
            channels: [chat, opsChannel], route: immediate,
            routes: [
                Route(
                    match: AlertMatch([.type: ["circuit_open"]]), channels: ["ops"], groupBy: [.dedupKey],
                    groupWait: .zero, groupInterval: .zero)
            ])
        let logs = LogCapture()
        let store = try StateStore(path: temporaryStorePath())
        let pipeline = AlertPipeline(
            configuration: configuration, store: store, logger: logs.logger(), tick: .milliseconds(20),
            cluster: "orders")
        let running = RunningPipeline(pipeline)

        // chat's receiver is down: two refused attempts open its circuit.
        pipeline.emit(event(.failoverTriggered))
        let opened = try await ops.waitForRequests(1)
        let openAlert = try #require((opened.first?.json["alerts"] as? [[String: Any]])?.first)
        #expect(openAlert["type"] as? String == "circuit_open")
        #expect(openAlert["status"] as? String == "firing")
        #expect(openAlert["severity"] as? String == "high")
        #expect(openAlert["cluster"] as? String == "orders")
        let facts = try #require(openAlert["facts"] as? [String: String])
        #expect(facts["channel"] == "chat")
        #expect(facts["host"] == "127.0.0.1:\(port)")
        #expect(facts["failures"] == "2")

        // The receiver comes up: the next probe delivers the waiting alert and the circuit closes.
        let chatReceiver = try await HTTPReceiver.start(port: port)
        reservation.release()
        let delivered = try await chatReceiver.waitForRequests(1)
        #expect(delivered.first?.path == "/chat/\(Self.token)")
        let resolved = try await ops.waitForRequests(2)
        let closeAlert = try #require((resolved.last?.json["alerts"] as? [[String: Any]])?.first)
        #expect(closeAlert["type"] as? String == "circuit_open")
        #expect(closeAlert["status"] as? String == "resolved")
        #expect((closeAlert["facts"] as? [String: String])?["channel"] == "chat")
        #expect(closeAlert["dedup_key"] as? String == openAlert["dedup_key"] as? String)

        try await running.stop()
        try await chatReceiver.stop()
        try await ops.stop()
        // Only one opening and one closing: the probes in between raise nothing.
        #expect(ops.requests.count == 2)
        for line in logs.all {
            #expect(!line.contains(Self.token), "a log line holds the channel's token")
        }
        for request in ops.requests {
            #expect(!String(decoding: request.body, as: UTF8.self).contains(Self.token))
        }
        #expect(logs.all.contains { $0.contains("alert channel circuit closed") })
    }
}
