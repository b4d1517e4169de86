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
    /// - Throws: ``PostgresError`` of kind `connectTimeout`, `authenticationFailed`,
    ///   `connectionFailed`, or `cancelled`.
    public static func watch(
        _ configuration: PostgresConfiguration,
        timeout: Duration? = nil
    ) async throws(PostgresError) -> Watch {
        let limit = timeout ?? configuration.connectTimeout
        let deadline = ContinuousClock.now + limit
        let outcome: Result<Watch, PostgresError>
        do {
            outcome = try await PostgresThreadPool.shared.runIfActive {
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
    /// The connection never sends a query. Every libpq call runs on ``PostgresThreadPool``.
    ///
    /// The `PGconn*` belongs to a ``LibpqConnection``, which gives libpq one call at a time.
    public final class Watch: Sendable, CustomStringConvertible {
        /// The endpoint watched.
        public let configuration: PostgresConfiguration
        /// Process ID of the server backend holding this connection (`PQbackendPID`), e.g. to keep
        /// it out of a `pg_terminate_backend()` sweep.
        public let backendPID: Int32

        private let handle: LibpqConnection

        /// Longest single `poll(2)`: a cancellation or ``close()`` is noticed within this time.
        static let pollSlice = Duration.milliseconds(100)

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
        /// Polls the socket in slices of at most 100 ms, so task cancellation and ``close()`` end
        /// the wait within about 100 ms whatever `timeout` is.
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
            let cancelled = CancellationFlag()
            return await withTaskCancellationHandler {
                do {
                    return try await PostgresThreadPool.shared.runIfActive {
                        self.handle.withLocked { handle in
                            self.blockingWait(&handle, until: deadline, cancelled: cancelled)
                        }
                    }
                } catch {
                    return false
                }
            } onCancel: {
                cancelled.set()
            }
        }

        /// Closes the connection. Idempotent, never blocks: a wait in progress ends within about
        /// 100 ms and the connection is finished then.
        public func close() {
            handle.close()
        }

        // MARK: - Blocking parts, run on PostgresThreadPool

        private func blockingWait(
            _ handle: inout LibpqConnection.Locked,
            until deadline: ContinuousClock.Instant,
            cancelled: CancellationFlag
        ) -> Bool {
            guard let connection = handle.connection, !isClosed else {
                handle.finish()
                return true
            }
            let socket = PQsocket(connection)
            guard socket >= 0 else {
                handle.finish()
                return true
            }
            while true {
                if isClosed {
                    handle.finish()
                    return true
                }
                if cancelled.isSet {
                    return false
                }
                let remaining = deadline - ContinuousClock.now
                if remaining <= .zero {
                    return false
                }
                let slice = min(remaining, Self.pollSlice).postgresMilliseconds
                var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                let ready = poll(&descriptor, 1, Int32(slice))
                if ready < 0 {
                    let code = errno
                    if code == EINTR || code == EAGAIN {
                        continue
                    }
                    handle.finish()
                    return true
                }
                if ready == 0 {
                    continue
                }
                // Readable, hung up or failed. An idle connection may also receive a notice or a
                // parameter change; libpq takes those in and the wait goes on. End of file or an
                // error leaves the connection bad.
                if PQconsumeInput(connection) == 0 || PQstatus(connection) == CONNECTION_BAD {
                    handle.finish()
                    return true
                }
                while let notification = PQnotifies(connection) {
                    PQfreemem(notification)
                }
            }
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

/// Set from a task-cancellation handler, read by a blocking loop on a pool thread.
private final class CancellationFlag: Sendable {
    private let flag = Atomic(false)

    var isSet: Bool { flag.load(ordering: .acquiring) }

    func set() { flag.store(true, ordering: .releasing) }
}
