import Foundation
public import Logging
public import ServiceLifecycle
public import StateStore
public import Vocabulary

/// Records every event in the state store's event log and the process log, in emission order.
///
/// `emit` only appends to an in-memory queue and returns, so a failover never waits on a disk or
/// a receiver; ``run()`` drains the queue. Other sinks (alert delivery) can be chained behind it.
public final class EventLog: EventSink, Service {
    private let store: StateStore
    private let logger: Logger
    private let next: (any EventSink)?
    private let stream: AsyncStream<ControlEvent>
    private let continuation: AsyncStream<ControlEvent>.Continuation

    public init(store: StateStore, logger: Logger, forwardingTo next: (any EventSink)? = nil) {
        self.store = store
        self.logger = logger
        self.next = next
        (stream, continuation) = AsyncStream.makeStream(of: ControlEvent.self)
    }

    public func emit(_ event: ControlEvent) {
        continuation.yield(event)
        next?.emit(event)
    }

    public func run() async throws {
        let encoder = OperationRecord.encoder()
        await withGracefulShutdownHandler {
            for await event in stream {
                logger.log(
                    level: Self.level(event.severity), "\(event.kind.rawValue): \(event.summary)",
                    metadata: [
                        "event": "\(event.kind.rawValue)", "endpoint": "\(event.endpoint ?? "-")",
                        "region": "\(event.region ?? "-")",
                    ])
                do {
                    try await store.appendEvent(
                        StateStore.LogEntry(
                            at: event.at, kind: event.kind.rawValue, label: event.severity.rawValue,
                            payload: try encoder.encode(event)))
                } catch {
                    logger.error("event log write failed", metadata: ["error": "\(error)"])
                }
            }
        } onGracefulShutdown: { [continuation] in
            // Whatever is queued is still written: the stream ends after its buffered events.
            continuation.finish()
        }
    }

    private static func level(_ severity: ControlEvent.Severity) -> Logger.Level {
        switch severity {
        case .low: .info
        case .medium: .notice
        case .high: .warning
        case .critical: .critical
        }
    }
}
