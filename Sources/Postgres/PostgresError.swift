/// A failure talking to one PostgreSQL endpoint.
///
/// `message` is the server's primary message (`PG_DIAG_MESSAGE_PRIMARY`) when the server sent one,
/// else libpq's. Neither the description nor any field ever contains the configured password: every
/// message is scrubbed (occurrences replaced by `***`) before it is stored, as a second line of
/// defence behind never putting the password into a connection string.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, coarse enough to decide on (retry, alert, count as down) and to use as a
    /// metric label.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private enum Code: String, Sendable, Hashable {
            case connectTimeout, connectionFailed, authenticationFailed
            case queryFailed, queryTimeout, connectionClosed, cancelled
        }
        private let code: Code

        /// No connection within the deadline (a hung server, a dropped network path).
        public static let connectTimeout = Kind(code: .connectTimeout)
        /// The connection was refused or broke during start-up for a reason other than
        /// authentication (nothing listening, database missing, too many clients, shutting down).
        public static let connectionFailed = Kind(code: .connectionFailed)
        /// The server rejected the credentials (SQLSTATE `28P01` or `28000`), or wanted a password
        /// and none was configured. Retrying will not help.
        public static let authenticationFailed = Kind(code: .authenticationFailed)
        /// The server ran the statement and reported an error; `sqlState` says which.
        public static let queryFailed = Kind(code: .queryFailed)
        /// No complete answer within the deadline. If the statement had been sent, the connection
        /// has been abandoned (closed without a cancel request, which could itself hang on a
        /// stopped server); if the deadline passed before it could be sent, the connection stays
        /// open. `PostgresConnection.isClosed` tells which.
        public static let queryTimeout = Kind(code: .queryTimeout)
        /// The connection was closed, by `close()`, an earlier timeout, or the server going away.
        public static let connectionClosed = Kind(code: .connectionClosed)
        /// The calling task was cancelled before the work started.
        public static let cancelled = Kind(code: .cancelled)

        /// A short, stable name such as `queryTimeout`.
        public var description: String { code.rawValue }
    }

    /// What went wrong.
    public let kind: Kind
    /// Five-character SQLSTATE (e.g. `22012`, `42P01`, `28P01`), when the server sent one.
    public let sqlState: String?
    /// Human-readable reason, from the server when it gave one, else from libpq. Never contains
    /// the password.
    public let message: String
    /// Host of the endpoint, as configured.
    public let host: String
    /// Port of the endpoint.
    public let port: Int

    /// The host refused the TCP connection (`ECONNREFUSED`): nothing listens on the port, so no
    /// server is running there. A time-out never counts: a hung server or a cut path may still run.
    public var isConnectionRefused: Bool {
        kind == .connectionFailed && message.contains("Connection refused")
    }

    /// `<kind> <host:port>: <message> (SQLSTATE <code>)`.
    public var description: String {
        let endpoint = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let state = sqlState.map { " (SQLSTATE \($0))" } ?? ""
        return "\(kind) \(endpoint): \(message)\(state)"
    }

    init(
        _ kind: Kind,
        _ message: String,
        sqlState: String? = nil,
        configuration: PostgresConfiguration
    ) {
        self.kind = kind
        self.sqlState = sqlState
        self.message = Self.scrub(message, secret: configuration.password)
        self.host = configuration.host
        self.port = configuration.port
    }

    static func connectTimeout(_ timeout: Duration, _ configuration: PostgresConfiguration) -> Self {
        Self(
            .connectTimeout,
            "no connection within \(timeout.postgresMilliseconds) ms; is the server running and reachable?",
            configuration: configuration
        )
    }

    static func queryTimeout(
        _ timeout: Duration,
        _ configuration: PostgresConfiguration,
        sent: Bool = true
    ) -> Self {
        let outcome =
            sent
            ? "no answer within \(timeout.postgresMilliseconds) ms; the connection was abandoned"
            : "not sent: its \(timeout.postgresMilliseconds) ms had passed before a thread could send it (a busy machine, or an earlier query on this connection)"
        return Self(.queryTimeout, outcome, configuration: configuration)
    }

    static func closed(_ configuration: PostgresConfiguration, _ reason: String = "the connection is closed") -> Self {
        Self(.connectionClosed, reason, configuration: configuration)
    }

    /// Replaces every occurrence of `secret` in `text` with `***`.
    static func scrub(_ text: String, secret: String?) -> String {
        let trimmed = text.trimmingTrailingWhitespace()
        guard let secret, !secret.isEmpty else {
            return trimmed
        }
        return trimmed.replacing(secret, with: "***")
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace {
            text.removeLast()
        }
        return String(text)
    }
}
