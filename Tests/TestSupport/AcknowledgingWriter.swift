import Postgres
import Synchronization

/// A client that commits single-row inserts `insert into TABLE values (id)` as fast as it can,
/// through a multi-host libpq connection that finds the writable server (as an application with
/// `target_session_attrs=read-write` does), reconnecting 50 ms after an error. It records every
/// acknowledged commit: the history a test or benchmark compares with what the servers hold.
///
/// An id is never reused, acknowledged or not: a commit whose answer was lost may still exist.
public final class AcknowledgingWriter: Sendable {
    public struct Acknowledgement: Sendable, Equatable {
        public var id: Int
        public var at: ContinuousClock.Instant
        /// The port of the server that acknowledged it.
        public var port: Int
    }

    private let configuration: PostgresConfiguration
    private let table: String
    private let commitTimeout: Duration
    private let firstID: Int
    private let stopped = Atomic<Bool>(false)
    private let acknowledged = Mutex<[Acknowledgement]>([])

    /// - Parameters:
    ///   - ports: the servers on 127.0.0.1, in the order a client tries them.
    ///   - table: a table with an integer primary key as its only column.
    ///   - firstID: where this writer's ids start: writers sharing a table take disjoint ranges.
    ///   - commitTimeout: how long a commit may take before the client gives up on the session
    ///     (a hung server never answers), as applications do.
    public init(
        ports: [Int], password: String, table: String = "w", firstID: Int = 1, commitTimeout: Duration = .seconds(2)
    ) {
        var configuration = PostgresConfiguration(
            host: "127.0.0.1", port: ports[0], password: password, sslMode: "disable", applicationName: "writer",
            connectTimeout: .seconds(10))
        configuration.alternateHosts = ports.dropFirst().map { ("127.0.0.1", $0) }
        configuration.targetSessionAttributes = "read-write"
        configuration.perHostConnectTimeoutSeconds = 1
        self.configuration = configuration
        self.table = table
        self.firstID = firstID
        self.commitTimeout = commitTimeout
    }

    public func stop() { stopped.store(true, ordering: .relaxed) }

    /// Commits acknowledged so far.
    public var acknowledgements: [Acknowledgement] { acknowledged.withLock { $0 } }

    public var acknowledgedCount: Int { acknowledged.withLock { $0.count } }

    /// Waits (bounded) until `count` commits were acknowledged, so that a fault injected next meets
    /// a client that is really writing, however slow the machine is; returns whether they were.
    public func waitForAcknowledged(_ count: Int, within limit: Duration = .seconds(30)) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while acknowledgedCount < count && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return acknowledgedCount >= count
    }

    /// The first commit acknowledged after `instant` by another server than `port`.
    public func firstAcknowledgement(after instant: ContinuousClock.Instant, notOn port: Int) -> Acknowledgement? {
        acknowledged.withLock { $0.first { $0.at > instant && $0.port != port } }
    }

    /// Writes until ``stop()`` or `limit`; returns every acknowledged commit, in order.
    public func run(for limit: Duration) async -> [Acknowledgement] {
        let deadline = ContinuousClock.now + limit
        var next = firstID
        while !stopped.load(ordering: .relaxed) && ContinuousClock.now < deadline {
            guard let connection = try? await PostgresConnection.connect(configuration) else {
                try? await Task.sleep(for: .milliseconds(50))
                continue
            }
            while !stopped.load(ordering: .relaxed) && ContinuousClock.now < deadline {
                let id = next
                next += 1
                do {
                    _ = try await connection.query(
                        "insert into \(table) values ($1)", [String(id)], timeout: commitTimeout)
                    let acknowledgement = Acknowledgement(id: id, at: .now, port: connection.connectedPort)
                    acknowledged.withLock { $0.append(acknowledgement) }
                } catch {
                    break
                }
            }
            connection.close()
            try? await Task.sleep(for: .milliseconds(50))
        }
        return acknowledgements
    }
}
