import Foundation
public import Logging
public import Postgres
public import ServiceLifecycle
import Synchronization
public import Topology

/// Probes every endpoint of a topology on its own schedule and publishes a ``HealthSnapshot``
/// after every probe result.
///
/// Each endpoint has an independent loop, so a slow or hung endpoint never delays the others:
/// - it probes every ``Endpoint/health`` `probeInterval`, each probe bounded by `probeTimeout`;
/// - after a failed probe it probes again every ``Options/fastReprobeInterval`` until the
///   endpoint recovers or reaches its failure threshold, so a crash is confirmed in a few hundred
///   milliseconds while the normal interval stays calm;
/// - between probes it holds one idle watch connection (``PostgresConnection/Watch``) and probes at
///   once when the server closes it: a `kill -9`ed server is noticed within milliseconds.
///
/// Readers get the newest snapshot synchronously from ``latest`` or as a stream from
/// ``snapshots()``. ``run()`` ends on task cancellation or graceful shutdown.
public final class HealthMonitor: Service, Sendable {
    /// Probes one endpoint and returns the result; it must return within the endpoint's
    /// `probeTimeout` (the default, libpq-backed probe does). Injected by tests.
    public typealias Probe = @Sendable (Endpoint) async -> EndpointProbe

    /// Timings that are not in the cluster file.
    public struct Options: Sendable {
        /// Pause between probes after a failed probe, until the endpoint is down or answers again.
        /// Default 100 ms: with the default threshold of 3 a refused connection is confirmed about
        /// 200 ms after the first failure.
        public var fastReprobeInterval: Duration
        /// Whether each endpoint keeps an idle watch connection between probes. Default `true`.
        /// A waiting watch holds no thread (one thread polls every watch connection's socket).
        public var watchConnections: Bool
        /// Whose threads run the probes and connect the watches. Default: the process's monitoring
        /// threads (one monitor per daemon); a process running several monitors side by side (the
        /// tests) may give one its own.
        public var workload: PostgresWorkload

        public init(
            fastReprobeInterval: Duration = .milliseconds(100), watchConnections: Bool = true,
            workload: PostgresWorkload = .monitoring
        ) {
            self.fastReprobeInterval = fastReprobeInterval
            self.watchConnections = watchConnections
            self.workload = workload
        }
    }

    private struct State {
        var topology: ClusterTopology
        var trackers: [String: EndpointHealthTracker]
        var sequence: UInt64 = 0
        var lastPrimaryPosition: LSN?
        var latest: HealthSnapshot
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriber = 0
        var finished = false
        /// The idle watch connection each endpoint's loop holds, for ``resetConnections(endpoints:)``.
        var watches: [String: PostgresConnection.Watch] = [:]
        /// Tells the running loops that the topology changed.
        var reconfigured: AsyncStream<Void>.Continuation?

        /// Builds the next snapshot and stores it. The caller hands it to the subscribers (see
        /// ``deliver(_:to:)``) after releasing the lock.
        mutating func publish(at now: Date) -> HealthSnapshot {
            let ordered = topology.allEndpoints.compactMap { trackers[$0.name] }
            let position = HealthSnapshot.primaryPosition(of: ordered, lastKnown: lastPrimaryPosition)
            lastPrimaryPosition = position
            sequence += 1
            latest = HealthSnapshot.assemble(
                sequence: sequence,
                takenAt: now,
                trackers: ordered,
                primaryPosition: position
            )
            return latest
        }
    }

    /// One reader of ``snapshots()``. Snapshots are yielded outside the monitor's lock: yielding
    /// under it deadlocked against a reader being cancelled at that moment (the cancellation holds
    /// the reader task's lock and runs the stream's termination handler, which takes the monitor's
    /// lock, while the yield waits for the reader task's lock). Each reader's own lock keeps its
    /// snapshots in sequence order: an older one that arrives late is dropped.
    final class Subscriber: Sendable {
        let continuation: AsyncStream<HealthSnapshot>.Continuation
        private let delivered = Mutex<UInt64?>(nil)

        init(_ continuation: AsyncStream<HealthSnapshot>.Continuation) {
            self.continuation = continuation
        }

