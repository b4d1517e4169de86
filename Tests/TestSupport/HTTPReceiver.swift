public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A real HTTP/1.1 server on 127.0.0.1 that records every request and answers from a script.
public final class HTTPReceiver: Sendable {
    public struct Request: Sendable {
        public var path: String
        /// Header names in lower case.
        public var headers: [String: String]
        public var body: Data
        public var at: ContinuousClock.Instant

        public var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        }
    }

    public struct Response: Sendable {
        public var status: Int
        public var headers: [String: String]
        public var body: String

        public init(status: Int, headers: [String: String] = [:], body: String = "ok") {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// Called with every request as it completes, on the receiver's event loop: keep it short.
    public typealias Observer = @Sendable (Request) -> Void

    private struct State {
        var requests: [Request] = []
        /// Answers used in order; when empty, `200 ok`.
        var script: [Response] = []
        var connectionsOpened = 0
        var open = 0
        var maxOpen = 0
    }

    private let state = Mutex(State())
    private let keepsRequests: Bool
    private let observer: Observer?
    private let group: MultiThreadedEventLoopGroup
    private let channel: any NIOCore.Channel
    public let port: Int

    private init(
        group: MultiThreadedEventLoopGroup, channel: any NIOCore.Channel, port: Int, keepsRequests: Bool,
        observer: Observer?
    ) {
        self.group = group
        self.channel = channel
        self.port = port
        self.keepsRequests = keepsRequests
        self.observer = observer
    }

    /// Holds a port for a receiver that must be down first and come up later on the same port: a
    /// socket bound to it without listening, so connections are refused and nothing else can take
    /// the port meanwhile. Both sockets use SO_REUSEADDR, so the receiver binds while it is held;
    /// release it once the receiver listens.
    public final class PortReservation: Sendable {
        public let port: Int
        private let descriptor: Int32
        private let released = Atomic(false)

        public init() throws {
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
        public func release() {
            if !released.exchange(true, ordering: .relaxed) { close(descriptor) }
        }
    }

    /// Listens on `port` (0: any free port). A receiver that does not keep requests (a benchmark's
    /// thousands) still counts connections and calls `observer`.
    public static func start(
        port: Int = 0, script: [Response] = [], keepsRequests: Bool = true, observer: Observer? = nil
    ) async throws -> HTTPReceiver {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = ReceiverBox()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(RecordingHandler(box: box))
                }
            }
        let channel = try await bootstrap.bind(host: "127.0.0.1", port: port).get()
        let receiver = HTTPReceiver(
            group: group, channel: channel, port: channel.localAddress?.port ?? port, keepsRequests: keepsRequests,
            observer: observer)
        receiver.state.withLock { $0.script = script }
        box.receiver.withLock { $0 = receiver }
        return receiver
    }

    public func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    public func url(_ path: String) -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    public var requests: [Request] { state.withLock { $0.requests } }
    public var connectionsOpened: Int { state.withLock { $0.connectionsOpened } }
    public var maxOpenConnections: Int { state.withLock { $0.maxOpen } }

    /// Answers for the next requests, in order; when they run out, `200 ok`.
    public func script(_ responses: [Response]) {
        state.withLock { $0.script = responses }
    }

    /// Waits (at most `timeout`) until `count` requests arrived; returns those that did.
    public func requests(atLeast count: Int, within timeout: Duration) async throws -> [Request] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let current = requests
            if current.count >= count { return current }
            try await Task.sleep(for: .milliseconds(10))
        }
        return requests
    }

    fileprivate func record(_ request: Request) -> Response {
        observer?(request)
        return state.withLock { state in
            if keepsRequests { state.requests.append(request) }
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
    let receiver = Mutex<HTTPReceiver?>(nil)
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
            let request = HTTPReceiver.Request(
                path: head.uri, headers: headers, body: Data(body.readableBytesView), at: .now)
            let response =
                box.receiver.withLock { $0?.record(request) } ?? HTTPReceiver.Response(status: 500)
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
