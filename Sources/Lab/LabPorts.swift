import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#endif

/// Ports on 127.0.0.1 for loopback labs and tests.
extension LabCluster {
    /// Free TCP ports on 127.0.0.1, chosen below the kernel's range for outgoing connections.
    public static func freePorts(_ count: Int) throws(LabError) -> [Int] {
        // Not port 0: a port from the ephemeral range (what binding port 0 hands out) can be taken
        // as the source port of any client connection between now and the moment the server binds
        // it, and the lab then fails to start.
        let low = ephemeralRangeStart()
        let candidates = Array(Self.freePortFloor..<max(Self.freePortFloor + count, low))
        var ports: [Int] = []
        for _ in 0..<(candidates.count * 2) where ports.count < count {
            guard let port = candidates.randomElement() else { break }
            let claimed = handedOut.withLock { taken in
                taken.contains(port) || (25431...25435).contains(port) ? false : taken.insert(port).inserted
            }
            guard claimed else { continue }
            if portIsFree(port) { ports.append(port) }
        }
        guard ports.count == count else {
            throw .command(
                "free ports", "found only \(ports.count) of \(count) free ports in \(candidates.first ?? 0)..<\(low)")
        }
        return ports
    }

    /// The lowest port `freePorts` hands out.
    static let freePortFloor = 20000
    /// Ports handed out by this process: never twice, so tests running side by side never collide.
    private static let handedOut = Mutex<Set<Int>>([])

    /// The first port of `net.ipv4.ip_local_port_range` (32768 when it cannot be read).
    static func ephemeralRangeStart() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
    }

    /// True when nothing listens on 127.0.0.1:`port` (a bind succeeds).
    public static func portIsFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // As a server binds (PostgreSQL does the same): connections of a stopped server lingering
        // in TIME_WAIT do not make the port busy, a listener does.
        var reuse: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
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
