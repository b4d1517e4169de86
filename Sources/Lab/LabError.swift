/// Why the lab could not start, stop or inspect a server. Each message says what to do.
public struct LabError: Error, Sendable, CustomStringConvertible {
    public let description: String

    static func missingBinary(_ path: String) -> LabError {
        LabError(
            description:
                "PostgreSQL 15 server binary \(path) not found; install it with `apt-get install postgresql-15` "
                + "(or set FAILOVER_PG_BIN to the directory holding initdb, postgres and pg_basebackup)")
    }

    static var missingServerUser: LabError {
        LabError(
            description:
                "running as root, but there is no `postgres` account to run the servers as; "
                + "install postgresql-15 (it creates the account) or run as an ordinary user")
    }

    static func command(_ name: String, _ problem: String) -> LabError {
        LabError(description: "\(name): \(problem)")
    }

    static func spec(_ problem: String) -> LabError {
        LabError(description: "lab layout: \(problem)")
    }

    static func timeout(_ what: String, _ detail: String) -> LabError {
        LabError(description: "timed out waiting for \(what): \(detail)")
    }
}
