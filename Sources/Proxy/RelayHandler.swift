import NIOCore
import Synchronization

/// Byte counters shared by every relay; atomics, so counting costs no lock.
final class RelayCounters: Sendable {
    let clientToServer = Atomic<Int>(0)
    let serverToClient = Atomic<Int>(0)
}

/// One half of a relay: bytes read from its channel are written to its partner's.
///
/// Backpressure: a relay asks its channel for more only while the partner's channel is writable, so
/// at most a read's worth plus the partner's write-buffer high-water mark is ever held for a slow
/// peer. When either side closes (end of stream, reset, error), both are closed. Both channels of a
/// pair live on one event loop, so partners call each other directly.
final class RelayHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    private let counters: RelayCounters
    private let fromClient: Bool

    init(counters: RelayCounters, fromClient: Bool) {
        self.counters = counters
        self.fromClient = fromClient
    }

    /// Pairs two handlers; call on their event loop before either is added.
    static func pair(counters: RelayCounters) -> (client: RelayHandler, server: RelayHandler) {
        let client = RelayHandler(counters: counters, fromClient: true)
        let server = RelayHandler(counters: counters, fromClient: false)
        client.partner = server
        server.partner = client
        return (client, server)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytes
        if fromClient {
            counters.clientToServer.add(bytes, ordering: .relaxed)
        } else {
            counters.serverToClient.add(bytes, ordering: .relaxed)
        }
        partner?.write(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        partner?.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner?.closeFromPartner()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if partner?.isWritable ?? true {
            context.read()
        } else {
            readPending = true
        }
    }

    // MARK: Calls from the partner

    private var isWritable: Bool { context?.channel.isWritable ?? false }

    private func write(_ data: NIOAny) {
        context?.write(data, promise: nil)
    }

    private func flush() {
        context?.flush()
    }

    private func partnerBecameWritable() {
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    private func closeFromPartner() {
        context?.close(promise: nil)
    }
}