        func deliver(_ snapshot: HealthSnapshot) {
            delivered.withLock { last in
                if let last, snapshot.sequence <= last { return }
                last = snapshot.sequence
                continuation.yield(snapshot)
            }
        }
    }

    /// Hands `snapshot` to `subscribers`; never call it while holding the monitor's lock.
    private static func deliver(_ snapshot: HealthSnapshot, to subscribers: [Subscriber]) {
        for subscriber in subscribers {
            subscriber.deliver(snapshot)
        }
    }

    /// Longest single wait on a watch connection before the loop looks at its schedule again.
    private static let watchSlice = Duration.milliseconds(250)

    private let state: Mutex<State>
    private let options: Options
    private let logger: Logger
    private let customProbe: Probe?

    /// Creates a monitor; nothing runs until ``run()``.
    ///
    /// - Parameters:
    ///   - topology: The endpoints to watch and their thresholds.
    ///   - options: Fast re-probe interval and watch connections.
    ///   - logger: Receives state changes (endpoint down or up, role changes) with `endpoint`,
    ///     `region` and `address` metadata; never a password or connection string.
    ///   - probe: Replaces the libpq probe, for tests. `nil` (the default) probes with
    ///     `EndpointProbe.probe(_:timeout:)` and the topology's
    ///     connection settings.
    public init(
        topology: ClusterTopology,
        options: Options = Options(),
        logger: Logger,
        probe: Probe? = nil
    ) {
        var trackers: [String: EndpointHealthTracker] = [:]
        for endpoint in topology.allEndpoints {
            trackers[endpoint.name] = EndpointHealthTracker(endpoint: endpoint)
        }
        let initial = HealthSnapshot.assemble(
            sequence: 0,
            takenAt: Date(),
            trackers: topology.allEndpoints.compactMap { trackers[$0.name] },
            primaryPosition: nil
        )
        self.state = Mutex(State(topology: topology, trackers: trackers, latest: initial))
        self.options = options
        self.logger = logger
        self.customProbe = probe
    }

    /// The newest snapshot; sequence 0 (every endpoint unknown) before the first probe result.
    public var latest: HealthSnapshot {
        state.withLock { $0.latest }
    }

    /// The topology being monitored.
    public var topology: ClusterTopology {
        state.withLock { $0.topology }
    }

