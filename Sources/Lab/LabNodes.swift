import Foundation

/// One server of a lab as asked for: where it listens and whom it streams from.
public struct LabNodeSpec: Sendable, Hashable, Codable {
    public var name: String
    public var region: String
    public var port: Int
    /// The node this one streams WAL from; nil for the primary. A standby of a standby cascades.
    public var upstream: String?
    /// The only address the server listens on (`listen_addresses`). Default `127.0.0.1`.
    public var host: String
    /// The network namespace the server runs in (`ip netns exec`); nil: the caller's own.
    public var namespace: String?

    public init(
        name: String, region: String, port: Int, upstream: String?, host: String = "127.0.0.1",
        namespace: String? = nil
    ) {
        self.name = name
        self.region = region
        self.port = port
        self.upstream = upstream
        self.host = host
        self.namespace = namespace
    }
}

/// How a lab is built.
public struct LabOptions: Sendable {
    /// Password of the `postgres` superuser (scram-sha-256 on 127.0.0.1; replication uses it too).
    public var password: String
    /// Standbys listed in the primary's `synchronous_standby_names` (`ANY n (...)`); empty: asynchronous.
    public var synchronousStandbys: [String]
    /// How many of `synchronousStandbys` must confirm a commit. Default 1.
    public var synchronousCount: Int
    /// Where data directories and logs go; nil: a new temporary directory, removed by `stop()`.
    public var baseDirectory: String?
    /// Directory of initdb, postgres, pg_basebackup, pg_isready and psql.
    /// Default: `$FAILOVER_PG_BIN`, else `/usr/lib/postgresql/15/bin` (Debian's `postgresql-15`).
    public var binDirectory: String
    /// Networks (CIDR, e.g. `10.77.0.0/16`) whose clients and standbys may log in with the password,
    /// besides 127.0.0.1. Default none: a loopback lab needs none.
    public var clientNetworks: [String]

    public init(
        password: String = "failover-lab",
        synchronousStandbys: [String] = [],
        synchronousCount: Int = 1,
        baseDirectory: String? = nil,
        binDirectory: String? = nil,
        clientNetworks: [String] = []
    ) {
        self.password = password
        self.synchronousStandbys = synchronousStandbys
        self.synchronousCount = synchronousCount
        self.baseDirectory = baseDirectory
        self.clientNetworks = clientNetworks
        self.binDirectory =
            binDirectory ?? ProcessInfo.processInfo.environment["FAILOVER_PG_BIN"] ?? "/usr/lib/postgresql/15/bin"
    }
}

/// A running server of the lab.
public struct LabNode: Sendable, Hashable, Codable {
    public var name: String
    public var region: String
    public var host: String
    public var port: Int
    public var upstream: String?
    /// The network namespace it runs in; nil: the lab's own (a loopback lab).
    public var namespace: String?
    /// PID of the postmaster; every stop goes through it.
    public var pid: Int32
    public var dataDirectory: String
    public var logPath: String
}
