import CCurlShim
public import Foundation
public import Logging
import NIOPosix
public import ServiceLifecycle
import Synchronization
public import Vocabulary

/// Follows the daemon's routing table for a proxy that runs as its own process: reads
/// `GET /api/routing/watch` (newline-delimited JSON) through libcurl and hands every table to
/// ``tables``, which feeds ``ProxyService``.
///
/// When the daemon is unreachable, stops answering (no line for ``Options/silenceLimit``) or the
/// stream ends, the follower reconnects with backoff and says, in its log and ``status()``, that
/// the proxy is following a stale table. It never makes up a table: the proxy keeps routing with
/// the last one it received, and only the daemon picks a primary. Tables with an older epoch are
/// ignored by the proxy.
///
/// The bearer token goes only into the request's header: never into a log line, an error or the status.
public final class RoutingFollower: Service, Sendable {
    public struct Options: Sendable {
        /// Heartbeat the daemon is asked for (`?heartbeat=`), whole seconds.
        public var heartbeat: Duration = .seconds(2)
        /// No byte for this long and the daemon counts as gone (the connection is dropped).
        public var silenceLimit: Duration = .seconds(7)
        public var connectTimeout: Duration = .seconds(3)
        /// First pause before reconnecting; doubled after each failed attempt, up to `maximumBackoff`.
        public var initialBackoff: Duration = .milliseconds(250)
        public var maximumBackoff: Duration = .seconds(5)
        /// PEM file of the CA that signed the daemon's certificate (HTTPS); nil: the system's.
        public var caFile: String?

        public init() {}
    }

    /// Where the proxy's table comes from and whether it is current.
    public struct Status: Sendable, Codable, Equatable {
        /// The control URL (without any user information).
        public var control: String
        /// True while the watch stream is open and heard from.
        public var connected: Bool
        /// True when the daemon is not being heard: the proxy routes with the last table it got.
        public var stale: Bool
        /// The newest table received, if any.
        public var epoch: UInt64?
        public var writeTarget: String?
        public var lastTableAt: Date?
        /// The last line (table or heartbeat) from the daemon.
        public var lastHeardAt: Date?
        /// Since when the daemon has not been heard (nil while connected).
        public var staleSince: Date?
        /// Connections opened to the watch route, the first included.
        public var connects: Int
        /// Why the last connection ended or failed; never holds a secret.
        public var lastError: String?
    }

    private let url: String
    private let displayURL: String
    private let token: String?
    private let options: Options
    private let logger: Logger
    private let continuation: AsyncStream<RoutingTable>.Continuation
    private let state: Mutex<Status>
    /// Set to stop the running transfer (checked by libcurl's progress callback).
    private let abort = Atomic<Bool>(false)

    /// Routing tables as they arrive, for ``ProxyService``'s `routingUpdates`; finishes when ``run()`` ends.
    public let tables: AsyncStream<RoutingTable>

    /// - Parameters:
    ///   - control: The daemon's admin API base URL, e.g. `http://127.0.0.1:8008`.
    ///   - token: A viewer (or operator) bearer token; nil when the API needs none.
    public init(control: String, token: String?, options: Options = Options(), logger: Logger) {
        var base = control
        while base.hasSuffix("/") { base.removeLast() }
        let seconds = max(1, min(60, options.heartbeat.components.seconds))
        self.url = base + "/api/routing/watch?heartbeat=\(seconds)"
        self.displayURL = Self.withoutUserInformation(base)
        self.token = token
        self.options = options
        self.logger = logger
        (tables, continuation) = AsyncStream.makeStream(of: RoutingTable.self, bufferingPolicy: .bufferingNewest(8))
        state = Mutex(
            Status(
                control: displayURL, connected: false, stale: true, epoch: nil, writeTarget: nil, lastTableAt: nil,
                lastHeardAt: nil, staleSince: nil, connects: 0, lastError: nil))
    }

    public func status() -> Status { state.withLock { $0 } }

