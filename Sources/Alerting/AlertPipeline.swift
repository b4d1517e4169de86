public import Foundation
public import Logging
public import ServiceLifecycle
public import StateStore
import Synchronization
import Topology
public import Vocabulary

/// The alerting pipeline: takes events from the health monitor and the failover service, applies
/// silences, inhibition, routing and grouping, stores each notification in the outbox, then delivers
/// it through libcurl with retries, one ordered queue and one circuit breaker per channel.
///
/// ``emit(_:)`` only appends to a queue and returns: alert delivery never delays a failover.
/// Delivery is at-least-once: a notification is stored before its first attempt, and whatever is
/// still pending when the daemon stops is delivered after the next start.
///
/// A channel whose circuit breaker opens raises a `circuit_open` alert of its own (facts: the
/// channel and its host), resolved when a later attempt succeeds; it is routed like any other
/// alert, so route it to another channel than the one it is about.
public final class AlertPipeline: EventSink, Service {
    private let configuration: AlertConfiguration
    private let cluster: String
    private let store: StateStore
    private let logger: Logger
    private let tick: Duration
    private let now: @Sendable () -> Date
    private let inbox = Mutex<[ControlEvent]>([])
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - tick: How often group timers are checked. Default: 50ms; it bounds how late a grouped,
    ///     non-critical notification can be. Critical alerts do not wait for it.
    ///   - now: Wall clock for alert times, group timers and silences.
    ///   - cluster: The cluster named by the pipeline's own alerts (a channel's `circuit_open`).
    public init(
        configuration: AlertConfiguration, store: StateStore, logger: Logger, tick: Duration = .milliseconds(50),
        now: @escaping @Sendable () -> Date = { Date() }, cluster: String = ""
    ) {
        self.configuration = configuration
        self.cluster = cluster
        self.store = store
        self.logger = logger
        self.tick = tick
        self.now = now
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues the event and returns at once.
    public func emit(_ event: ControlEvent) {
        inbox.withLock { $0.append(event) }
        wake.yield()
    }

    /// Delivers what a previous run left pending, then processes events until cancelled or until a
    /// graceful shutdown. In-flight requests finish and are recorded before it returns.
    public func run() async throws {
        let transport = CurlTransport(threads: configuration.channels.count)
        var queues: [String: ChannelQueue] = [:]
        for channel in configuration.channels {
            queues[channel.name] = ChannelQueue()
        }
        let pending = try await store.pendingAlertDeliveries()
        for delivery in pending {
            if let queue = queues[delivery.channel] {
                queue.push([delivery])
            } else {
                logger.warning(
                    "pending alert for a channel no longer configured",
                    metadata: ["channel": "\(delivery.channel)", "delivery_id": "\(delivery.id)"])
            }
        }
        if !pending.isEmpty {
            logger.info("resuming pending alert deliveries", metadata: ["count": "\(pending.count)"])
        }
        let channelQueues = queues
        await withTaskGroup(of: Void.self) { group in
            for channel in configuration.channels {
                guard let queue = channelQueues[channel.name] else { continue }
                let worker = ChannelWorker(
                    channel: channel, settings: configuration.delivery, queue: queue, transport: transport,
                    store: store, logger: logger, cluster: cluster, now: now, events: { self.emit($0) })
                group.addTask { await worker.run() }
            }
            group.addTask { [tick, wake] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: tick)
                    wake.yield()
                }
            }
            await cancelWhenGracefulShutdown {
                await self.consume(queues: channelQueues)
            }
            group.cancelAll()
        }
        await transport.shutdown()
    }

    private func consume(queues: [String: ChannelQueue]) async {
        var rules = AlertRules(configuration: configuration)
        for await _ in wakes {
            await process(&rules, queues: queues, force: false)
            if Task.isCancelled { break }
        }
        // Stopping: whatever changed but still waits for its group timer goes to the outbox now,
        // so the next start delivers it.
        await process(&rules, queues: queues, force: true)
    }

    private func process(_ rules: inout AlertRules, queues: [String: ChannelQueue], force: Bool) async {
        let events = inbox.withLock { events in
            defer { events.removeAll() }
            return events
        }
        let at = now()
        if !events.isEmpty {
            await refreshSilences(&rules, at: at)
        }
        for event in events {
            for alert in rules.alerts(for: event) {
                let disposition = rules.add(alert, now: at)
                if disposition != .routed(1) {
                    logger.debug(
                        "alert not routed as usual",
                        metadata: [
                            "alert_type": "\(alert.type.rawValue)", "dedup_key": "\(alert.dedupKey)",
                            "disposition": "\(disposition)",
                        ])
                }
            }
        }
        let outgoing = rules.due(now: at, force: force)
        guard !outgoing.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        var deliveries: [StateStore.NewAlertDelivery] = []
        for item in outgoing {
            for name in item.channels {
                guard let channel = configuration.channel(named: name) else { continue }
                var notification = item.notification
                if !channel.sendResolved {
                    notification.alerts.removeAll { $0.status == .resolved }
                    if notification.alerts.isEmpty { continue }
                }
                guard let payload = try? encoder.encode(notification) else { continue }
                deliveries.append(
                    StateStore.NewAlertDelivery(
                        channel: name, idempotencyKey: "alert_" + UUID().uuidString.lowercased(), createdAt: at,
                        summary: notification.title, payload: payload))
            }
        }
        // Not cancelled with the caller: alerts due at shutdown must still reach the outbox.
        let store = self.store
        let batch = deliveries
        let stored = await Task { try await store.enqueueAlertDeliveries(batch) }.result
        switch stored {
        case .success(let rows):
            var byChannel: [String: [StateStore.AlertDelivery]] = [:]
            for row in rows {
                byChannel[row.channel, default: []].append(row)
            }
            for (channel, rows) in byChannel {
                queues[channel]?.push(rows)
            }
        case .failure(let error):
            logger.error(
                "alert outbox write failed; notifications lost",
                metadata: ["count": "\(deliveries.count)", "error": "\(error)"])
        }
    }
}

