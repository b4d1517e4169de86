import CLibPQ
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One thread that waits on the sockets of every watch connection at once, with one `poll(2)`.
///
/// A watch connection only waits: for its server to close it. Waiting on a pool thread each would
/// take one thread per endpoint, and with a few dozen endpoints (or several clusters in one
/// process) the watches would fill the monitoring pool and the probes would queue behind them.
/// Here a wait costs a table entry; the thread sleeps in `poll(2)` until a socket has something
/// (end of file, an error, a notice) or the nearest deadline, and a byte on a pipe wakes it when a
/// wait is added or a connection closed.
final class WatchPoller: Sendable {
    static let shared = WatchPoller()

    private struct Waiter: Sendable {
        let socket: Int32
        let connection: LibpqConnection
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Bool, Never>
    }

    private let waiters = Mutex<[UInt64: Waiter]>([:])
    private let nextID = Atomic<UInt64>(0)
    /// A pipe: a byte written to `wakeWriter` wakes the thread from `poll(2)` on `wakeReader`.
    private let wakeReader: Int32
    private let wakeWriter: Int32
    /// Longest sleep: a safety net should a wake-up be missed.
    private static let longestSleep = Duration.milliseconds(250)

    private init() {
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) == 0 {
            for end in ends {
                _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
                _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            }
        } else {
            // Without a pipe the thread still wakes at every deadline and every 250 ms.
            ends = [-1, -1]
        }
        wakeReader = ends[0]
        wakeWriter = ends[1]
        let thread = Thread { [self] in run() }
        thread.name = "postgres-watch-poller"
        thread.start()
    }

    /// Waits until `connection` is closed (by its server, a socket error, or a local close), at
    /// most until `deadline`; false at the deadline or when the task is cancelled.
    func waitUntilClosed(_ connection: LibpqConnection, socket: Int32, until deadline: ContinuousClock.Instant) async
        -> Bool
    {
        let id = nextID.add(1, ordering: .relaxed).newValue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                waiters.withLock {
                    $0[id] = Waiter(
                        socket: socket, connection: connection, deadline: deadline, continuation: continuation)
                }
                // Cancelled before it was registered: the handler found nothing to end.
                if Task.isCancelled { end(id, closed: false) } else { wake() }
            }
        } onCancel: {
            end(id, closed: false)
        }
    }

    /// Wakes the thread, e.g. after a local close, so that waits on that connection end now.
    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWriter, &byte, 1)
    }

    /// Resumes the wait `id` once, whoever gets here first (the thread, a cancellation).
    private func end(_ id: UInt64, closed: Bool) {
        if let waiter = waiters.withLock({ $0.removeValue(forKey: id) }) {
            waiter.continuation.resume(returning: closed)
        }
    }

    private func run() {
        while true {
            let current = waiters.withLock { Array($0) }
            let now = ContinuousClock.now
            var watched: [(id: UInt64, waiter: Waiter)] = []
            var nearest = now + Self.longestSleep
            for (id, waiter) in current {
                if waiter.connection.isClosed {
                    // Closed locally while the lock was busy: finish it here.
                    waiter.connection.withLocked { $0.finish() }
                    end(id, closed: true)
                } else if waiter.deadline <= now {
                    end(id, closed: false)
                } else {
                    watched.append((id, waiter))
                    nearest = min(nearest, waiter.deadline)
                }
            }
            var descriptors = [pollfd(fd: wakeReader, events: Int16(POLLIN), revents: 0)]
            descriptors += watched.map { pollfd(fd: $0.waiter.socket, events: Int16(POLLIN), revents: 0) }
            let (seconds, attoseconds) = max(nearest - now, .zero).components
            let milliseconds = Int32(seconds * 1000 + attoseconds / 1_000_000_000_000_000) + 1
            let ready = poll(&descriptors, nfds_t(descriptors.count), milliseconds)
            guard ready > 0 else { continue }
            if descriptors[0].revents != 0 {
                var drained = [UInt8](repeating: 0, count: 256)
                while read(wakeReader, &drained, drained.count) > 0 {}
            }
            for (index, entry) in watched.enumerated() where descriptors[index + 1].revents != 0 {
                if Self.consume(entry.waiter.connection) { end(entry.id, closed: true) }
            }
        }
    }

    /// Reads what the socket has: end of file or an error closes the connection (true); a notice or
    /// a parameter change is taken in and the wait goes on (false).
    private static func consume(_ connection: LibpqConnection) -> Bool {
        connection.withLocked { locked -> Bool in
            guard let pointer = locked.connection else { return true }
            if PQconsumeInput(pointer) == 0 || PQstatus(pointer) == CONNECTION_BAD {
                locked.finish()
                return true
            }
            while let notification = PQnotifies(pointer) {
                PQfreemem(notification)
            }
            return false
        }
    }
}
