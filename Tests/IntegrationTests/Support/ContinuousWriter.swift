import Foundation
import Postgres
import Synchronization

/// A client that commits single-row inserts into `w(id)` as fast as it can, finding the writable
/// server among `ports` and reconnecting every 50 ms after an error, as an application would.
/// Returns the ids whose commit was acknowledged.
final class ContinuousWriter: Sendable {
    private let ports: [Int]
    private let password: String
    private let stopped = Atomic<Bool>(false)
    private let acknowledgedSoFar = Atomic<Int>(0)
    /// The first id this writer inserts: writers sharing a table take disjoint ranges.
    private let firstID: Int

    init(ports: [Int], password: String, firstID: Int = 1) {
        self.ports = ports
        self.password = password
        self.firstID = firstID
    }

    func stop() { stopped.store(true, ordering: .relaxed) }

    /// How many commits have been acknowledged so far.
    var acknowledgedCount: Int { acknowledgedSoFar.load(ordering: .relaxed) }

    /// Waits (bounded) until `count` commits have been acknowledged, so that a fault injected next
    /// meets a client that is really writing, however slow the machine is; returns whether it did.
    func waitForAcknowledged(_ count: Int, within limit: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while acknowledgedCount < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return acknowledgedCount >= count
    }

    func run(for limit: Duration) async -> [Int] {
        let deadline = ContinuousClock.now + limit
        var acknowledged: [Int] = []
        var next = firstID
        while !stopped.load(ordering: .relaxed) && ContinuousClock.now < deadline {
            guard let connection = await writableConnection() else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            defer { connection.close() }
            while !stopped.load(ordering: .relaxed) && ContinuousClock.now < deadline {
                do {
                    _ = try await connection.query("insert into w values ($1)", [String(next)], timeout: .seconds(2))
                    acknowledged.append(next)
                    acknowledgedSoFar.add(1, ordering: .relaxed)
                    next += 1
                } catch {
                    // The id may or may not have been written; never reuse it.
                    next += 1
                    break
                }
            }
        }
        return acknowledged
    }

    private func writableConnection() async -> PostgresConnection? {
        for port in ports {
            let configuration = PostgresConfiguration(
                host: "127.0.0.1", port: port, password: password, sslMode: "disable", applicationName: "writer")
            guard let connection = try? await PostgresConnection.connect(configuration, timeout: .seconds(1))
            else { continue }
            let answer = try? await connection.query(
                "select pg_is_in_recovery() or current_setting('default_transaction_read_only')::bool as readonly",
                timeout: .seconds(1))
            if answer?.first?.bool("readonly") == false { return connection }
            connection.close()
        }
        return nil
    }
}
