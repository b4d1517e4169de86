import NIOPosix

/// The threads on which every blocking libpq call of this module runs.
///
/// libpq calls block (name resolution, TLS, `poll(2)` on the socket while waiting for an answer).
/// Swift's cooperative pool has only as many threads as cores, so one hung server would stall
/// the whole program there. `NIOThreadPool.singleton` is sized by core count too: a handful of
/// endpoints hanging until their deadlines would delay every other probe. This pool has
/// ``numberOfThreads`` threads, started on first use and kept for the life of the process.
/// Each connect or query occupies one thread at most until its deadline.
public enum PostgresThreadPool {
    /// Threads in the pool: `32`. Enough for every endpoint of a large topology to be connecting
    /// or querying at once, with each hung endpoint holding one thread until its deadline.
    public static let numberOfThreads = 32

    /// The pool, started once on first use; never shut down.
    static let shared: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: numberOfThreads)
        pool.start()
        return pool
    }()
}
