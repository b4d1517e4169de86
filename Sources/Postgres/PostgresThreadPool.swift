import NIOPosix

/// Which work a libpq call belongs to; each kind has threads of its own.
///
/// The health monitor's probes and watch connections can fill their threads (one per endpoint,
/// each held until its deadline when servers hang, more when the machine is busy). The failover
/// flow's own questions (confirming a failure with the standbys, fencing, catching up, promoting)
/// must never queue behind them, so they run on a separate set of threads.
public enum PostgresWorkload: Sendable, Hashable {
    /// Regular probes and watch connections of the health monitor.
    case monitoring
    /// The failover flow: confirmation probes and every statement it sends.
    case failover
    /// Threads of one owner's own, shared with no one else in the process: e.g. a monitor that
    /// must not compete with the others of a process that runs several.
    case dedicated(DedicatedThreads)
}

/// A pool of threads for ``PostgresWorkload/dedicated(_:)``, started at creation and shut down when
/// the last reference goes.
public final class DedicatedThreads: Sendable, Hashable {
    let pool: NIOThreadPool

    public init(count: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, count))
        pool.start()
    }

    deinit {
        pool.shutdownGracefully { _ in }
    }

    /// Runs `body` on one of these threads (a test fills them on purpose this way).
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await pool.runIfActive(body)
    }

    public static func == (lhs: DedicatedThreads, rhs: DedicatedThreads) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}

/// The threads on which every blocking libpq call of this module runs.
///
/// libpq calls block (name resolution, TLS, `poll(2)` on the socket while waiting for an answer).
/// Swift's cooperative pool has only as many threads as cores, so one hung server would stall
/// the whole program there. `NIOThreadPool.singleton` is sized by core count too: a handful of
/// endpoints hanging until their deadlines would delay every other probe. Each
/// ``PostgresWorkload`` has its own pool, started on first use and kept for the life of the
/// process. Each connect or query occupies one thread at most until its deadline.
public enum PostgresThreadPool {
    /// Threads for ``PostgresWorkload/monitoring``: `32`. Enough for every endpoint of a large
    /// topology to be connecting or querying at once, with each hung endpoint holding one thread
    /// until its deadline.
    public static let numberOfThreads = 32
    /// Threads for ``PostgresWorkload/failover``: `16`. The flow talks to every endpoint at most
    /// once at a time (re-pointing and confirmation run in parallel), and only one operation runs.
    public static let numberOfFailoverThreads = 16

    /// The monitoring pool, started once on first use; never shut down.
    static let shared: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: numberOfThreads)
        pool.start()
        return pool
    }()

    /// The failover pool, started once on first use; never shut down.
    static let failover: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: numberOfFailoverThreads)
        pool.start()
        return pool
    }()

    static func pool(for workload: PostgresWorkload) -> NIOThreadPool {
        switch workload {
        case .monitoring: shared
        case .failover: failover
        case .dedicated(let threads): threads.pool
        }
    }
}