extension AlertPipeline {
    /// Reads the runtime silences from the store before deciding on new alerts, so one added or
    /// removed through the admin API counts from the next event on. A failed read keeps the last ones.
    fileprivate func refreshSilences(_ rules: inout AlertRules, at: Date) async {
        do {
            rules.runtimeSilences = try await store.silences(notEndedAt: at).compactMap(Silence.init(stored:))
        } catch {
            logger.error("runtime silences could not be read; using the last ones", metadata: ["error": "\(error)"])
        }
    }
}

/// The ordered deliveries of one channel, shared by the pipeline (which appends) and the channel's
/// worker (which takes from the front).
final class ChannelQueue: Sendable {
    private let items = Mutex<[StateStore.AlertDelivery]>([])
    let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init() {
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func push(_ deliveries: [StateStore.AlertDelivery]) {
        items.withLock { $0.append(contentsOf: deliveries) }
        wake.yield()
    }

    var first: StateStore.AlertDelivery? {
        items.withLock { $0.first }
    }

    func removeFirst() {
        items.withLock { _ = $0.removeFirst() }
    }
}

/// Delivers one channel's queue in order: a delivery is retried until it succeeds, fails
/// permanently or is abandoned, and only then does the next one go.
struct ChannelWorker: Sendable {
    let channel: AlertChannel
    let settings: DeliverySettings
    let queue: ChannelQueue
    let transport: CurlTransport
    let store: StateStore
    let logger: Logger
    let cluster: String
    let now: @Sendable () -> Date
    /// Where the worker's own `circuit_open` / `circuit_closed` events go (the pipeline's inbox).
    let events: @Sendable (ControlEvent) -> Void

