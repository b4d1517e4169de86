import CLibPQ
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension PostgresConnection {
    /// Opens an idle connection whose only job is to notice, within milliseconds, that the server
    /// went away; see ``Watch``.
    ///
    /// - Parameters:
    ///   - configuration: The endpoint and credentials.
    ///   - timeout: Deadline for TCP connect, TLS and authentication together; sub-second values
    ///     work. `nil` (the default) uses `configuration.connectTimeout`.
    ///   - workload: Whose threads connect (default: the monitor's).
    /// - Throws: ``PostgresError`` of kind `connectTimeout`, `authenticationFailed`,
    ///   `connectionFailed`, or `cancelled`.
    public static func watch(
        _ configuration: PostgresConfiguration,
        timeout: Duration? = nil,
        workload: PostgresWorkload = .monitoring
    ) async throws(PostgresError) -> Watch {
        let limit = timeout ?? configuration.connectTimeout
        let deadline = ContinuousClock.now + limit
        let outcome: Result<Watch, PostgresError>
        do {
            outcome = try await PostgresThreadPool.pool(for: workload).runIfActive {
                Result { () throws(PostgresError) in
                    try Watch.blockingConnect(configuration, deadline: deadline, limit: limit)
                }
            }
        } catch {
            throw PostgresError(.cancelled, "cancelled before connecting", configuration: configuration)
        }
        return try outcome.get()
    }

    /// An idle connection held open to detect a server crash.
    ///
    /// A `kill -9`ed postmaster takes its backends with it, so the server side of an idle
    /// connection closes at once; ``waitUntilClosed(timeout:)`` sees that as a hang-up on the socket
    /// and returns in milliseconds, where a periodic probe would find out only at its next turn.
    /// A hung server (`SIGSTOP`, a dead network path) closes nothing: only probe timeouts reveal it.
    ///
    /// The connection never sends a query. Connecting runs on ``PostgresThreadPool``; waiting holds
    /// no thread (``WatchPoller``).
    ///
    /// The `PGconn*` belongs to a ``LibpqConnection``, which gives libpq one call at a time.
    public final class Watch: Sendable, CustomStringConvertible {
        /// The endpoint watched.
        public let configuration: PostgresConfiguration
        /// Process ID of the server backend holding this connection (`PQbackendPID`), e.g. to keep
        /// it out of a `pg_terminate_backend()` sweep.
        public let backendPID: Int32

        private let handle: LibpqConnection

        private init(_ connection: OpaquePointer, configuration: PostgresConfiguration) {
            self.configuration = configuration
            self.backendPID = PQbackendPID(connection)
            self.handle = LibpqConnection(connection)
        }

        /// `PostgresConnection.Watch(host:port)`.
        public var description: String {
            "PostgresConnection.Watch(\(configuration.endpoint))"
        }

        /// Whether the server closed the connection (as far as seen so far) or ``close()`` was called.
        public var isClosed: Bool {
            handle.isClosed
        }

        /// Waits until the server closes the connection, at most `timeout`.
        ///
        /// The wait holds no thread: ``WatchPoller`` watches every watch connection's socket from
        /// one thread. Task cancellation and ``close()`` end the wait at once.
        ///
        /// - Parameter timeout: Longest wait.
        /// - Returns: `true` if the connection is gone (the server closed it, the socket failed, or
        ///   ``close()`` was called); `false` if it is still open after `timeout` or the task was
        ///   cancelled.
        public func waitUntilClosed(timeout: Duration) async -> Bool {
            if isClosed {
                return true
            }
            let deadline = ContinuousClock.now + timeout
            let socket = handle.withLocked { locked -> Int32 in
                guard let connection = locked.connection else { return -1 }
                let socket = PQsocket(connection)
                if socket < 0 { locked.finish() }
                return socket
            }
            guard socket >= 0 else { return true }
            return await WatchPoller.shared.waitUntilClosed(handle, socket: socket, until: deadline)
        }

        /// Closes the connection. Idempotent, never blocks: a wait in progress ends at once.
        public func close() {
            handle.close()
            WatchPoller.shared.wake()
        }

        fileprivate static func blockingConnect(
            _ configuration: PostgresConfiguration,
            deadline: ContinuousClock.Instant,
            limit: Duration
        ) throws(PostgresError) -> Watch {
            Watch(
                try PostgresConnection.openConnection(configuration, deadline: deadline, limit: limit),
                configuration: configuration)
        }
    }
}