    /// Every snapshot published from now on, starting with ``latest``.
    ///
    /// Buffers only the newest snapshot: a slow reader skips intermediate ones and always sees the
    /// current state next. Finishes when ``run()`` ends.
    public func snapshots() -> AsyncStream<HealthSnapshot> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: HealthSnapshot.self,
            bufferingPolicy: .bufferingNewest(1)
        )
        let id = state.withLock { state in
            defer { state.nextSubscriber += 1 }
            return state.nextSubscriber
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        let subscriber = Subscriber(continuation)
        let (latest, finished) = state.withLock { state in
            if !state.finished {
                state.subscribers[id] = subscriber
            }
            return (state.latest, state.finished)
        }
        subscriber.deliver(latest)
        if finished {
            continuation.finish()
        }
        return stream
    }

    /// Probes every endpoint at once, in parallel, and returns the snapshot published after the
    /// last of them answered. For the admin API and for re-checking before a failover decision;
    /// each endpoint's regular loop goes on undisturbed.
    public func probeNow() async -> HealthSnapshot {
        await probeNow(endpoints: topology.allEndpoints.map(\.name))
    }

    /// Probes the named endpoints at once, in parallel, and returns the snapshot published after
    /// the last of them answered. Names not in the topology are ignored.
    public func probeNow(endpoints names: [String]) async -> HealthSnapshot {
        await probeNow(endpoints: names, workload: options.workload, timeout: nil)
    }

    /// Probes the named endpoints for the failover flow: on the flow's own threads (never queued
    /// behind the regular probes and watch connections), each bounded by the larger of its
    /// `probeTimeout` and `minimumTimeout`, so that a busy machine does not turn a standby that
    /// answers slowly into an unreachable one. Returns the snapshot published after the last answer.
    public func confirm(endpoints names: [String], minimumTimeout: Duration) async -> HealthSnapshot {
        await probeNow(endpoints: names, workload: .failover, timeout: minimumTimeout)
    }

    private func probeNow(endpoints names: [String], workload: PostgresWorkload, timeout: Duration?) async
        -> HealthSnapshot
    {
        let wanted = Set(names)
        let endpoints = topology.allEndpoints.filter { wanted.contains($0.name) }
        await withTaskGroup(of: Void.self) { group in
            for endpoint in endpoints {
                group.addTask {
                    let limit = max(endpoint.health.probeTimeout, timeout ?? .zero)
                    let result = await self.probe(endpoint, workload: workload, timeout: limit)
                    _ = self.record(result, for: endpoint)
                }
            }
        }
        return latest
    }

    /// Replaces the topology, e.g. after the cluster file was reloaded.
    ///
    /// Endpoints that keep their name, host and port keep their history (failure count, latency,
    /// error-rate window) under the new thresholds; others start afresh. A running ``run()``
    /// restarts every endpoint's loop with the new settings, so each endpoint is probed at once.
    public func reconfigure(topology: ClusterTopology) {
        let signal = state.withLock { state in
            var trackers: [String: EndpointHealthTracker] = [:]
            for endpoint in topology.allEndpoints {
                if var tracker = state.trackers[endpoint.name], tracker.endpoint.host == endpoint.host,
                    tracker.endpoint.port == endpoint.port
                {
                    tracker.endpoint = endpoint
                    trackers[endpoint.name] = tracker
                } else {
                    trackers[endpoint.name] = EndpointHealthTracker(endpoint: endpoint)
                }
            }
            state.topology = topology
            state.trackers = trackers
            let snapshot = state.publish(at: Date())
            return (state.reconfigured, snapshot, Array(state.subscribers.values))
        }
        Self.deliver(signal.1, to: signal.2)
        logger.info("topology reconfigured", metadata: ["endpoints": "\(topology.allEndpoints.count)"])
        signal.0?.yield()
    }

    /// Runs one loop per endpoint until the task is cancelled or a graceful shutdown begins, then
    /// closes every watch connection and finishes the ``snapshots()`` streams.
    public func run() async throws {
        state.withLock { $0.finished = false }
        logger.info("health monitor started", metadata: ["endpoints": "\(topology.allEndpoints.count)"])
        await cancelWhenGracefulShutdown {
            await self.runLoops()
        }
        let subscribers = state.withLock { state in
            state.finished = true
            state.reconfigured = nil
            defer { state.subscribers = [:] }
            return Array(state.subscribers.values)
        }
        // Outside the lock: finishing calls the streams' termination handlers, which take it.
        for subscriber in subscribers {
            subscriber.continuation.finish()
        }
        logger.info("health monitor stopped")
    }

    // MARK: - Loops

    /// One generation of loops per topology; a reconfiguration cancels them and starts the next.
    private func runLoops() async {
        while !Task.isCancelled {
            let (signal, continuation) = AsyncStream.makeStream(of: Void.self)
            let endpoints = state.withLock { state in
                state.reconfigured = continuation
                return state.topology.allEndpoints
            }
            await withTaskGroup(of: Bool.self) { group in
                for endpoint in endpoints {
                    group.addTask {
                        await self.monitor(endpoint)
                        return false
                    }
                }
                group.addTask {
                    for await _ in signal {
                        return true
                    }
                    return false
                }
                while let restart = await group.next() {
                    if restart {
                        group.cancelAll()
                    }
                }
            }
            continuation.finish()
        }
    }

    /// Probes one endpoint until cancelled.
    private func monitor(_ endpoint: Endpoint) async {
        let clock = ContinuousClock()
        let settings = endpoint.health
        var watch: PostgresConnection.Watch? {
            didSet { holdWatch(watch, for: endpoint.name, replacing: oldValue) }
        }
        defer {
            watch?.close()
            watch = nil
        }
        while !Task.isCancelled {
            let started = clock.now
            let result = await probe(endpoint)
            if Task.isCancelled {
                return
            }
            let tracker = record(result, for: endpoint)
            if !result.reachable {
                watch?.close()
                watch = nil
                if !tracker.isDown {
                    // Confirm or clear a first failure quickly instead of a whole interval later.
                    do {
                        try await Task.sleep(for: options.fastReprobeInterval)
                    } catch {
                        return
                    }
                    continue
                }
            } else if options.watchConnections, watch?.isClosed ?? true {
                watch = try? await PostgresConnection.watch(
                    configuration(for: endpoint),
                    timeout: settings.probeTimeout,
                    workload: options.workload
                )
            }

            let next = started + settings.probeInterval
            if let current = watch {
                var closed = false
                while !closed, !Task.isCancelled, clock.now < next {
                    closed = await current.waitUntilClosed(timeout: min(next - clock.now, Self.watchSlice))
                }
                if closed {
                    watch = nil
                    logger.debug("watch connection closed, probing now", metadata: metadata(endpoint))
                }
            } else {
                do {
                    try await Task.sleep(until: next, clock: clock)
                } catch {
                    return
                }
            }
        }
    }

    /// Closes the control plane's watch connections to these endpoints. Each endpoint's loop sees
    /// its watch close, probes at once and opens a new one. Returns how many were open and closed.
    @discardableResult
    public func resetConnections(endpoints names: [String]) -> Int {
        let watches = state.withLock { state in
            names.compactMap { state.watches.removeValue(forKey: $0) }.filter { !$0.isClosed }
        }
        for watch in watches {
            watch.close()
        }
        if !watches.isEmpty {
            logger.notice(
                "watch connections reset",
                metadata: ["endpoints": "\(names.joined(separator: ","))", "closed": "\(watches.count)"])
        }
        return watches.count
    }

    private func holdWatch(
        _ watch: PostgresConnection.Watch?, for name: String, replacing old: PostgresConnection.Watch?
    ) {
        state.withLock { state in
            if let watch {
                state.watches[name] = watch
            } else if let old, state.watches[name] === old {
                state.watches[name] = nil
            }
        }
    }

    private func probe(
        _ endpoint: Endpoint, workload: PostgresWorkload? = nil, timeout: Duration? = nil
    ) async -> EndpointProbe {
        if let customProbe {
            return await customProbe(endpoint)
        }
        return await EndpointProbe.probe(
            configuration(for: endpoint), timeout: timeout ?? endpoint.health.probeTimeout,
            workload: workload ?? options.workload)
    }

    private func configuration(for endpoint: Endpoint) -> PostgresConfiguration {
        PostgresConfiguration(endpoint: endpoint, connection: topology.connection)
    }

    /// Records a probe result, publishes the next snapshot, and logs what changed.
    private func record(_ result: EndpointProbe, for endpoint: Endpoint) -> EndpointHealthTracker {
        let now = Date()
        let (tracker, events, published) = state.withLock {
            state -> (EndpointHealthTracker, [EndpointHealthTracker.Event], (HealthSnapshot, [Subscriber])?) in
            // An endpoint dropped by a reconfiguration while its probe ran is not recorded.
            guard var tracker = state.trackers[endpoint.name] else {
                return (EndpointHealthTracker(endpoint: endpoint), [], nil)
            }
            let events = tracker.record(result, at: now)
            state.trackers[endpoint.name] = tracker
            return (tracker, events, (state.publish(at: now), Array(state.subscribers.values)))
        }
        if let (snapshot, subscribers) = published {
            Self.deliver(snapshot, to: subscribers)
        }
        var facts = metadata(endpoint)
        facts["failures"] = "\(tracker.consecutiveFailures)"
        if !result.reachable, let error = result.error {
            // Scrubbed of the password by PostgresError.
            facts["error"] = "\(error)"
        }
        if !result.reachable, tracker.consecutiveFailures == 1 {
            logger.info("probe failed", metadata: facts)
        }
        for event in events {
            switch event {
            case .wentDown:
                logger.warning("endpoint down", metadata: facts)
            case .cameUp:
                logger.notice("endpoint up", metadata: facts)
            case .roleChanged(let from, let to):
                facts["from"] = "\(from.rawValue)"
                facts["to"] = "\(to.rawValue)"
                logger.notice("endpoint role changed", metadata: facts)
            }
        }
        return tracker
    }

    private func metadata(_ endpoint: Endpoint) -> Logger.Metadata {
        ["endpoint": "\(endpoint.name)", "region": "\(endpoint.region)", "address": "\(endpoint.address)"]
    }
}
