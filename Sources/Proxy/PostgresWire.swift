import NIOCore

/// The few pieces of the PostgreSQL wire protocol the proxy speaks itself: it answers a client it
/// refuses with a real `ErrorResponse`, so the client shows a SQLSTATE and a message, not a reset.
enum PostgresWire {
    /// Request codes of the untyped first packets (protocol documentation, "Message Formats").
    static let sslRequest: Int32 = 80_877_103
    static let gssEncryptionRequest: Int32 = 80_877_104
    static let cancelRequest: Int32 = 80_877_102

    /// `ErrorResponse` with severity FATAL.
    static func errorResponse(sqlState: String, message: String, allocator: ByteBufferAllocator) -> ByteBuffer {
        var fields = allocator.buffer(capacity: 64 + message.utf8.count)
        for (code, value) in [("S", "FATAL"), ("V", "FATAL"), ("C", sqlState), ("M", message)] {
            fields.writeString(code)
            fields.writeString(value)
            fields.writeInteger(UInt8(0))
        }
        fields.writeInteger(UInt8(0))
        var message = allocator.buffer(capacity: fields.readableBytes + 5)
        message.writeString("E")
        message.writeInteger(Int32(fields.readableBytes + 4))
        message.writeBuffer(&fields)
        return message
    }
}

/// Installed on a client connection the proxy refuses: it reads the client's first packet, declines
/// TLS or GSS encryption with `N` (the client then sends its startup packet in clear), and answers
/// the startup packet with the error, then closes. A cancel request is closed silently, as a server
/// does. Bounded: it gives up after ``PostgresWire`` packets of more than 10 kB or 5 seconds.
final class RefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let sqlState: String
    private let message: String
    private var buffered: ByteBuffer?
    private var answered = false
    private var timeout: Scheduled<Void>?

    init(sqlState: String, message: String) {
        self.sqlState = sqlState
        self.message = message
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timeout = context.eventLoop.scheduleTask(in: .seconds(5)) {
            loopBound.value.close(promise: nil)
        }
        context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
        context.read()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if buffered == nil {
            buffered = bytes
        } else {
            buffered!.writeBuffer(&bytes)
        }
        process(context: context)
    }

    private func process(context: ChannelHandlerContext) {
        while !answered, var packet = buffered, packet.readableBytes >= 8 {
            guard let length = packet.readInteger(as: Int32.self), let code = packet.readInteger(as: Int32.self),
                length >= 8, length <= 10_240
            else {
                answered = true
                context.close(promise: nil)
                return
            }
            guard buffered!.readableBytes >= Int(length) else {
                return
            }
            buffered!.moveReaderIndex(forwardBy: Int(length))
            switch code {
            case PostgresWire.sslRequest, PostgresWire.gssEncryptionRequest:
                var no = context.channel.allocator.buffer(capacity: 1)
                no.writeString("N")
                context.writeAndFlush(wrapOutboundOut(no), promise: nil)
            case PostgresWire.cancelRequest:
                answered = true
                context.close(promise: nil)
            default:
                answered = true
                let error = PostgresWire.errorResponse(
                    sqlState: sqlState, message: message, allocator: context.channel.allocator)
                let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(wrapOutboundOut(error)).whenComplete { _ in
                    loopBound.value.close(promise: nil)
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