    public func run() async throws {
        _ = Self.globalInit
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        defer { continuation.finish() }
        var backoff = options.initialBackoff
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                while !Task.isCancelled && !self.abort.load(ordering: .relaxed) {
                    let heard = await self.watchOnce(on: pool)
                    if Task.isCancelled || self.abort.load(ordering: .relaxed) { break }
                    backoff = heard ? self.options.initialBackoff : min(backoff * 2, self.options.maximumBackoff)
                    try? await Task.sleep(for: backoff)
                }
            } onCancel: {
                self.abort.store(true, ordering: .relaxed)
            }
        } onGracefulShutdown: {
            self.abort.store(true, ordering: .relaxed)
        }
        try? await pool.shutdownGracefully()
    }

    /// One watch connection, from connect to its end; true if the daemon said anything.
    private func watchOnce(on pool: NIOThreadPool) async -> Bool {
        state.withLock { $0.connects += 1 }
        let sink = LineSink { [weak self] line in self?.received(line) }
        let outcome: String?
        do {
            outcome = try await pool.runIfActive { [self] in self.perform(sink) }
        } catch {
            outcome = "the watch thread is shut down"
        }
        let heard = sink.heardAnything
        if abort.load(ordering: .relaxed) { return heard }
        disconnected(reason: outcome ?? "the control plane closed the stream")
        return heard
    }

    /// Blocks on libcurl until the stream ends; returns why it ended (nil: closed by the daemon).
    private func perform(_ sink: LineSink) -> String? {
        guard let handle = curl_easy_init() else { return "libcurl could not create a handle" }
        defer { curl_easy_cleanup(handle) }
        var list: UnsafeMutablePointer<curl_slist>?
        if let token { list = curl_slist_append(list, "Authorization: Bearer \(token)") }
        list = curl_slist_append(list, "Accept: application/x-ndjson")
        defer { curl_slist_free_all(list) }

        var code = ccurl_easy_setopt_string(handle, CURLOPT_URL, url)
        let longs: [(CURLoption, Int)] = [
            (CURLOPT_NOSIGNAL, 1), (CURLOPT_HTTPGET, 1), (CURLOPT_FAILONERROR, 1), (CURLOPT_SSL_VERIFYPEER, 1),
            (CURLOPT_SSL_VERIFYHOST, 2), (CURLOPT_FOLLOWLOCATION, 0), (CURLOPT_TCP_NODELAY, 1),
            (CURLOPT_TCP_KEEPALIVE, 1), (CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(options.connectTimeout)),
            // Fewer than 1 byte a second for the silence limit: the daemon is gone.
            (CURLOPT_LOW_SPEED_LIMIT, 1),
            (CURLOPT_LOW_SPEED_TIME, max(1, Int(options.silenceLimit.components.seconds))),
            (CURLOPT_NOPROGRESS, 0),
        ]
        for (option, value) in longs where code == CURLE_OK {
            code = ccurl_easy_setopt_long(handle, option, value)
        }
        if code == CURLE_OK { code = ccurl_easy_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https") }
        if code == CURLE_OK, let caFile = options.caFile {
            code = ccurl_easy_setopt_string(handle, CURLOPT_CAINFO, caFile)
        }
        if code == CURLE_OK { code = ccurl_easy_setopt_slist(handle, CURLOPT_HTTPHEADER, list) }
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let write: ccurl_write_callback = { data, size, count, context in
            let total = size * count
            guard let data, let context else { return total }
            let sink = Unmanaged<LineSink>.fromOpaque(context).takeUnretainedValue()
            sink.append(UnsafeRawBufferPointer(start: data, count: total))
            return total
        }
        let progress: ccurl_xferinfo_callback = { context, _, _, _, _ in
            guard let context else { return 0 }
            return Unmanaged<LineSink>.fromOpaque(context).takeUnretainedValue().shouldAbort() ? 1 : 0
        }
        sink.abort = { [weak self] in self?.abort.load(ordering: .relaxed) ?? true }
        if code == CURLE_OK { code = ccurl_easy_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, write) }
        if code == CURLE_OK { code = ccurl_easy_setopt_pointer(handle, CURLOPT_WRITEDATA, context) }
        if code == CURLE_OK { code = ccurl_easy_setopt_xferinfo_callback(handle, progress) }
        if code == CURLE_OK { code = ccurl_easy_setopt_pointer(handle, CURLOPT_XFERINFODATA, context) }
        if code == CURLE_OK { code = curl_easy_perform(handle) }
        switch code {
        case CURLE_OK:
            return nil
        case CURLE_HTTP_RETURNED_ERROR:
            var status = 0
            _ = ccurl_easy_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            return status == 401 || status == 403
                ? "the control plane answered HTTP \(status): check the token (a viewer token is enough)"
                : "the control plane answered HTTP \(status)"
        case CURLE_OPERATION_TIMEDOUT:
            return "timed out: no connection, or nothing heard from the control plane for \(options.silenceLimit)"
        default:
            // libcurl's own description: it never holds the URL or a header.
            return String(cString: curl_easy_strerror(code))
        }
    }

    private func received(_ line: Data) {
        guard !line.isEmpty else { return }
        let now = Date()
        let table = try? JSONDecoder().decode(RoutingTable.self, from: line)
        let (wasStale, since) = state.withLock { status -> (Bool, Date?) in
            let wasStale = status.stale
            let since = status.staleSince
            status.connected = true
            status.stale = false
            status.staleSince = nil
            status.lastHeardAt = now
            if let table, table.epoch >= (status.epoch ?? 0) {
                status.epoch = table.epoch
                status.writeTarget = table.writeTarget
                status.lastTableAt = now
            }
            return (wasStale, since)
        }
        if wasStale {
            var metadata: Logger.Metadata = ["control": "\(displayURL)"]
            if let since {
                metadata["stale_for"] = "\(String(format: "%.1f", now.timeIntervalSince(since)))s"
            }
            logger.notice("following the control plane's routing table", metadata: metadata)
        }
        if let table {
            continuation.yield(table)
        } else if (try? JSONDecoder().decode(Heartbeat.self, from: line)) == nil {
            logger.warning("unreadable line on the routing watch stream", metadata: ["bytes": "\(line.count)"])
        }
    }

    private func disconnected(reason: String) {
        let now = Date()
        let (first, status) = state.withLock { status -> (Bool, Status) in
            let first = !status.stale || status.lastError != reason
            if !status.stale { status.staleSince = now }
            status.connected = false
            status.stale = true
            status.lastError = reason
            return (first, status)
        }
        let metadata: Logger.Metadata = [
            "control": "\(displayURL)", "reason": "\(reason)",
            "epoch": "\(status.epoch.map(String.init) ?? "none")", "write_target": "\(status.writeTarget ?? "none")",
        ]
        if first {
            logger.warning(
                "control plane unreachable; routing with the last table (stale) and reconnecting", metadata: metadata)
        } else {
            logger.debug("control plane still unreachable", metadata: metadata)
        }
    }

    private struct Heartbeat: Decodable {
        var heartbeat: String
    }

    private static let globalInit: Bool = curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// `https://user:secret@host` → `https://host`: what may be logged of a URL.
    public static func withoutUserInformation(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<scheme.upperBound]) + String(rest[rest.index(after: at)...])
    }
}

/// Splits the bytes libcurl delivers into lines. Used by one libcurl transfer on one thread at a
/// time; `heardAnything` is read after the transfer has ended.
private final class LineSink: @unchecked Sendable {
    private var buffer = Data()
    private let onLine: (Data) -> Void
    var abort: () -> Bool = { false }
    private(set) var heardAnything = false
    /// Longest line accepted; a longer one is dropped.
    static let maximumLine = 64 * 1024

    init(onLine: @escaping (Data) -> Void) {
        self.onLine = onLine
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        heardAnything = true
        buffer.append(contentsOf: bytes)
        while let newline = buffer.firstIndex(of: 0x0A) {
            let line = buffer[buffer.startIndex..<newline]
            onLine(Data(line))
            buffer.removeSubrange(buffer.startIndex...newline)
        }
        if buffer.count > Self.maximumLine { buffer.removeAll() }
    }

    func shouldAbort() -> Bool { abort() }
}
