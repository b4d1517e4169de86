/// Where and how to reach one PostgreSQL endpoint.
///
/// The password is only handed to libpq as a keyword/value pair (`PQconnectStartParams`), never
/// assembled into a connection string, so it cannot surface in a libpq error message; `description`
/// prints it as `***`.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// Host name or IP address (a path starting with `/` is a Unix-socket directory).
    ///
    /// Prefer a numeric address: libpq resolves names synchronously, outside the connect deadline.
    public var host: String
    /// TCP port. Defaults to `5432`.
    public var port: Int
    /// Role to log in as. Defaults to `"postgres"`.
    public var user: String
    /// Database to connect to. Defaults to `"postgres"`.
    public var database: String
    /// Password, or `nil` to send none (trust, peer, or a `.pgpass` file). Never printed.
    public var password: String?
    /// libpq `sslmode` (`disable`, `allow`, `prefer`, `require`, `verify-ca`, `verify-full`).
    /// Defaults to `"prefer"`.
    public var sslMode: String
    /// `application_name` reported in `pg_stat_activity`, so operators can tell the control plane's
    /// sessions from clients'. Defaults to `"failoverd"`.
    public var applicationName: String
    /// Deadline for establishing a connection (TCP, TLS, authentication) when `connect` is not given
    /// one. Enforced by polling the socket, so sub-second values work. Defaults to 2 seconds.
    public var connectTimeout: Duration
    /// More servers to try, in order, after `host:port` (libpq's multi-host connection). Empty by
    /// default. With several hosts libpq moves to the next one when a host refuses, does not suit
    /// ``targetSessionAttributes``, or does not answer within ``perHostConnectTimeoutSeconds``.
    public var alternateHosts: [(host: String, port: Int)] = []
    /// libpq `target_session_attrs` (e.g. `read-write`: skip standbys and read-only servers);
    /// nil leaves libpq's default (`any`).
    public var targetSessionAttributes: String?
    /// libpq `connect_timeout` for each host attempt, whole seconds; nil: none (the overall
    /// ``connectTimeout`` still applies). Needed with several hosts, or a hung first host would
    /// use up the whole deadline.
    public var perHostConnectTimeoutSeconds: Int?

    /// Creates a configuration; see each property for its default and meaning.
    public init(
        host: String,
        port: Int = 5432,
        user: String = "postgres",
        database: String = "postgres",
        password: String? = nil,
        sslMode: String = "prefer",
        applicationName: String = "failoverd",
        connectTimeout: Duration = .seconds(2)
    ) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.password = password
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
    }

    /// `host:port`, the name used for this endpoint in errors and logs.
    public var endpoint: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Every setting, with the password shown as `***` (or `none`).
    public var description: String {
        let secret = password == nil ? "none" : "***"
        return "host=\(host) port=\(port) user=\(user) dbname=\(database) password=\(secret) "
            + "sslmode=\(sslMode) application_name=\(applicationName) "
            + "connect_timeout=\(connectTimeout.postgresMilliseconds)ms"
    }

    /// libpq keyword/value pairs for `PQconnectStartParams`.
    ///
    /// libpq's own `connect_timeout` is whole seconds; deadlines are enforced by polling instead.
    var libpqParameters: [(String, String)] {
        let hosts = [(host: host, port: port)] + alternateHosts
        var pairs: [(String, String)] = [
            ("host", hosts.map(\.host).joined(separator: ",")),
            ("port", hosts.map { String($0.port) }.joined(separator: ",")),
            ("user", user),
            ("dbname", database),
            ("sslmode", sslMode),
            ("application_name", applicationName),
            ("client_encoding", "UTF8"),
        ]
        if let targetSessionAttributes {
            pairs.append(("target_session_attrs", targetSessionAttributes))
        }
        if let perHostConnectTimeoutSeconds {
            pairs.append(("connect_timeout", String(perHostConnectTimeoutSeconds)))
        }
        if let password {
            pairs.append(("password", password))
        }
        return pairs
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, never negative; the unit `poll(2)` and messages use.
    var postgresMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) {
            return 0
        }
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let (whole, rest) = attoseconds.quotientAndRemainder(dividingBy: perMillisecond)
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow {
            return Int64.max
        }
        return product + whole + (rest > 0 ? 1 : 0)
    }

    /// The duration in seconds, as a `Double`.
    var postgresSeconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
