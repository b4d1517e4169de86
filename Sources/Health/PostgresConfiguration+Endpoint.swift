public import Postgres
public import Topology

extension PostgresConfiguration {
    /// How the control plane reaches `endpoint`, with the cluster file's connection settings.
    ///
    /// The one place where a topology's password is revealed: it goes straight into the libpq
    /// parameters, which never print it. `application_name` stays `failoverd`, so operators can
    /// tell the control plane's sessions from clients'.
    ///
    /// - Parameters:
    ///   - endpoint: Host and port.
    ///   - connection: User, database, password, `sslmode` and connect timeout.
    public init(endpoint: Endpoint, connection: ConnectionSettings) {
        self.init(
            host: endpoint.host,
            port: endpoint.port,
            user: connection.user,
            database: connection.database,
            password: connection.password?.reveal(),
            sslMode: connection.sslMode.rawValue,
            connectTimeout: connection.connectTimeout
        )
    }
}