    func run() async {
        let handle = CurlHandle()
        var breaker = CircuitBreaker(threshold: settings.circuitFailures, openFor: settings.circuitOpenFor)
        let backoff = Backoff(initial: settings.initialBackoff, max: settings.maxBackoff)
        var iterator = queue.wakes.makeAsyncIterator()
        var attemptsOfHead = 0
        var headID: Int64?
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let recorder = AttemptRecorder(store: store, logger: logger)
        // Not a child task: cancelling the worker must not cancel the writes of its last attempts.
        let writing = Task { await recorder.write() }
        while !Task.isCancelled {
            guard let delivery = queue.first else {
                if await iterator.next() == nil { break }
                continue
            }
            if headID != delivery.id {
                headID = delivery.id
                attemptsOfHead = delivery.attempts
            }
            if case .wait(let until) = breaker.request(at: .now) {
                try? await Task.sleep(until: until, clock: .continuous)
                continue
            }
            guard let notification = try? decoder.decode(AlertNotification.self, from: delivery.payload) else {
                record(
                    delivery, status: nil, latency: .zero, outcome: "failed", error: "unreadable outbox row",
                    to: recorder)
                queue.removeFirst()
                continue
            }
            let request = Payloads.render(
                notification, for: channel, idempotencyKey: delivery.idempotencyKey, now: Date())
            let answer = await transport.post(
                on: handle, url: channel.url.reveal(), headers: request.headers, body: request.body,
                connectTimeout: channel.connectTimeout, timeout: channel.timeout)
            attemptsOfHead += 1
            let outcome = AttemptOutcome.classify(status: answer.status, retryAfter: answer.retryAfter, now: Date())
            switch outcome {
            case .delivered:
                record(
                    delivery, status: answer.status, latency: answer.latency, outcome: "delivered", error: nil,
                    to: recorder)
                queue.removeFirst()
                closeCircuit(&breaker)
                logger.debug("alert delivered", metadata: metadata(delivery, answer))
            case .permanent:
                let error = "HTTP \(answer.status ?? 0) from \(channel.host): \(scrub(answer.bodyPrefix))"
                record(
                    delivery, status: answer.status, latency: answer.latency, outcome: "failed", error: error,
                    to: recorder)
                queue.removeFirst()
                // The receiver answered: it is alive, so the circuit closes.
                closeCircuit(&breaker)
                logger.error("alert refused by its receiver", metadata: metadata(delivery, answer))
            case .retry(let retryAfter):
                let error =
                    answer.status.map { "HTTP \($0) from \(channel.host)" }
                    ?? "\(answer.transportError ?? "no answer") (\(channel.host))"
                if Date().timeIntervalSince(delivery.createdAt) >= settings.giveUpAfter.seconds {
                    record(
                        delivery, status: answer.status, latency: answer.latency, outcome: "abandoned", error: error,
                        to: recorder)
                    queue.removeFirst()
                    logger.error("alert abandoned after retrying", metadata: metadata(delivery, answer))
                    continue
                }
                record(
                    delivery, status: answer.status, latency: answer.latency, outcome: "retry", error: error,
                    to: recorder)
                if breaker.record(success: false, at: .now) {
                    logger.warning(
                        "alert channel circuit open",
                        metadata: ["channel": "\(channel.name)", "host": "\(channel.host)"])
                    events(circuitEvent(open: true, error: error))
                }
                let delay = backoff.delay(
                    afterAttempt: attemptsOfHead, retryAfter: retryAfter, random: Double.random(in: 0...1))
                var details = metadata(delivery, answer)
                details["retry_in_ms"] =
                    "\(delay.components.seconds * 1000 + delay.components.attoseconds / 1_000_000_000_000_000)"
                details["error"] = "\(error)"
                logger.warning("alert delivery failed; will retry", metadata: details)
                try? await Task.sleep(for: delay)
            }
        }
        // Every attempt is on disk before the pipeline returns: a clean stop sends nothing twice.
        recorder.finish()
        await writing.value
    }

    /// Records a success; when that closes an open circuit, says so and resolves its alert.
    private func closeCircuit(_ breaker: inout CircuitBreaker) {
        let wasOpen = breaker.isOpen
        breaker.record(success: true, at: .now)
        guard wasOpen else { return }
        logger.notice(
            "alert channel circuit closed", metadata: ["channel": "\(channel.name)", "host": "\(channel.host)"])
        events(circuitEvent(open: false, error: nil))
    }

