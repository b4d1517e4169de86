import Foundation
import Health
import Logging
import Postgres
import Proxy
import TestSupport
import Testing
import Topology
import Vocabulary

/// The proxy's per-endpoint breaker reports itself: `circuit_open` when failed connects open it,
/// `circuit_closed` when a trial connect succeeds again. Real sockets: a port that refuses, then a
/// listener on the same port; the health snapshot is a fake that calls the endpoint healthy, so
/// that only the breaker keeps the proxy away from it.
@Suite struct ProxyBreakerEventTests {
    static let logger = Logger(label: "proxy-breaker-tests")

    @Test(.timeLimit(.minutes(1)))
    func anEndpointsBreakerRaisesCircuitOpenAndItsRecoveryResolvesIt() async throws {
        let reservation = try HTTPReceiver.PortReservation()
        defer { reservation.release() }
        let endpoint = Endpoint(
            name: "pg-x", region: "us-east", role: .leader, host: "127.0.0.1", port: reservation.port,
            health: HealthSettings())
        var topology = ClusterTopology(
            name: "breakers", sourceFile: "breakers.yaml", connection: ConnectionSettings(),
            replication: ReplicationSettings(), defaults: HealthSettings(),
            regions: [Region(name: "us-east", priority: 100, leader: endpoint, replicas: [])])
        topology.routing = RoutingSettings(
            enabled: true, listenReadWrite: ListenAddress(host: "127.0.0.1", port: 0),
            listenReadOnly: ListenAddress(host: "127.0.0.1", port: 0), holdTimeout: .milliseconds(500),
            breaker: BreakerSettings(failureThreshold: 3, window: .seconds(30), openDuration: .seconds(1)))
        var health = EndpointHealth(endpoint: "pg-x", region: "us-east", address: "127.0.0.1:\(reservation.port)")
        health.reachable = true
        health.role = .primary
        health.lastProbeAt = Date()
        health.lastSuccessAt = Date()
        let snapshot = HealthSnapshot(sequence: 1, takenAt: Date(), endpoints: [health])

        let events = RecordedEvents()
        let (tables, continuation) = AsyncStream.makeStream(of: RoutingTable.self)
        let proxy = ProxyService(
            topology: topology, snapshot: { snapshot }, routingUpdates: tables, logger: Self.logger, events: events)
        let running = Task { try await proxy.run() }
        defer { running.cancel() }
        let addresses = try #require(await proxy.listeningAddresses(timeout: .seconds(10)))
        let port = try #require(Int(addresses.readWrite.split(separator: ":").last ?? ""))
        continuation.yield(RoutingTable(epoch: 1, writeTarget: "pg-x", writesPaused: false, fenced: []))
        #expect(try await HealthMonitorTests.eventually(within: .seconds(5)) { proxy.status().epoch == 1 })

        // Nothing listens on the endpoint's port: a client's connects fail until the breaker opens.
        let client = PostgresConfiguration(host: "127.0.0.1", port: port, password: "unused", sslMode: "disable")
        for _ in 0..<3 where !events.contains(.circuitOpen) {
            _ = try? await PostgresConnection.connect(client, timeout: .seconds(3))
        }
        let opened = try #require(events.all.first { $0.kind == .circuitOpen })
        #expect(opened.endpoint == "pg-x")
        #expect(opened.severity == .high)
        #expect(opened.dedupKey == "breakers/circuit_open/pg-x")
        #expect(!events.contains(.circuitClosed))

        // Something listens again: after the open time, a trial connect succeeds and closes it.
        let listener = try await HTTPReceiver.start(port: reservation.port)
        defer { Task { try? await listener.stop() } }
        reservation.release()
        try await Task.sleep(for: .seconds(1))
        var closed = false
        for _ in 0..<30 {
            closed = events.contains(.circuitClosed)
            if closed { break }
            _ = try? await PostgresConnection.connect(client, timeout: .milliseconds(500))
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(closed, "no circuit_closed; events: \(events.all.map(\.kind))")
        #expect(events.all.last { $0.kind == .circuitClosed }?.endpoint == "pg-x")
        running.cancel()
        _ = await running.result
    }
}
