import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP relay on 127.0.0.1 to a target port, for cutting one network path in a test:
/// ``cut()`` closes every relayed connection and refuses new ones; ``silence()`` keeps every
/// connection open and forwards nothing (a dropped network path: TCP sees silence, not a reset)
/// until ``restore()``; ``delay(_:)`` holds every chunk that long before passing it on (a slow
/// path: each round trip costs twice the delay).
final class TCPRelay: Sendable {
    let port: Int
    private let target: Int
    private let listener: Int32
    private let sockets = Mutex<Set<Int32>>([])
    private let isCut = Atomic<Bool>(false)
    private let isSilent = Atomic<Bool>(false)
    private let delayMicroseconds = Atomic<Int>(0)

    /// From now on each chunk waits `duration` before it is passed on, both ways (zero: no delay).
    func delay(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        delayMicroseconds.store(Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000), ordering: .relaxed)
    }

    /// From now on nothing passes either way, and new connections are accepted but never answered.
    func silence() { isSilent.store(true, ordering: .relaxed) }

    /// Bytes pass again; connections accepted while silent stay dead (their peers time out).
    func restore() { isSilent.store(false, ordering: .relaxed) }

    init(to target: Int) throws {
        self.target = target
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var reuse: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard bound, listen(listener, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Closes the listener and every relayed connection: the path is gone.
    func cut() {
        guard !isCut.exchange(true, ordering: .relaxed) else { return }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for fd in sockets.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    func stop() { cut() }

    private func acceptLoop() {
        while !isCut.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            guard client >= 0 else { return }
            if isSilent.load(ordering: .relaxed) {
                // Held open and never read: the peer's start-up waits until its own deadline.
                sockets.withLock { _ = $0.insert(client) }
                continue
            }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: target)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            guard connected, !isCut.load(ordering: .relaxed) else {
                close(client)
                close(upstream)
                continue
            }
            sockets.withLock { $0.formUnion([client, upstream]) }
            Thread.detachNewThread { [self] in pump(from: client, to: upstream) }
            Thread.detachNewThread { [self] in pump(from: upstream, to: client) }
        }
    }

    /// Copies bytes one way until either side closes, then closes both.
    private func pump(from source: Int32, to destination: Int32) {
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            // A silenced path swallows what it reads: neither side hears from the other.
            if isSilent.load(ordering: .relaxed) { continue }
            let delay = delayMicroseconds.load(ordering: .relaxed)
            if delay > 0 { usleep(useconds_t(delay)) }
            let written = buffer.withUnsafeBytes { write(destination, $0.baseAddress, count) }
            guard written == count else { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
        let closeBoth = sockets.withLock { open -> Bool in
            // The second pump to finish closes the descriptors.
            if open.contains(source) {
                open.remove(source)
                open.remove(destination)
                return false
            }
            return true
        }
        if closeBoth {
            close(source)
            close(destination)
        }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