    /// `circuit_open` (high) or the `circuit_closed` that resolves it. Facts name the channel and its
    /// host, never its URL.
    func circuitEvent(open: Bool, error: String?) -> ControlEvent {
        var facts = [
            "channel": channel.name, "host": channel.host, "failures": "\(settings.circuitFailures)",
            "open_for_seconds": "\(settings.circuitOpenFor.seconds)",
        ]
        if let error { facts["last_error"] = scrub(error) }
        let summary =
            open
            ? "alert channel \(channel.name) (\(channel.host)) failed \(settings.circuitFailures) times in a row; circuit open"
            : "alert channel \(channel.name) (\(channel.host)) delivers again; circuit closed"
        return ControlEvent(
            kind: open ? .circuitOpen : .circuitClosed, severity: open ? .high : .low, cluster: cluster,
            summary: summary, facts: facts, at: now(), dedupKey: "\(cluster)/circuit_open/channel:\(channel.name)")
    }

    private func metadata(_ delivery: StateStore.AlertDelivery, _ answer: HTTPAnswer) -> Logger.Metadata {
        [
            "channel": "\(channel.name)", "host": "\(channel.host)", "delivery_id": "\(delivery.id)",
            "http_status": "\(answer.status.map(String.init) ?? "none")",
            "latency_ms": "\(answer.latency.milliseconds)",
        ]
    }

    /// Hands the attempt to the recorder, which writes it behind the deliveries.
    private func record(
        _ delivery: StateStore.AlertDelivery, status: Int?, latency: Duration, outcome: String, error: String?,
        to recorder: AttemptRecorder
    ) {
        recorder.append(
            StateStore.AlertAttempt(
                deliveryID: delivery.id, at: Date(), httpStatus: status, latencyMilliseconds: latency.milliseconds,
                outcome: outcome, error: error))
    }

    /// Removes anything secret a receiver might echo back.
    func scrub(_ text: String) -> String {
        var result = text
        var secrets = [channel.url.reveal()]
        if let components = URLComponents(string: channel.url.reveal()) {
            // Webhook tokens are path segments or query values; a receiver may echo one alone.
            secrets += components.path.split(separator: "/").map(String.init).filter { $0.count >= 6 }
            secrets += (components.queryItems ?? []).compactMap(\.value).filter { $0.count >= 6 }
        }
        if let key = channel.routingKey?.reveal() { secrets.append(key) }
        if let secret = channel.signingSecret?.reveal() { secrets.append(secret) }
        for secret in secrets where !secret.isEmpty {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return result.replacingOccurrences(of: "\n", with: " ").trimmingCharacters(in: .whitespaces)
    }
}

extension Duration {
    var milliseconds: Double {
        seconds * 1000
    }
}

/// Writes one channel's attempts behind its deliveries, in batches: one transaction at a time, and
/// the attempts that finished meanwhile go into the next. The next request does not wait for the
/// store, which otherwise slows a burst down to one commit per alert.
///
/// Order and durability: the outbox row was committed before the first attempt; its attempts are
/// written in the order they happened. A clean stop waits for ``write()`` to drain, so nothing is
/// sent twice across a restart; after a crash, an alert delivered but not yet recorded is sent
/// again with the same idempotency key (at-least-once, as documented).
final class AttemptRecorder: Sendable {
    private let store: StateStore
    private let logger: Logger
    private let pending = Mutex<[StateStore.AlertAttempt]>([])
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    init(store: StateStore, logger: Logger) {
        self.store = store
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    func append(_ attempt: StateStore.AlertAttempt) {
        pending.withLock { $0.append(attempt) }
        wake.yield()
    }

    /// No more attempts: ``write()`` returns once the last are stored.
    func finish() {
        wake.finish()
    }

    /// Stores attempts as they come until ``finish()``; each pass takes everything waiting.
    func write() async {
        for await _ in wakes {
            await drain()
        }
        await drain()
    }

    private func drain() async {
        while true {
            let batch = pending.withLock { attempts in
                defer { attempts.removeAll() }
                return attempts
            }
            guard !batch.isEmpty else { return }
            do {
                try await store.recordAlertAttempts(batch)
            } catch {
                logger.error(
                    "alert attempts could not be recorded",
                    metadata: [
                        "delivery_id": "\(batch.map(\.deliveryID).map(String.init).joined(separator: ","))",
                        "error": "\(error)",
                    ])
            }
        }
    }
}
