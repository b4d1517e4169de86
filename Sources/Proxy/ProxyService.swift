import Foundation
public import Health
public import Logging
public import NIOCore
import NIOPosix
import Routing
public import ServiceLifecycle
import Synchronization
public import Topology
public import Vocabulary

/// The read/write TCP proxy: a read-write listener whose connections go to the primary and a
/// read-only listener whose connections go to a replica, both chosen per new connection by a
/// ``ConnectionRouter`` from the latest health snapshot and routing table.
///
/// - New read-write connections wait (up to ``RoutingSettings/holdTimeout``) while a failover runs
///   or no primary is known, so a client sees a pause rather than an error.
/// - When the write target changes, connections to the old primary are closed; a replica that stays
///   out of the eligible set for ``RoutingSettings/drainGrace`` has its connections closed.
/// - Each listener draws from its pool (`writes`, `reads`); over budget a client waits up to
///   ``RoutingSettings/queueTimeout`` and then gets `ErrorResponse` SQLSTATE 53300 naming the pool.
/// - Bytes are relayed with backpressure; either side closing closes the other.
///
/// The proxy never chooses a primary itself: it follows the tables it is given (an older epoch is
/// ignored), and keeps routing with the last one if the stream ends.
public final class ProxyService: Service, Sendable {
    private let core: ProxyCore
    private let routingUpdates: AsyncStream<RoutingTable>
    private let group: any EventLoopGroup
    private let logger: Logger

    /// - Parameters:
    ///   - topology: Endpoints and the `routing:` settings (listen addresses, strategy, limits).
    ///   - snapshot: The latest health snapshot (e.g. `{ monitor.latest }`); called per new connection
    ///     and on the drain tick, so it must be cheap.
    ///   - routingUpdates: Routing tables from the failover service (`routingUpdates()`).
    ///   - eventLoopGroup: Where connections run. Default: NIO's shared multi-threaded group.
    ///   - events: Where an endpoint's breaker opening (`circuit_open`) and closing again
    ///     (`circuit_closed`) are reported; nil: only logged.
    public init(
        topology: ClusterTopology,
        snapshot: @escaping @Sendable () -> HealthSnapshot,
        routingUpdates: AsyncStream<RoutingTable>,
        logger: Logger,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        events: (any EventSink)? = nil
    ) {
        self.core = ProxyCore(topology: topology, snapshot: snapshot, logger: logger, events: events)
        self.routingUpdates = routingUpdates
        self.group = eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton
        self.logger = logger
    }

    /// Counters, pools, breaker states and the table in use.
    public func status() -> ProxyStatus { core.status() }

    /// Operator reset of an endpoint's circuit breaker; false for an unknown endpoint.
    public func resetBreaker(_ endpoint: String) -> Bool { core.resetBreaker(endpoint) }

    /// Closes the client connections relayed to these endpoints (every connection when nil), so
    /// that their clients reconnect through a fresh routing decision. Returns how many were closed.
    @discardableResult
    public func closeConnections(to endpoints: Set<String>?) -> Int { core.closeConnections(to: endpoints) }

