import CLibPQ
import Synchronization

/// The one owner of a `PGconn*`: it alone calls `PQfinish`, exactly once, whether the connection
/// is closed by its user, abandoned after a failure, or dropped.
///
/// Why this class is `Sendable`: the pointer (an `OpaquePointer`, not `Sendable`) lives in a
/// `Mutex` and is reached only through ``withLocked(_:)`` while holding it, so libpq sees one
/// call at a time on this connection, from whichever pool thread holds the lock.
final class LibpqConnection: Sendable {
    /// The pointer as the lock holder sees it; `@unchecked Sendable` only to move it into the
    /// `Mutex` at creation.
    struct Locked: @unchecked Sendable {
        /// The live connection; nil once finished.
        fileprivate(set) var connection: OpaquePointer?

        /// Finishes the connection now (the lock is held, so no other call is using it).
        mutating func finish() {
            if let connection {
                PQfinish(connection)
                self.connection = nil
            }
        }
    }

    private let locked: Mutex<Locked>
    private let closed = Atomic<Bool>(false)

    init(_ connection: OpaquePointer) {
        locked = Mutex(Locked(connection: connection))
    }

    deinit {
        locked.withLock { $0.finish() }
    }

    /// Whether ``close()`` was called or the connection was finished after a failure.
    var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Runs `body` holding the lock, with the connection (nil once finished). A body that calls
    /// ``Locked/finish()`` leaves the connection closed for every later caller.
    func withLocked<Value: Sendable, Failure: Error>(
        _ body: (inout Locked) throws(Failure) -> Value
    ) throws(Failure) -> Value {
        try locked.withLock { (state: inout Locked) throws(Failure) -> Value in
            defer { if state.connection == nil { closed.store(true, ordering: .releasing) } }
            return try body(&state)
        }
    }

    /// Marks the connection closed and finishes it at once unless a call holds it; that call
    /// sees ``isClosed`` within its next poll slice and finishes it. Idempotent, never blocks.
    func close() {
        closed.store(true, ordering: .releasing)
        _ = locked.withLockIfAvailable { $0.finish() }
    }
}
