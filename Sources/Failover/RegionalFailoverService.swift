public import Foundation
public import Health
public import Logging
import Postgres
public import ServiceLifecycle
import Synchronization
public import Topology
public import Vocabulary

/// The one decision-maker of the control plane.
///
/// It alone changes cluster state: it reads the health monitor's snapshots, decides with the pure
/// rules of ``DetectionPolicy`` and ``CandidateSelector``, and performs the seven steps of a
/// failover (detection, alert, selection, promotion, routing, verification, notification), a
/// switchover or a manual failover, one at a time. Being an actor that records the running
/// operation before its first suspension, two operations can never overlap: a second request
/// gets ``FailoverError/Code/conflict``.
///
/// Every step is journaled in the state store (``ControlStateStore``) before and after; a promotion
/// recorded there is final, so a restarted service completes an interrupted operation instead of
/// undoing it.
public actor RegionalFailoverService: Service {
    /// What the admin API and the CLI show.
    public struct Status: Sendable, Codable, Equatable {
        public var cluster: String
        public var state: ClusterState
        public var writeTarget: String?
        public var automaticFailoverPaused: Bool
        public var runningOperation: String?
        public var fenced: [String]
        public var lastAutomaticFailoverAt: Date?
    }

    let logger: Logger
    let monitor: HealthMonitor
    let store: any ControlStateStore
    let events: any EventSink
    var topology: ClusterTopology
    var settings: FailoverSettings
    /// Name of a step after which the process kills itself; set only by tests of crash recovery.
    let faultPoint: String?
    let now: @Sendable () -> Date

    var writeTarget: String?
    var paused = false
    var fenced: Set<String> = []
    /// Fenced endpoints seen up since their fencing: not fenced again until they go away and return.
    var fencedWhileUp: Set<String> = []
    var running: OperationKind?
    var lastAutomaticFailoverAt: Date?
    var lastFinishedAt: Date?
    var clusterState: ClusterState = .unknown
    var latest: HealthSnapshot?
    /// The primary's position at its last good probe, and when: the RPO reference after a crash.
    var lastPrimaryPosition: (endpoint: String, lsn: LSN, at: Date)?
    var partitionSuspectedSince: Date?
    var partitionReported = false
    var blockedReported = false
    var downEndpoints: Set<String> = []
    /// When the standbys were last probed to confirm a primary failure.
    var lastConfirmationAt: Date?
    /// The least time between two such confirmation probes.
    static let confirmationSpacing: Duration = .milliseconds(100)
    /// No automatic attempt before this, after a failed one.
    var nextAutomaticAttemptAt: Date?
    /// The pause between failed automatic attempts.
    static let retryAfterFailedAttempt: Duration = .seconds(10)
    /// The first state store write the running operation could not make: before a promotion it
    /// stops the operation, because an unjournaled promotion could not be recovered after a crash.
    var storeFailure: String?
    /// Whether the stored write target was compared with what the servers say since this start.
    var writeTargetReconciled = false
    /// Standbys that answer but do not stream where they belong, since when (``reattachStrays(_:primary:)``).
    var strayingSince: [String: Date] = [:]
    /// When each was last re-pointed, and those being re-pointed now.
    var lastReattachAt: [String: Date] = [:]
    var reattaching: Set<String> = []
    /// The least time between two re-points of one standby.
    static let reattachSpacing: Duration = .seconds(10)
    /// Whether the wait for a clear answer at reconciliation was logged.
    var reconcileReported = false
    /// The time the next confirmation probe gives each standby (see ``handle(_:)``).
    var confirmationTimeoutNow = RegionalFailoverService.confirmationTimeout
    /// The most a confirmation probe waits for a standby that keeps timing out.
    static let longestConfirmationTimeout: Duration = .seconds(4)
    /// Since when the primary has had too few synchronous standbys streaming, and whether that was
    /// reported (``checkSynchronousQuorum(_:)``).
    var quorumShortSince: Date?
    var quorumLostReported = false
    /// Standbys whose `wal_receiver_timeout` was checked against `stream_staleness`.
    var receiverTimeoutChecked: Set<String> = []
    /// The least time a standby gets to answer a confirmation probe, whatever its `probe_timeout`.
    static let confirmationTimeout: Duration = .seconds(1)
    /// A candidate whose promotion was sent but not confirmed (a timeout, a restart): it may
    /// become the primary at any moment, so it is adopted as the write target when it does, and
    /// no other candidate is promoted meanwhile.
    var promotionInDoubt: String?

    let routingState: Mutex<RoutingTable>
    let routingSubscribers = Subscribers()

    /// Readers of ``routingUpdates()``; a class so that a stream's termination handler can hold it.
    final class Subscribers: Sendable {
        let continuations = Mutex<[UUID: AsyncStream<RoutingTable>.Continuation]>([:])
    }

    public init(
        topology: ClusterTopology,
        settings: FailoverSettings,
        monitor: HealthMonitor,
        store: any ControlStateStore,
        events: any EventSink,
        logger: Logger,
        faultPoint: String? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.topology = topology
        self.settings = settings
        self.monitor = monitor
        self.store = store
        self.events = events
        self.logger = logger
        self.faultPoint = faultPoint
        self.now = now
        self.routingState = Mutex(RoutingTable(epoch: 0, writeTarget: nil, writesPaused: false, fenced: []))
    }

    var operations: DatabaseOperations { DatabaseOperations(topology: topology, settings: settings) }

    // MARK: Reading

    /// The routing table as of now; readable from any thread without waiting for the actor.
    public nonisolated var routing: RoutingTable { routingState.withLock { $0 } }

    /// Every routing table from now on, starting with the current one (newest only when a reader lags).
    public nonisolated func routingUpdates() -> AsyncStream<RoutingTable> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: RoutingTable.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        routingSubscribers.continuations.withLock { $0[id] = continuation }
        continuation.onTermination = { [routingSubscribers] _ in
            _ = routingSubscribers.continuations.withLock { $0.removeValue(forKey: id) }
        }
        continuation.yield(routing)
        return stream
    }

    public func status() -> Status {
        Status(
            cluster: topology.name, state: clusterState, writeTarget: writeTarget,
            automaticFailoverPaused: paused, runningOperation: running?.rawValue, fenced: fenced.sorted(),
            lastAutomaticFailoverAt: lastAutomaticFailoverAt)
    }

    /// Failovers and switchovers, most recent first.
    public func history(limit: Int = 100) async throws -> [OperationRecord] {
        try await store.records(limit: limit)
    }

    /// What a failover would do now, without doing it: who is promoted, why the others are not,
    /// and the predicted data loss.
    ///
    /// Every endpoint is probed first, so that positions and lag are compared at one moment (a
    /// snapshot mixes probes up to one interval apart, which shows a busy standby as lagging).
    public func dryRun(region: String? = nil, endpoint: String? = nil, force: Bool = false) async throws(FailoverError)
        -> FailoverPlan
    {
        let mode = try selectionMode(region: region, endpoint: endpoint, force: force)
        guard let primary = writeTarget ?? topology.initialPrimary?.name else { throw .failed("no primary is known") }
        let snapshot = await askEveryServer()
        return CandidateSelector.plan(
            oldPrimary: primary, oldPrimaryPosition: knownPosition(of: primary, in: snapshot)?.lsn,
            snapshot: snapshot, topology: topology, mode: mode, fenced: fenced)
    }

    // MARK: Commands

    /// Stops automatic failovers (maintenance); manual operations still work.
    public func pause(by actor: String) async {
        paused = true
        try? await store.setPaused(true)
        logger.notice("automatic failover paused", metadata: ["actor": "\(actor)"])
        refreshState()
    }

    public func resume(by actor: String) async {
        paused = false
        blockedReported = false
        try? await store.setPaused(false)
        logger.notice("automatic failover resumed", metadata: ["actor": "\(actor)"])
        refreshState()
    }

    /// Moves the primary to `region` (its leader first) or to `endpoint`, even if the current
    /// primary is healthy or down. `force` ignores the lag limit: it may lose data, and says so.
    public func manualFailover(
        region: String? = nil, endpoint: String? = nil, force: Bool = false, requestedBy: String
    ) async throws(FailoverError) -> OperationRecord {
        let mode = try selectionMode(region: region, endpoint: endpoint, force: force)
        if !force, running == nil, let primary = writeTarget {
            // A primary the control plane cannot reach may be cut off with its synchronous standbys
            // and still committing: the same rule as for automatic failover, unless forced.
            let snapshot = await askEveryServer()
            if snapshot[endpoint: primary]?.isHealthy != true,
                let block = safetyBlock(oldPrimary: primary, snapshot: snapshot)
            {
                throw .failed("refused: \(block.reason); \(block.action)")
            }
        }
        return try await execute(
            kind: .manualFailover, mode: mode, trigger: "manual failover requested by \(requestedBy)",
            requestedBy: requestedBy, evidence: nil)
    }

    /// A planned change of primary with no data loss: fence, wait until the target has every byte,
    /// re-point, promote. The write pause lasts from the fence to the routing switch.
    public func switchover(
        region: String? = nil, endpoint: String? = nil, requestedBy: String
    ) async throws(FailoverError) -> OperationRecord {
        let mode = try selectionMode(region: region, endpoint: endpoint, force: false)
        return try await execute(
            kind: .switchover, mode: mode, trigger: "switchover requested by \(requestedBy)",
            requestedBy: requestedBy, evidence: nil)
    }

    /// Rejoins a fenced endpoint (normally an old primary) as a standby of the current primary by
    /// running the configured `failover.rejoin_command`, then lifts its fence. Only an operator asks
    /// for this: a returning old primary is never rejoined automatically after a failure.
    public func rejoin(_ endpoint: String, requestedBy: String) async throws(FailoverError) -> String {
        guard topology.endpoint(named: endpoint) != nil else { throw .unknownEndpoint(endpoint) }
        if let running { throw .conflict(running.rawValue.replacingOccurrences(of: "_", with: " ")) }
        guard let primary = writeTarget, primary != endpoint else {
            throw .failed("\(endpoint) is the primary; rejoin applies to a standby or an old primary")
        }
        guard let command = settings.rejoinCommand else {
            throw .failed(
                "no failover.rejoin_command is configured; rejoin \(endpoint) by hand (pg_rewind), then clear its fence"
            )
        }
        let output: String
        do {
            output =
                try await HookRunner.run(
                    command, placeholders: placeholders(old: endpoint, new: primary), timeout: settings.hookTimeout,
                    secrets: commandSecrets)[
                    "output"] ?? ""
        } catch {
            logger.error("rejoin failed", metadata: ["endpoint": "\(endpoint)", "error": "\(error)"])
            throw error as? FailoverError ?? .failed("rejoin of \(endpoint) failed: \(error)")
        }
        fenced.remove(endpoint)
        fencedWhileUp.remove(endpoint)
        try? await store.setFenced(fenced)
        publishRouting()
        logger.notice("endpoint rejoined", metadata: ["endpoint": "\(endpoint)", "actor": "\(requestedBy)"])
        return output
    }

    /// Replaces the cluster file's settings (SIGHUP). The write target is kept.
    public func reconfigure(topology: ClusterTopology, settings: FailoverSettings) {
        self.topology = topology
        self.settings = settings
    }

    func selectionMode(region: String?, endpoint: String?, force: Bool) throws(FailoverError) -> SelectionMode {
        if let endpoint {
            guard topology.endpoint(named: endpoint) != nil else { throw .unknownEndpoint(endpoint) }
            return .endpoint(endpoint, force: force)
        }
        if let region {
            guard topology.region(named: region) != nil else { throw .unknownRegion(region) }
            return .region(region, force: force)
        }
        return .automatic
    }

    // MARK: Running

    public func run() async throws {
        await restore()
        for await snapshot in monitor.snapshots().cancelOnGracefulShutdown() {
            await handle(snapshot)
        }
    }

}