    /// The bound listener addresses (useful with port 0), once `run()` has bound them; nil if it
    /// has not within `timeout`.
    public func listeningAddresses(timeout: Duration = .seconds(5)) async -> (readWrite: String, readOnly: String)? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let status = core.status()
            if let rw = status.listenReadWrite, let ro = status.listenReadOnly {
                return (rw, ro)
            }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }

    public func run() async throws {
        let settings = core.settings
        let (accepted, acceptedContinuation) = AsyncStream.makeStream(
            of: (any Channel, RouteRequest.Kind).self, bufferingPolicy: .unbounded)
        let readWrite = try await bind(settings.listenReadWrite, kind: .write, into: acceptedContinuation)
        let readOnly: any Channel
        do {
            readOnly = try await bind(settings.listenReadOnly, kind: .read, into: acceptedContinuation)
        } catch {
            try? await readWrite.close()
            throw error
        }
        core.listening(readWrite: readWrite.localAddress, readOnly: readOnly.localAddress)
        logger.info(
            "proxy listening",
            metadata: [
                "listen_rw": "\(readWrite.localAddress.map { "\($0)" } ?? "?")",
                "listen_ro": "\(readOnly.localAddress.map { "\($0)" } ?? "?")",
            ])

        let stop: @Sendable () -> Void = { [core] in
            readWrite.close(promise: nil)
            readOnly.close(promise: nil)
            acceptedContinuation.finish()
            core.closeAll()
        }
        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { [routingUpdates, core] in
                        for await table in routingUpdates {
                            core.apply(table)
                        }
                        // Cancelled: the proxy is stopping, which is no news.
                        if !Task.isCancelled {
                            core.controlStreamEnded()
                        }
                    }
                    group.addTask { [core] in
                        while !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(100))
                            core.drainTick()
                        }
                    }
                    for await (channel, kind) in accepted {
                        group.addTask { [core] in
                            await core.serve(channel, kind: kind)
                        }
                    }
                    group.cancelAll()
                }
            } onCancel: {
                stop()
            }
        } onGracefulShutdown: {
            stop()
        }
        logger.info("proxy stopped")
    }

    private func bind(
        _ address: ListenAddress,
        kind: RouteRequest.Kind,
        into continuation: AsyncStream<(any Channel, RouteRequest.Kind)>.Continuation
    ) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            // Nothing is read from a client until its backend is connected: the kernel holds its
            // startup packet meanwhile.
            .childChannelOption(.autoRead, value: false)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        AcceptHandler { continuation.yield(($0, kind)) })
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
    }
}

/// The proxy's shared state: the router, the table, the pools and the open connections, behind one
/// lock that is held only for bookkeeping (never across I/O or a wait).
final class ProxyCore: Sendable {
    let settings: RoutingSettings
    private let snapshot: @Sendable () -> HealthSnapshot
    private let logger: Logger
    private let events: (any EventSink)?
    private let cluster: String
    private let counters = RelayCounters()
    private let state: Mutex<State>
    private let clock = ContinuousClock()

    private struct PoolState {
        var size: Int
        var inUse = 0
        /// Tickets of waiting connections, oldest first: the oldest gets the next free place.
        var waiting: [UInt64] = []
        var rejected = 0
    }

    private struct Connection {
        var kind: RouteRequest.Kind
        var endpoint: Int
        var client: any Channel
        var ineligibleSince: ContinuousClock.Instant?
    }

    private struct State {
        var router: ConnectionRouter
        var table = RoutingTable.initial
        var pools: [String: PoolState]
        var poolOrder: [String]
        var connections: [UInt64: Connection] = [:]
        var nextID: UInt64 = 0
        var listenReadWrite: String?
        var listenReadOnly: String?
        var accepted = 0
        var refusedUnavailable = 0
        var connectFailures = 0
        var closedByRouting = 0
        var held = 0
        var closing = false
    }

    init(
        topology: ClusterTopology, snapshot: @escaping @Sendable () -> HealthSnapshot, logger: Logger,
        events: (any EventSink)? = nil
    ) {
        self.settings = topology.routing
        self.snapshot = snapshot
        self.logger = logger
        self.events = events
        self.cluster = topology.name
        var pools: [String: PoolState] = [:]
        for pool in topology.routing.pools {
            pools[pool.name] = PoolState(size: pool.size)
        }
        self.state = Mutex(
            State(
                router: ConnectionRouter(topology: topology),
                pools: pools,
                poolOrder: topology.routing.pools.map(\.name)
            ))
    }

    // MARK: Control

    func listening(readWrite: SocketAddress?, readOnly: SocketAddress?) {
        state.withLock {
            $0.listenReadWrite = readWrite.map(Self.hostPort)
            $0.listenReadOnly = readOnly.map(Self.hostPort)
        }
    }

