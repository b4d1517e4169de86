import Alerting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import StateStore
import Synchronization
import Testing
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// The repository root, found from this file's location so tests run from any directory.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A real HTTP/1.1 server on 127.0.0.1 that records every request and answers from a script.
final class TestReceiver: Sendable {
    struct Request: Sendable {
        var path: String
        var headers: [String: String]
        var body: Data
        var at: ContinuousClock.Instant

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        }
    }

    struct Response: Sendable {
        var status: Int
        var headers: [String: String] = [:]
        var body: String = "ok"
    }

    private struct State {
        var requests: [Request] = []
        /// Answers used in order; when empty, `200 ok`.
        var script: [Response] = []
        var connectionsOpened = 0
        var open = 0
        var maxOpen = 0
    }

    private let state = Mutex(State())
    private let group: MultiThreadedEventLoopGroup
    private let channel: any NIOCore.Channel
    let port: Int

    private init(group: MultiThreadedEventLoopGroup, channel: any NIOCore.Channel, port: Int) {
        self.group = group
        self.channel = channel
        self.port = port
    }

    /// Holds a port for a receiver that must be down first and come up later on the same port: a
    /// socket bound to it without listening, so connections are refused and nothing else can take
    /// the port meanwhile. Both sockets use SO_REUSEADDR, so the receiver binds while it is held;
    /// release it once the receiver listens.
    final class PortReservation: Sendable {
        let port: Int
        private let descriptor: Int32
        private let released = Atomic(false)

        init() throws {
            let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            self.descriptor = descriptor
            var reuse: Int32 = 1
            setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
                }
            }
            guard bound else {
                close(descriptor)
                throw POSIXError(.EADDRINUSE)
            }
            port = Int(UInt16(bigEndian: address.sin_port))
        }

        /// Closes the socket, once.
        func release() {
            if !released.exchange(true, ordering: .relaxed) { close(descriptor) }
        }
    }

    /// Listens on `port` (0: any free port).
    static func start(port: Int = 0, script: [Response] = []) async throws -> TestReceiver {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = ReceiverBox()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(box: box))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        let receiver = TestReceiver(group: group, channel: channel, port: channel.localAddress?.port ?? port)
        receiver.state.withLock { $0.script = script }
        box.receiver.withLock { $0 = receiver }
        return receiver
    }

    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    func url(_ path: String) -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    var requests: [Request] { state.withLock { $0.requests } }
    var connectionsOpened: Int { state.withLock { $0.connectionsOpened } }
    var maxOpenConnections: Int { state.withLock { $0.maxOpen } }

    func script(_ responses: [Response]) {
        state.withLock { $0.script = responses }
    }

    /// Waits (at most `timeout`) until `count` requests arrived; returns them.
    func waitForRequests(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [Request] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = requests
            if current.count >= count { return current }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("expected \(count) requests within \(timeout), got \(requests.count)")
        return requests
    }

    fileprivate func record(_ request: Request) -> Response {
        state.withLock { state in
            state.requests.append(request)
            return state.script.isEmpty ? Response(status: 200) : state.script.removeFirst()
        }
    }

    fileprivate func connection(opened: Bool) {
        state.withLock { state in
            if opened {
                state.connectionsOpened += 1
                state.open += 1
                state.maxOpen = max(state.maxOpen, state.open)
            } else {
                state.open -= 1
            }
        }
    }
}

private final class ReceiverBox: Sendable {
    let receiver = Mutex<TestReceiver?>(nil)
}

private final class RecordingHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let box: ReceiverBox
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    /// Whether this connection was counted as open: a client may connect between the bind and the
    /// moment the receiver is in the box (a retrying sender does); it is counted at its first read.
    private var counted = false

    init(box: ReceiverBox) {
        self.box = box
    }

    func channelActive(context: ChannelHandlerContext) {
        countOpen()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if counted { box.receiver.withLock { $0?.connection(opened: false) } }
        context.fireChannelInactive()
    }

    private func countOpen() {
        guard !counted else { return }
        counted = box.receiver.withLock { receiver in
            receiver?.connection(opened: true)
            return receiver != nil
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        countOpen()
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            var headers: [String: String] = [:]
            for (name, value) in head.headers {
                headers[name.lowercased()] = value
            }
            let request = TestReceiver.Request(
                path: head.uri, headers: headers, body: Data(body.readableBytesView), at: .now)
            let response =
                box.receiver.withLock { $0?.record(request) } ?? TestReceiver.Response(status: 500)
            var responseHeaders = HTTPHeaders()
            responseHeaders.add(name: "Content-Length", value: String(response.body.utf8.count))
            responseHeaders.add(name: "Content-Type", value: "text/plain")
            for (name, value) in response.headers {
                responseHeaders.add(name: name, value: value)
            }
            let responseHead = HTTPResponseHead(
                version: head.version, status: HTTPResponseStatus(statusCode: response.status),
                headers: responseHeaders)
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            self.head = nil
        }
    }
}

/// Keeps every log line (message and metadata) so tests can search them for secrets.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    func logger(level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "alerting-test") { _ in CapturingHandler(capture: self) }
        logger.logLevel = level
        return logger
    }
}

private struct CapturingHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let facts = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append("\(event.level) \(event.message) \(facts)")
    }
}

/// A fresh store file in a temporary directory.
func temporaryStorePath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("alerting-\(UUID().uuidString)/state.sqlite")
        .path
}

/// A control event with sensible defaults.
func event(
    _ kind: ControlEvent.Kind, _ severity: ControlEvent.Severity = .critical, cluster: String = "orders",
    region: String? = "us-east", endpoint: String? = "use1-a", summary: String? = nil,
    facts: [String: String] = [:], at: Date = Date(), dedupKey: String? = nil
) -> ControlEvent {
    ControlEvent(
        kind: kind, severity: severity, cluster: cluster, region: region, endpoint: endpoint,
        summary: summary ?? "\(kind.rawValue) on \(endpoint ?? cluster)", facts: facts, at: at,
        dedupKey: dedupKey ?? "\(cluster)/\(kind.rawValue)/\(endpoint ?? "-")")
}

/// Runs `pipeline` in a task; `stop` cancels it and waits (bounded) for it to finish.
struct RunningPipeline {
    let pipeline: AlertPipeline
    let task: Task<Void, any Error>

    init(_ pipeline: AlertPipeline) {
        self.pipeline = pipeline
        task = Task { try await pipeline.run() }
    }

    func stop() async throws {
        task.cancel()
        let finished = Mutex(false)
        let waiter = Task {
            _ = await task.result
            finished.withLock { $0 = true }
        }
        let deadline = ContinuousClock.now + .seconds(15)
        while !finished.withLock({ $0 }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(finished.withLock { $0 }, "the pipeline did not stop within 15 s")
        _ = waiter
    }
}

/// Waits (at most `timeout`) until `condition` holds.
func eventually(
    timeout: Duration = .seconds(10), _ what: String, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    Issue.record("timed out after \(timeout) waiting until \(what)")
}
