import CLibPQ
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libpq connection to one endpoint, with a hard deadline on every operation.
///
/// Every libpq call runs on ``PostgresThreadPool``, never on Swift's cooperative pool, and waits
/// for the server with `poll(2)` on the connection's socket for at most the time left, so a
/// server that accepts TCP but never answers (a stopped postmaster, a dead network path) costs
/// exactly the deadline. On a query timeout the connection is abandoned (`PQfinish`, no cancel
/// request: that would need the same unresponsive server) and later calls fail with
/// ``PostgresError/Kind/connectionClosed``.
///
/// The `PGconn*` belongs to a ``LibpqConnection``, which gives libpq one call at a time:
/// concurrent `query` calls therefore run one after the other; each one's deadline counts from
/// its call, including the wait.
public final class PostgresConnection: Sendable, CustomStringConvertible {
    /// The endpoint this connection talks to.
    public let configuration: PostgresConfiguration
    /// Server version as libpq reports it, e.g. `150013` for 15.13 (`PQserverVersion`).
    public let serverVersion: Int
    /// Process ID of the server backend serving this connection (`PQbackendPID`), e.g. to keep
    /// it out of a `pg_terminate_backend()` sweep.
    public let backendPID: Int32
    /// The port of the server this connection reached (`PQport`): with
    /// ``PostgresConfiguration/alternateHosts``, tells which of them answered.
    public let connectedPort: Int
    /// Whose threads run this connection's libpq calls.
    public let workload: PostgresWorkload

    private let handle: LibpqConnection

    private init(_ connection: OpaquePointer, configuration: PostgresConfiguration, workload: PostgresWorkload) {
        self.configuration = configuration
        self.workload = workload
        self.serverVersion = Int(PQserverVersion(connection))
        self.backendPID = PQbackendPID(connection)
        self.connectedPort = PQport(connection).flatMap { Int(String(cString: $0)) } ?? configuration.port
        self.handle = LibpqConnection(connection)
    }

    /// `PostgresConnection(host:port)`.
    public var description: String {
        "PostgresConnection(\(configuration.endpoint))"
    }

    /// Whether ``close()`` was called or the connection was abandoned or lost.
    public var isClosed: Bool {
        handle.isClosed
    }

    /// Opens a connection, failing once `timeout` has passed.
    ///
    /// - Parameters:
    ///   - configuration: The endpoint and credentials.
    ///   - timeout: Deadline for TCP connect, TLS, and authentication together; sub-second
    ///     values work. `nil` (the default) uses `configuration.connectTimeout`.
    ///   - workload: Whose threads run this connection's calls (default: the monitor's).
    /// - Throws: ``PostgresError`` of kind `connectTimeout`, `authenticationFailed`,
    ///   `connectionFailed`, or `cancelled` (the task was cancelled before a thread picked it up).
    public static func connect(
        _ configuration: PostgresConfiguration,
        timeout: Duration? = nil,
        workload: PostgresWorkload = .monitoring
    ) async throws(PostgresError) -> PostgresConnection {
        let limit = timeout ?? configuration.connectTimeout
        if !configuration.alternateHosts.isEmpty {
            return try await connectToFirstSuitable(configuration, limit: limit, workload: workload)
        }
        let deadline = ContinuousClock.now + limit
        let outcome: Result<PostgresConnection, PostgresError>
        do {
            outcome = try await PostgresThreadPool.pool(for: workload).runIfActive {
                Result { () throws(PostgresError) in
                    try blockingConnect(configuration, deadline: deadline, limit: limit, workload: workload)
                }
            }
        } catch {
            throw PostgresError(.cancelled, "cancelled before connecting", configuration: configuration)
        }
        return try outcome.get()
    }