    private static func hostPort(_ address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        let port = address.port ?? 0
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Takes a newer table; closes read-write connections to an endpoint that is no longer the
    /// primary, every read-write connection while writes are paused (a failover has begun: a hung
    /// primary that resumes must not commit through a session opened before), and any connection
    /// to a fenced endpoint.
    func apply(_ table: RoutingTable) {
        let (accepted, toClose, previous) = state.withLock { state -> (Bool, [any Channel], RoutingTable) in
            let previous = state.table
            guard table.epoch > previous.epoch || (table.epoch == previous.epoch && previous == .initial) else {
                return (false, [], previous)
            }
            state.table = table
            var toClose: [any Channel] = []
            for (id, connection) in state.connections {
                let name = state.router.endpoints[connection.endpoint].name
                if !Self.allows(table, kind: connection.kind, endpoint: name) {
                    toClose.append(connection.client)
                    state.connections[id] = nil
                    state.router.connectionCount(connection.endpoint, delta: -1)
                    state.closedByRouting += 1
                }
            }
            return (true, toClose, previous)
        }
        guard accepted else {
            logger.debug(
                "older routing table ignored", metadata: ["epoch": "\(table.epoch)", "current": "\(previous.epoch)"])
            return
        }
        if table.writeTarget != previous.writeTarget || table.writesPaused != previous.writesPaused {
            logger.info(
                "routing table",
                metadata: [
                    "epoch": "\(table.epoch)", "write_target": "\(table.writeTarget ?? "none")",
                    "writes_paused": "\(table.writesPaused)", "closed": "\(toClose.count)",
                ])
        }
        for channel in toClose {
            channel.close(promise: nil)
        }
    }

    /// Whether a connection of `kind` to `endpoint` may stay open under `table`.
    static func allows(_ table: RoutingTable, kind: RouteRequest.Kind, endpoint: String) -> Bool {
        if table.fenced.contains(endpoint) { return false }
        guard kind == .write else { return true }
        if table.writesPaused { return false }
        return table.writeTarget == nil || table.writeTarget == endpoint
    }

    func controlStreamEnded() {
        let (table, closing) = state.withLock { ($0.table, $0.closing) }
        guard !closing else { return }
        logger.warning(
            "routing updates ended; routing with the last table",
            metadata: ["epoch": "\(table.epoch)", "write_target": "\(table.writeTarget ?? "none")"])
    }

    /// Closes read connections whose endpoint has been out of the eligible set for the drain grace.
    func drainTick() {
        let snapshot = snapshot()
        let now = clock.now
        let toClose = state.withLock { state -> [any Channel] in
            var toClose: [any Channel] = []
            let primary = state.table.writeTarget.flatMap { state.router.index(of: $0) }
            for (id, var connection) in state.connections where connection.kind == .read {
                let eligible =
                    state.router.isEligibleReader(connection.endpoint, snapshot: snapshot, table: state.table, now: now)
                    || (connection.endpoint == primary && settings.fallbackToPrimary)
                if eligible {
                    if connection.ineligibleSince != nil {
                        connection.ineligibleSince = nil
                        state.connections[id] = connection
                    }
                    continue
                }
                let since = connection.ineligibleSince ?? now
                if now - since >= settings.drainGrace {
                    toClose.append(connection.client)
                    state.connections[id] = nil
                    state.router.connectionCount(connection.endpoint, delta: -1)
                    state.closedByRouting += 1
                } else if connection.ineligibleSince == nil {
                    connection.ineligibleSince = now
                    state.connections[id] = connection
                }
            }
            return toClose
        }
        for channel in toClose {
            channel.close(promise: nil)
        }
    }

    func closeAll() {
        let channels = state.withLock { state -> [any Channel] in
            state.closing = true
            return state.connections.values.map(\.client)
        }
        for channel in channels {
            channel.close(promise: nil)
        }
    }

    func closeConnections(to endpoints: Set<String>?) -> Int {
        let toClose = state.withLock { state -> [any Channel] in
            var toClose: [any Channel] = []
            for (id, connection) in state.connections {
                guard endpoints?.contains(state.router.endpoints[connection.endpoint].name) ?? true else { continue }
                toClose.append(connection.client)
                state.connections[id] = nil
                state.router.connectionCount(connection.endpoint, delta: -1)
            }
            return toClose
        }
        logger.notice(
            "client connections closed by operator",
            metadata: [
                "endpoints": "\(endpoints.map { $0.sorted().joined(separator: ",") } ?? "all")",
                "closed": "\(toClose.count)",
            ])
        for channel in toClose {
            channel.close(promise: nil)
        }
        return toClose.count
    }

    func resetBreaker(_ endpoint: String) -> Bool {
        let now = clock.now
        let (reset, wasOpen) = state.withLock { state -> (Bool, Bool) in
            let before = state.router.breaker(endpoint)?.state(at: now)
            let wasOpen = before.map { if case .closed = $0 { false } else { true } } ?? false
            return (state.router.resetBreaker(endpoint), wasOpen)
        }
        if reset {
            logger.notice("circuit breaker reset by operator", metadata: ["endpoint": "\(endpoint)"])
            if wasOpen { reportBreaker(endpoint, open: false, reason: "reset by an operator") }
        }
        return reset
    }

    /// `circuit_open` (high) when an endpoint's breaker opens, `circuit_closed` (resolving it) when it
    /// closes again; the dedup key names the endpoint, as a channel's names its channel.
    private func reportBreaker(_ endpoint: String, open: Bool, reason: String) {
        guard let events else { return }
        let settings = settings.breaker
        events.emit(
            ControlEvent(
                kind: open ? .circuitOpen : .circuitClosed, severity: open ? .high : .low, cluster: cluster,
                endpoint: endpoint,
                summary: open
                    ? "the proxy stopped opening connections to \(endpoint) for \(settings.openDuration) after "
                        + "\(settings.failureThreshold) failed connects"
                    : "the proxy connects to \(endpoint) again (\(reason))",
                facts: open
                    ? [
                        "failures": String(settings.failureThreshold),
                        "open_for_seconds": "\(settings.openDuration.components.seconds)",
                    ]
                    : ["reason": reason],
                at: Date(), dedupKey: "\(cluster)/circuit_open/\(endpoint)"))
    }

    func status() -> ProxyStatus {
        let now = clock.now
        return state.withLock { state in
            ProxyStatus(
                epoch: state.table.epoch,
                writeTarget: state.table.writeTarget,
                writesPaused: state.table.writesPaused,
                listenReadWrite: state.listenReadWrite,
                listenReadOnly: state.listenReadOnly,
                pools: state.poolOrder.compactMap { name in
                    state.pools[name].map {
                        ProxyStatus.Pool(
                            name: name, size: $0.size, inUse: $0.inUse, waiting: $0.waiting.count,
                            rejected: $0.rejected)
                    }
                },
                endpoints: state.router.status(at: now),
                accepted: state.accepted,
                refusedUnavailable: state.refusedUnavailable,
                connectFailures: state.connectFailures,
                closedByRouting: state.closedByRouting,
                held: state.held,
                bytesClientToServer: counters.clientToServer.load(ordering: .relaxed),
                bytesServerToClient: counters.serverToClient.load(ordering: .relaxed)
            )
        }
    }

    // MARK: One connection

    /// Serves one accepted client from budget to close.
    func serve(_ client: any Channel, kind: RouteRequest.Kind) async {
        let pool = kind == .write ? "writes" : "reads"
        state.withLock { $0.accepted += 1 }
        guard await acquire(pool) else {
            let size = state.withLock { $0.pools[pool]?.size ?? 0 }
            logger.warning("connection budget exhausted", metadata: ["pool": "\(pool)", "size": "\(size)"])
            await refuse(
                client, sqlState: "53300",
                message: "too many connections for the proxy's \"\(pool)\" pool (\(size)); try again later")
            return
        }
        defer { release(pool) }

        let deadline = clock.now + (kind == .write ? settings.holdTimeout : .zero)
        var heldOnce = false
        var attempts = 0
        while true {
            attempts += 1
            let decision = route(kind)
            guard case .connect(let target) = decision else {
                guard case .unavailable(let why) = decision, kind == .write, why.isTransient, clock.now < deadline,
                    client.isActive
                else {
                    await refuseUnavailable(client, decision: decision)
                    return
                }
                if !heldOnce {
                    heldOnce = true
                    state.withLock { $0.held += 1 }
                }
                try? await Task.sleep(for: .milliseconds(5))
                continue
            }
            let started = clock.now
            do {
                let server = try await connect(target, on: client.eventLoop)
                record(target, success: true, took: clock.now - started)
                if await relay(client, server, target: target, kind: kind) { return }
                // The table changed while connecting: this target is no longer allowed. Route again
                // (a write is held until the new primary is known), a bounded number of times.
                if attempts >= 20 {
                    await refuse(client, sqlState: "08006", message: "the routing table kept changing; try again")
                    return
                }
                continue
            } catch {
                record(target, success: false, took: nil)
                logger.warning(
                    "connect to endpoint failed",
                    metadata: [
                        "endpoint": "\(target.endpoint)", "address": "\(target.host):\(target.port)",
                        "error": "\(error)",
                    ])
                // Another pick may find another endpoint (reads), or a new primary (writes, within the hold).
                if attempts >= 3 && (kind == .read || clock.now >= deadline) {
                    await refuse(
                        client, sqlState: "08006",
                        message: "the proxy could not connect to endpoint \(target.endpoint); try again")
                    return
                }
                if kind == .write {
                    try? await Task.sleep(for: .milliseconds(20))
                }
            }
        }
    }

    private func route(_ kind: RouteRequest.Kind) -> RouteDecision {
        let snapshot = snapshot()
        let now = clock.now
        return state.withLock { state in
            state.router.route(RouteRequest(kind), snapshot: snapshot, table: state.table, now: now)
        }
    }

    private func record(_ target: RouteDecision.Target, success: Bool, took: Duration?) {
        let now = clock.now
        let (opened, closed) = state.withLock { state -> (Bool, Bool) in
            let before = state.router.breaker(target.endpoint)?.state(at: now)
            state.router.record(target.index, success: success, took: took, at: now)
            if !success {
                state.connectFailures += 1
            }
            let after = state.router.breaker(target.endpoint)?.state(at: now)
            switch (before, after) {
            case (.closed?, .open(_)?): return (true, false)
            case (.halfOpen?, .closed?): return (false, true)
            default: return (false, false)
            }
        }
        if opened {
            logger.error("circuit breaker opened", metadata: ["endpoint": "\(target.endpoint)"])
            reportBreaker(target.endpoint, open: true, reason: "")
        } else if closed {
            logger.notice("circuit breaker closed", metadata: ["endpoint": "\(target.endpoint)"])
            reportBreaker(target.endpoint, open: false, reason: "a trial connection succeeded")
        }
    }

    private func connect(_ target: RouteDecision.Target, on eventLoop: any EventLoop) async throws -> any Channel {
        try await ClientBootstrap(group: eventLoop)
            .connectTimeout(.nanoseconds(Self.nanoseconds(target.connectTimeout)))
            .channelOption(.autoRead, value: false)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connect(host: target.host, port: target.port)
            .get()
    }

    private static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    /// Glues the two channels and waits until both are closed. Returns false, having closed only
    /// the server side, when the routing table that is current at registration no longer allows
    /// this target: a table applied while the connection was being made never saw it, so the check
    /// is made here, under the same lock as ``apply(_:)``.
    private func relay(
        _ client: any Channel, _ server: any Channel, target: RouteDecision.Target, kind: RouteRequest.Kind
    )
        async -> Bool
    {
        enum Registration {
            case registered(UInt64)
            case stale, closing
        }
        let registration = state.withLock { state -> Registration in
            guard !state.closing else { return .closing }
            let name = state.router.endpoints[target.index].name
            guard Self.allows(state.table, kind: kind, endpoint: name) else { return .stale }
            state.nextID += 1
            state.connections[state.nextID] = Connection(kind: kind, endpoint: target.index, client: client)
            state.router.connectionCount(target.index, delta: 1)
            return .registered(state.nextID)
        }
        let id: UInt64
        switch registration {
        case .registered(let registered):
            id = registered
        case .stale:
            server.close(promise: nil)
            state.withLock { $0.closedByRouting += 1 }
            return false
        case .closing:
            client.close(promise: nil)
            server.close(promise: nil)
            return true
        }
        let counters = counters
        let glued = client.eventLoop.submit {
            let (clientSide, serverSide) = RelayHandler.pair(counters: counters)
            try client.pipeline.syncOperations.addHandler(clientSide)
            try server.pipeline.syncOperations.addHandler(serverSide)
            // A side that closed while connecting closes the other.
            if !client.isActive || !server.isActive {
                client.close(promise: nil)
                server.close(promise: nil)
                return
            }
            client.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            server.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            client.read()
            server.read()
        }
        do {
            try await glued.get()
        } catch {
            client.close(promise: nil)
            server.close(promise: nil)
        }
        // Closing either side closes the other (RelayHandler); wait for both.
        try? await client.closeFuture.get()
        try? await server.closeFuture.get()
        state.withLock { state in
            if state.connections.removeValue(forKey: id) != nil {
                state.router.connectionCount(target.index, delta: -1)
            }
        }
        return true
    }

    private func refuseUnavailable(_ client: any Channel, decision: RouteDecision) async {
        state.withLock { $0.refusedUnavailable += 1 }
        let why: String =
            switch decision {
            case .unavailable(let reason): reason.description
            case .connect: "no endpoint"
            }
        logger.warning("connection refused: no endpoint", metadata: ["reason": "\(why)"])
        await refuse(client, sqlState: "57P03", message: "the proxy has no endpoint for this connection: \(why)")
    }

    /// Answers the client with an `ErrorResponse` and waits until its connection is closed.
    private func refuse(_ client: any Channel, sqlState: String, message: String) async {
        let added = client.eventLoop.submit {
            try client.pipeline.syncOperations.addHandler(RefusalHandler(sqlState: sqlState, message: message))
        }
        if (try? await added.get()) == nil {
            client.close(promise: nil)
        }
        try? await client.closeFuture.get()
    }

    // MARK: Budgets

    /// A place in `pool`, waiting up to the queue timeout; first come, first served.
    private func acquire(_ pool: String) async -> Bool {
        let ticket = state.withLock { state -> UInt64? in
            guard var entry = state.pools[pool] else {
                return nil
            }
            if entry.waiting.isEmpty && entry.inUse < entry.size {
                entry.inUse += 1
                state.pools[pool] = entry
                return 0
            }
            state.nextID += 1
            entry.waiting.append(state.nextID)
            state.pools[pool] = entry
            return state.nextID
        }
        guard let ticket else {
            return false
        }
        if ticket == 0 {
            return true
        }
        let deadline = clock.now + settings.queueTimeout
        while true {
            let now = clock.now
            let outcome = state.withLock { state -> Bool? in
                guard var entry = state.pools[pool] else {
                    return false
                }
                defer { state.pools[pool] = entry }
                if entry.waiting.first == ticket && entry.inUse < entry.size {
                    entry.waiting.removeFirst()
                    entry.inUse += 1
                    return true
                }
                if now >= deadline || state.closing {
                    entry.waiting.removeAll { $0 == ticket }
                    entry.rejected += 1
                    return false
                }
                return nil
            }
            if let outcome {
                return outcome
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private func release(_ pool: String) {
        state.withLock { state in
            state.pools[pool]?.inUse -= 1
        }
    }
}

extension RoutingTable {
    /// The table before the failover service published one: no primary known.
    static var initial: RoutingTable {
        // RoutingTable has no public memberwise initializer; its Codable form is public.
        try! JSONDecoder().decode(
            RoutingTable.self, from: Data(#"{"epoch":0,"writesPaused":false,"fenced":[]}"#.utf8))
    }
}

/// Hands a client connection to the proxy once it is active, then steps aside.
final class AcceptHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let accepted: (any Channel) -> Void

    init(_ accepted: @escaping (any Channel) -> Void) {
        self.accepted = accepted
    }

    func channelActive(context: ChannelHandlerContext) {
        context.fireChannelActive()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        accepted(context.channel)
    }
}