    /// libpq's multi-host behaviour, with per-host deadlines that also hold for a host that accepts
    /// TCP and never answers: libpq enforces `connect_timeout` only in its blocking connect, so the
    /// hosts are tried here one by one, each with `target_session_attrs` checked by libpq.
    private static func connectToFirstSuitable(
        _ configuration: PostgresConfiguration, limit: Duration, workload: PostgresWorkload
    ) async throws(PostgresError) -> PostgresConnection {
        let deadline = ContinuousClock.now + limit
        let perHost = configuration.perHostConnectTimeoutSeconds.map { Duration.seconds($0) } ?? limit
        var lastError = PostgresError.connectTimeout(limit, configuration)
        for (host, port) in [(configuration.host, configuration.port)] + configuration.alternateHosts {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else { break }
            var single = configuration
            single.host = host
            single.port = port
            single.alternateHosts = []
            do {
                return try await connect(single, timeout: min(perHost, remaining), workload: workload)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Runs one SQL statement with text-format parameters and returns its rows.
    ///
    /// - Parameters:
    ///   - sql: A single statement; refer to parameters as `$1`, `$2`, ... (add a cast such as
    ///     `$1::int` where the type cannot be inferred).
    ///   - parameters: Values in PostgreSQL text format; `nil` is SQL `NULL`.
    ///   - timeout: Deadline for the whole round trip, counted from this call (including any wait
    ///     for another query on this connection). On expiry after the statement was sent, the
    ///     connection is abandoned.
    /// - Throws: ``PostgresError`` of kind `queryFailed` (with `sqlState`), `queryTimeout`,
    ///   `connectionClosed`, or `cancelled`.
    public func query(
        _ sql: String,
        _ parameters: [String?] = [],
        timeout: Duration
    ) async throws(PostgresError) -> PostgresResult {
        let deadline = ContinuousClock.now + timeout
        if isClosed {
            throw PostgresError.closed(configuration)
        }
        let outcome: Result<PostgresResult, PostgresError>
        do {
            outcome = try await PostgresThreadPool.pool(for: workload).runIfActive {
                self.handle.withLocked { handle in
                    Result { () throws(PostgresError) in
                        try self.blockingQuery(&handle, sql, parameters, deadline: deadline, limit: timeout)
                    }
                }
            }
        } catch {
            throw PostgresError(.cancelled, "cancelled before the query was sent", configuration: configuration)
        }
        return try outcome.get()
    }

    /// Closes the connection. Idempotent, never blocks: if a query is in flight, it stops waiting
    /// within about 100 ms, fails with `connectionClosed`, and the connection is finished then.
    public func close() {
        handle.close()
    }

    // MARK: - Blocking parts, run on PostgresThreadPool

    private static func blockingConnect(
        _ configuration: PostgresConfiguration,
        deadline: ContinuousClock.Instant,
        limit: Duration,
        workload: PostgresWorkload
    ) throws(PostgresError) -> PostgresConnection {
        PostgresConnection(
            try openConnection(configuration, deadline: deadline, limit: limit), configuration: configuration,
            workload: workload)
    }

    /// Opens a libpq connection with libpq's non-blocking API, polling its socket until `deadline`,
    /// and leaves it in non-blocking mode. Notices are dropped: libpq's default printer writes them
    /// to standard error, where nobody reads them in a daemon. Blocks: call it on the module's pool.
    static func openConnection(
        _ configuration: PostgresConfiguration,
        deadline: ContinuousClock.Instant,
        limit: Duration
    ) throws(PostgresError) -> OpaquePointer {
        let pairs = configuration.libpqParameters
        let keywords = pairs.map { strdup($0.0) }
        let values = pairs.map { strdup($0.1) }
        defer {
            for keyword in keywords {
                free(keyword)
            }
            for value in values {
                if let value {
                    // Passwords should not linger in freed heap memory.
                    memset(value, 0, strlen(value))
                }
                free(value)
            }
        }
        let keywordArray = keywords.map { UnsafePointer($0) } + [nil]
        let valueArray = values.map { UnsafePointer($0) } + [nil]
        guard let connection = PQconnectStartParams(keywordArray, valueArray, 0) else {
            throw PostgresError(
                .connectionFailed, "libpq could not allocate a connection", configuration: configuration)
        }
        if PQstatus(connection) == CONNECTION_BAD {
            let error = connectFailure(connection, configuration)
            PQfinish(connection)
            throw error
        }
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        // Verbose messages carry the SQLSTATE of a start-up failure (28P01, 3D000, 53300, ...),
        // which libpq has no other public way to report.
        PQsetErrorVerbosity(connection, PQERRORS_VERBOSE)
        var status = PGRES_POLLING_WRITING
        while status != PGRES_POLLING_OK {
            if status == PGRES_POLLING_FAILED {
                let error = connectFailure(connection, configuration)
                PQfinish(connection)
                throw error
            }
            let events = status == PGRES_POLLING_READING ? Int16(POLLIN) : Int16(POLLOUT)
            switch waitForSocket(PQsocket(connection), events: events, until: deadline, shouldStop: { false }) {
            case .ready:
                status = PQconnectPoll(connection)
            case .timedOut, .stopped:
                PQfinish(connection)
                throw PostgresError.connectTimeout(limit, configuration)
            case .failed(let reason):
                PQfinish(connection)
                throw PostgresError(.connectionFailed, reason, configuration: configuration)
            }
        }
        PQsetErrorVerbosity(connection, PQERRORS_DEFAULT)
        // libpq's socket is already non-blocking; this also keeps PQsendQueryParams from blocking
        // on a full send buffer (PQflush then reports what is left, and we poll for it).
        if PQsetnonblocking(connection, 1) != 0 {
            let error = PostgresError(.connectionFailed, errorMessage(connection), configuration: configuration)
            PQfinish(connection)
            throw error
        }
        return connection
    }

    /// Classifies a start-up failure and cleans libpq's verbose message.
    static func connectFailure(_ connection: OpaquePointer, _ configuration: PostgresConfiguration)
        -> PostgresError
    {
        let (sqlState, message) = parseVerboseMessage(errorMessage(connection))
        if PQconnectionNeedsPassword(connection) == 1 {
            return PostgresError(
                .authenticationFailed,
                "the server asks for a password and none is configured: \(message)",
                sqlState: sqlState,
                configuration: configuration
            )
        }
        let kind: PostgresError.Kind = sqlState?.hasPrefix("28") == true ? .authenticationFailed : .connectionFailed
        return PostgresError(kind, message, sqlState: sqlState, configuration: configuration)
    }

    /// Takes the SQLSTATE out of a verbose libpq message (`FATAL:  28P01: password ...`) and
    /// drops its `LOCATION:` lines.
    static func parseVerboseMessage(_ raw: String) -> (sqlState: String?, message: String) {
        var text = raw
        var sqlState: String?
        for severity in ["FATAL:  ", "ERROR:  ", "PANIC:  "] {
            guard let range = text.firstRange(of: severity) else {
                continue
            }
            let rest = text[range.upperBound...]
            let code = rest.prefix(5)
            let isCode = code.count == 5 && code.allSatisfy { $0.isASCII && ($0.isNumber || $0.isUppercase) }
            if isCode, rest.dropFirst(5).hasPrefix(": ") {
                sqlState = String(code)
                text.removeSubrange(range.upperBound..<text.index(range.upperBound, offsetBy: 7))
            }
            break
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
            .filter { !$0.trimmingPrefix(while: \.isWhitespace).hasPrefix("LOCATION:") }
        return (sqlState, lines.joined(separator: "\n"))
    }

    private func blockingQuery(
        _ handle: inout LibpqConnection.Locked,
        _ sql: String,
        _ parameters: [String?],
        deadline: ContinuousClock.Instant,
        limit: Duration
    ) throws(PostgresError) -> PostgresResult {
        guard let connection = handle.connection, !isClosed else {
            handle.finish()
            throw PostgresError.closed(configuration)
        }
        // Time ran out while waiting for the pool or the lock: nothing was sent, so the
        // connection is still in a known state and stays open.
        if ContinuousClock.now >= deadline {
            throw PostgresError.queryTimeout(limit, configuration, sent: false)
        }
        do throws(PostgresError) {
            let result = try exchange(connection, sql, parameters, deadline: deadline, limit: limit)
            if isClosed {
                // close() came while this query ran and could not take the lock.
                handle.finish()
            }
            return result
        } catch {
            if error.kind != .queryFailed || PQstatus(connection) == CONNECTION_BAD || isClosed {
                handle.finish()
            }
            throw error
        }
    }

    /// Sends the statement, waits for every result, and returns the last one (or the first error).
    private func exchange(
        _ connection: OpaquePointer,
        _ sql: String,
        _ parameters: [String?],
        deadline: ContinuousClock.Instant,
        limit: Duration
    ) throws(PostgresError) -> PostgresResult {
        let copies = parameters.map { $0.map { strdup($0) } }
        defer {
            for copy in copies {
                if let copy {
                    free(copy)
                }
            }
        }
        let values = copies.map { $0.flatMap { UnsafePointer($0) } }
        let sent = values.withUnsafeBufferPointer { buffer in
            PQsendQueryParams(connection, sql, Int32(buffer.count), nil, buffer.baseAddress, nil, nil, 0)
        }
        guard sent == 1 else {
            throw lostOrFailed(connection, Self.errorMessage(connection))
        }

        let shouldStop = { self.isClosed }
        // Push out whatever did not fit into the socket buffer, reading meanwhile so the server
        // is never blocked on us.
        while true {
            let flushed = PQflush(connection)
            if flushed == 0 {
                break
            }
            if flushed < 0 {
                throw lostOrFailed(connection, Self.errorMessage(connection))
            }
            try wait(connection, events: Int16(POLLIN | POLLOUT), deadline: deadline, limit: limit, shouldStop)
            if PQconsumeInput(connection) == 0 {
                throw lostOrFailed(connection, Self.errorMessage(connection))
            }
        }

        var last: PostgresResult?
        var firstError: PostgresError?
        while true {
            while PQisBusy(connection) == 1 {
                try wait(connection, events: Int16(POLLIN), deadline: deadline, limit: limit, shouldStop)
                if PQconsumeInput(connection) == 0 {
                    throw lostOrFailed(connection, Self.errorMessage(connection))
                }
            }
            guard let result = PQgetResult(connection) else {
                break
            }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
                last = Self.copy(result)
            case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
                // Leaving COPY mode needs a protocol exchange of its own; not supported here.
                throw lostOrFailed(connection, "COPY is not supported by this client", force: true)
            default:
                if firstError == nil {
                    firstError = resultError(result)
                }
            }
        }
        if PQstatus(connection) == CONNECTION_BAD {
            throw lostOrFailed(connection, firstError?.message ?? Self.errorMessage(connection), force: true)
        }
        if let firstError {
            throw firstError
        }
        return last ?? PostgresResult(columns: [], rows: [], commandTag: "", rowsAffected: nil)
    }

    private func wait(
        _ connection: OpaquePointer,
        events: Int16,
        deadline: ContinuousClock.Instant,
        limit: Duration,
        _ shouldStop: () -> Bool
    ) throws(PostgresError) {
        switch Self.waitForSocket(PQsocket(connection), events: events, until: deadline, shouldStop: shouldStop) {
        case .ready:
            return
        case .timedOut:
            throw PostgresError.queryTimeout(limit, configuration)
        case .stopped:
            throw PostgresError.closed(configuration, "the connection was closed while a query was running")
        case .failed(let reason):
            throw PostgresError.closed(configuration, reason)
        }
    }

    /// A `connectionClosed` error if the connection is gone (or `force`), else `queryFailed`.
    private func lostOrFailed(_ connection: OpaquePointer, _ message: String, force: Bool = false) -> PostgresError {
        if force || PQstatus(connection) == CONNECTION_BAD {
            return PostgresError(.connectionClosed, message, configuration: configuration)
        }
        return PostgresError(.queryFailed, message, configuration: configuration)
    }

    private func resultError(_ result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let pointer = PQresultErrorField(result, Int32(ascii)) else {
                return nil
            }
            return String(cString: pointer)
        }
        let message = field("M") ?? String(cString: PQresultErrorMessage(result))
        return PostgresError(.queryFailed, message, sqlState: field("C"), configuration: configuration)
    }

    private static func copy(_ result: OpaquePointer) -> PostgresResult {
        let columnCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = (0..<columnCount).map { column in
            PQfname(result, column).map { String(cString: $0) } ?? ""
        }
        let rows = (0..<rowCount).map { row in
            (0..<columnCount).map { column -> String? in
                if PQgetisnull(result, row, column) == 1 {
                    return nil
                }
                return PQgetvalue(result, row, column).map { String(cString: $0) }
            }
        }
        let tag = PQcmdStatus(result).map { String(cString: $0) } ?? ""
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) }
        return PostgresResult(columns: columns, rows: rows, commandTag: tag, rowsAffected: affected)
    }

    private static func errorMessage(_ connection: OpaquePointer) -> String {
        PQerrorMessage(connection).map { String(cString: $0) } ?? "unknown libpq error"
    }

    // MARK: - Waiting on the socket

    private enum WaitOutcome {
        case ready, timedOut, stopped
        case failed(String)
    }

    /// Longest single `poll(2)`, so a `close()` from another thread is noticed promptly.
    private static let pollSlice = Duration.milliseconds(100)

    /// Waits until the socket is ready for `events` (or has an error or hang-up, which libpq
    /// then reports), the deadline passes, or `shouldStop` says so.
    private static func waitForSocket(
        _ socket: Int32,
        events: Int16,
        until deadline: ContinuousClock.Instant,
        shouldStop: () -> Bool
    ) -> WaitOutcome {
        guard socket >= 0 else {
            return .failed("the connection has no socket")
        }
        while true {
            if shouldStop() {
                return .stopped
            }
            let remaining = deadline - ContinuousClock.now
            if remaining <= .zero {
                return .timedOut
            }
            let slice = min(remaining, pollSlice).postgresMilliseconds
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let ready = poll(&descriptor, 1, Int32(slice))
            if ready > 0 {
                return .ready
            }
            if ready < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN {
                    continue
                }
                return .failed("poll(2) failed: \(String(cString: strerror(code)))")
            }
        }
    }
}
