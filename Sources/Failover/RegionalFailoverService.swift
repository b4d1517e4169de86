public import Foundation
public import Health
public import Logging
import Postgres
public import ServiceLifecycle
public import StateStore
import Synchronization
public import Topology

/// The one decision-maker of the control plane.
///
/// It alone changes cluster state: it reads the health monitor's snapshots, decides with the pure
/// rules of ``DetectionPolicy`` and ``CandidateSelector``, and performs the seven steps of a
/// failover (detection, alert, selection, promotion, routing, verification, notification), a
/// switchover or a manual failover, one at a time. Being an actor that records the running
/// operation before its first suspension, two operations can never overlap: a second request
/// gets ``FailoverError/Code/conflict``.
///
/// Every step is journaled in the ``StateStore`` before and after; a promotion recorded there is
/// final, so a restarted service completes an interrupted operation instead of undoing it.
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
    let store: StateStore
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
        store: StateStore,
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
        try await store.operations(limit: limit).compactMap {
            try? OperationRecord.decoder().decode(OperationRecord.self, from: $0.payload)
        }
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
        let snapshot = await monitor.confirm(
            endpoints: topology.allEndpoints.map(\.name), minimumTimeout: Self.confirmationTimeout)
        return CandidateSelector.plan(
            oldPrimary: primary, oldPrimaryPosition: knownPosition(of: primary, in: snapshot)?.lsn,
            snapshot: snapshot, topology: topology, mode: mode, fenced: fenced)
    }

    // MARK: Commands

    /// Stops automatic failovers (maintenance); manual operations still work.
    public func pause(by actor: String) async {
        paused = true
        try? await store.setControl("paused", "true")
        logger.notice("automatic failover paused", metadata: ["actor": "\(actor)"])
        refreshState()
    }

    public func resume(by actor: String) async {
        paused = false
        blockedReported = false
        try? await store.setControl("paused", nil)
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
            let others = topology.allEndpoints.map(\.name)
            let snapshot = await monitor.confirm(endpoints: others, minimumTimeout: Self.confirmationTimeout)
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
        try? await store.setControl("fenced", fenced.sorted().joined(separator: ","))
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

    /// Reads the control values and closes or completes what a crash interrupted.
    func restore() async {
        // Each start of the service is a new generation of routing tables, in the high 32 bits of
        // the epoch: a restarted daemon's tables are newer than any its predecessor published, so a
        // separate proxy that kept the last one follows the new daemon again.
        let generation = ((try? await store.control("routing_generation")).flatMap { UInt64($0) } ?? 0) + 1
        try? await store.setControl("routing_generation", String(generation))
        paused = (try? await store.control("paused")) == "true"
        promotionInDoubt = try? await store.control("promotion_in_doubt")
        writeTarget = try? await store.control("write_target")
        fenced = Set(((try? await store.control("fenced")) ?? "").split(separator: ",").map(String.init))
        if let text = try? await store.control("last_automatic_failover_at"), let seconds = Double(text) {
            lastAutomaticFailoverAt = Date(timeIntervalSince1970: seconds)
        }
        let interrupted = (try? await store.operationsInProgress()) ?? []
        for stored in interrupted {
            guard var record = try? OperationRecord.decoder().decode(OperationRecord.self, from: stored.payload) else {
                continue
            }
            let entries = (try? await store.journal(operationID: record.id)) ?? []
            var promotedEndpoint =
                entries.last { $0.step == "promotion" && $0.phase == "finished" }
                .flatMap { record.newPrimary ?? $0.detail.fact("promoted") }
            var inDoubt: String?
            if promotedEndpoint == nil,
                let sent = entries.last(where: { $0.step == "promotion" && $0.phase != "finished" })?.detail.fact(
                    "candidate")
            {
                // The promotion may have been sent: ask the candidate whether it became a primary.
                switch try? await operations.isInRecovery(sent) {
                case false?: promotedEndpoint = sent
                case true?: break
                case nil: inDoubt = sent
                }
            }
            if let inDoubt {
                // It may become the primary at any moment: final. The old primary stays fenced.
                promotionInDoubt = inDoubt
                try? await store.setControl("promotion_in_doubt", inDoubt)
                fenced.insert(record.oldPrimary)
                try? await store.setControl("fenced", fenced.sorted().joined(separator: ","))
                record.status = "failed"
                record.error =
                    "the control plane stopped after sending the promotion of \(inDoubt), which does not answer: "
                    + "it is final; \(record.oldPrimary) stays fenced"
            } else if let newPrimary = promotedEndpoint {
                // The journal says a promotion happened: it is final. Route to it and finish.
                writeTarget = newPrimary
                record.newPrimary = newPrimary
                record.status = "completed"
                record.error = "the control plane restarted after promotion; routing completed on restart"
                try? await store.setControl("write_target", newPrimary)
                fenced.remove(newPrimary)
                fenced.insert(record.oldPrimary)
                if record.kind == .automaticFailover {
                    // It counts for anti-flapping like any completed automatic failover.
                    lastAutomaticFailoverAt = now()
                    try? await store.setControl(
                        "last_automatic_failover_at", String(lastAutomaticFailoverAt!.timeIntervalSince1970))
                }
                try? await store.setControl("fenced", fenced.sorted().joined(separator: ","))
            } else {
                record.status = "abandoned"
                record.error = "the control plane stopped before any promotion; nothing was promoted"
                if record.step("promotion") != nil || entries.contains(where: { $0.step == "fencing" }) {
                    // The old primary may have been fenced: lift it, it is still the primary.
                    try? await operations.unfence(record.oldPrimary)
                    fenced.remove(record.oldPrimary)
                    try? await store.setControl("fenced", fenced.sorted().joined(separator: ","))
                }
            }
            record.finishedAt = now()
            await persist(record)
            await journal(record.id, "recovery", "note", ["status": record.status, "reason": record.error ?? ""])
            logger.warning(
                "interrupted operation closed",
                metadata: ["failover_id": "\(record.id)", "status": "\(record.status)"])
        }
        routingState.withLock { $0.epoch = max($0.epoch, generation << 32) }
        publishRouting()
    }

    func handle(_ snapshot: HealthSnapshot) async {
        // While the process stops, probes end with cancellation errors: they say nothing about the
        // databases, and no decision may be taken on them.
        guard !Task.isCancelled else { return }
        latest = snapshot
        notePrimaryPosition(snapshot)
        reportEndpointChanges(snapshot)
        checkReceiverTimeouts(snapshot)
        // After a restart, nothing is fenced or decided before the stored write target has been
        // compared with what every server says.
        if writeTarget != nil && !writeTargetReconciled {
            await reconcileWriteTarget(snapshot)
            guard writeTargetReconciled else {
                refreshState()
                return
            }
        }
        // While an operation runs, its candidate becomes a primary before it is the write target:
        // it must not be fenced as a returning old primary.
        if running == nil {
            await adoptPromotionInDoubt(snapshot)
            await fenceReturnedPrimaries(snapshot)
        }
        if writeTarget == nil { await adoptWriteTarget(snapshot) }
        refreshState()
        guard running == nil, let primary = writeTarget else { return }

        switch DetectionPolicy.assess(
            primary: primary, snapshot: snapshot, topology: topology, staleness: settings.streamStaleness,
            fenced: fenced)
        {
        case .healthy, .suspect:
            partitionSuspectedSince = nil
            partitionReported = false
            blockedReported = false
        case .failed, .partitionSuspected:
            // Ask the standbys now, all at once: the snapshot may predate the failure. Each such
            // probe publishes snapshots that come back here, so while the verdict stands (a
            // partition can last) re-ask at most every `confirmationSpacing`, not in a tight loop.
            let fresh: HealthSnapshot
            if let last = lastConfirmationAt, now().timeIntervalSince(last) < Self.confirmationSpacing.seconds {
                fresh = snapshot
            } else {
                lastConfirmationAt = now()
                let others = topology.allEndpoints.map(\.name).filter { $0 != primary }
                // On the flow's own threads, with time enough for a busy machine: a standby that
                // could not be asked counts for the primary, so a slow answer delays, never decides.
                fresh = await monitor.confirm(endpoints: others, minimumTimeout: Self.confirmationTimeout)
            }
            guard !Task.isCancelled else { return }
            latest = fresh
            guard running == nil, writeTarget == primary else { return }
            let verdict = DetectionPolicy.assess(
                primary: primary, snapshot: fresh, topology: topology, staleness: settings.streamStaleness,
                fenced: fenced)
            switch verdict {
            case .failed(let evidence):
                partitionSuspectedSince = nil
                await failoverAutomatically(from: primary, evidence: evidence, snapshot: fresh)
            case .partitionSuspected(let evidence):
                notePartition(primary: primary, evidence: evidence)
            case .healthy, .suspect:
                break
            }
        }
    }

    func failoverAutomatically(from primary: String, evidence: DetectionEvidence, snapshot: HealthSnapshot)
        async
    {
        // After a failed attempt (e.g. no standby answered), wait before the next one instead of
        // starting one per snapshot; failover_failed has been sent already.
        if let retryAt = nextAutomaticAttemptAt, now() < retryAt { return }
        let blockedBy: (reason: String, action: String)?
        if paused {
            blockedBy = ("automatic failover is paused", "resume it, or fail over by hand")
        } else if !AntiFlapPolicy.allowsAutomaticFailover(
            lastAutomaticFailoverAt: lastAutomaticFailoverAt, now: now(),
            minimumInterval: settings.minimumFailoverInterval)
        {
            blockedBy = (
                "the last automatic failover was less than \(settings.minimumFailoverInterval) ago",
                "check why the new primary failed, then fail over by hand"
            )
        } else if let promotionInDoubt {
            blockedBy = (
                "the promotion of \(promotionInDoubt) was sent but not confirmed; it may still become the primary",
                "check \(promotionInDoubt): once it is a primary the control plane routes to it"
            )
        } else {
            blockedBy = safetyBlock(oldPrimary: primary, snapshot: snapshot)
        }
        if let blockedBy {
            if !blockedReported {
                blockedReported = true
                emit(
                    .failoverBlocked, .critical, endpoint: primary,
                    summary: "primary \(primary) is down but \(blockedBy.reason); an operator must act",
                    facts: [
                        "reason": blockedBy.reason, "action": blockedBy.action,
                        "failures": String(evidence.consecutiveFailures),
                    ])
                logger.critical(
                    "failover needed but blocked",
                    metadata: ["endpoint": "\(primary)", "reason": "\(blockedBy.reason)"])
            }
            return
        }
        let record = try? await execute(
            kind: .automaticFailover, mode: .automatic,
            trigger: "primary \(primary) failed \(evidence.consecutiveFailures) probes; standbys confirm",
            requestedBy: nil, evidence: evidence)
        nextAutomaticAttemptAt =
            record?.status == "completed" ? nil : now().addingTimeInterval(Self.retryAfterFailedAttempt.seconds)
    }

    /// Why promoting now could lose acknowledged commits or leave two servers taking writes, with
    /// what an operator can do; nil when it is safe.
    func safetyBlock(oldPrimary: String, snapshot: HealthSnapshot) -> (reason: String, action: String)? {
        let old = snapshot[endpoint: oldPrimary]
        switch QuorumRule.assess(
            oldPrimary: oldPrimary, synchronousStandbyNames: old?.synchronousStandbyNames, snapshot: snapshot,
            topology: topology)
        {
        case .safe:
            return nil
        case .blocked(let unreachable, let count):
            return (
                "\(unreachable.joined(separator: ", ")) of its synchronous standbys cannot be reached and "
                    + "\(count) acknowledgement(s) make a commit: a commit may live only there, and "
                    + "\(oldPrimary) may still be committing with them",
                "bring back \(unreachable.joined(separator: " or ")), or make sure \(oldPrimary) is stopped and "
                    + "accept the loss: failoverctl failover --region REGION --force"
            )
        case .asynchronous:
            if old?.lastFailureRefused == true || settings.fencingCommand != nil || settings.allowUnfencedPromotion {
                return nil
            }
            return (
                "replication is asynchronous and \(oldPrimary) may still be running (its probes time out, "
                    + "no fencing_command is configured): it would keep committing beside a new primary",
                "stop \(oldPrimary) and fail over by hand (failoverctl failover --region REGION --force), or "
                    + "configure failover.fencing_command"
            )
        }
    }

    /// Says once per standby when its `wal_receiver_timeout` makes detection unreliable: a standby
    /// asks a silent upstream for a reply after half of it, so with a long timeout the last-message
    /// age of a live primary's idle standby can pass `stream_staleness`, and that standby would
    /// vote "lost stream" for a primary that is only cut off from the control plane.
    func checkReceiverTimeouts(_ snapshot: HealthSnapshot) {
        let staleness = settings.streamStaleness.seconds * 1000
        for health in snapshot.endpoints where health.reachable && health.role == .standby {
            guard let timeout = health.walReceiverTimeoutMilliseconds, !receiverTimeoutChecked.contains(health.endpoint)
            else { continue }
            receiverTimeoutChecked.insert(health.endpoint)
            if timeout == 0 || timeout / 2 + 250 > staleness {
                logger.warning(
                    "wal_receiver_timeout too long for detection",
                    metadata: [
                        "endpoint": "\(health.endpoint)",
                        "wal_receiver_timeout_ms": "\(Int(timeout))",
                        "stream_staleness_ms": "\(Int(staleness))",
                        "meaning":
                            "an idle standby of a live primary may look as if it lost its stream, so a partition between the control plane and the primary could be taken for a dead primary; set wal_receiver_timeout to 2s (at most 2 x (stream_staleness - 250ms)) on this standby",
                    ])
            }
        }
    }

    func notePartition(primary: String, evidence: DetectionEvidence) {
        let at = now()
        guard let since = partitionSuspectedSince else {
            partitionSuspectedSince = at
            return
        }
        // A hang looks like this for a moment (standbys notice a silent primary only after their
        // staleness bound), so report only a suspicion that outlives that bound.
        guard !partitionReported, at.timeIntervalSince(since) >= settings.streamStaleness.seconds else { return }
        partitionReported = true
        emit(
            .partitionSuspected, .high, endpoint: primary,
            summary:
                "the control plane cannot reach primary \(primary), but its standbys still receive WAL from it: no failover",
            facts: [
                "still_receiving": evidence.stillReceiving.joined(separator: ","),
                "lost_stream": evidence.lostStream.joined(separator: ","),
                "last_error": evidence.lastError ?? "",
            ])
        logger.error("partition suspected", metadata: ["endpoint": "\(primary)"])
    }

    // MARK: The seven steps

    func execute(
        kind: OperationKind, mode: SelectionMode, trigger: String, requestedBy: String?,
        evidence: DetectionEvidence?
    ) async throws(FailoverError) -> OperationRecord {
        if let running { throw .conflict(running.rawValue.replacingOccurrences(of: "_", with: " ")) }
        guard let oldPrimary = writeTarget ?? topology.initialPrimary?.name else {
            throw .failed("no primary is known")
        }
        // Claimed before the first suspension: a reentrant request sees it and is refused.
        running = kind
        storeFailure = nil
        defer {
            running = nil
            refreshState()
        }
        // A dead primary takes no writes anyway: hold new ones from now. A requested operation
        // holds them from the fence, when writes actually stop.
        if kind == .automaticFailover { publishRouting(writesPaused: true) }
        refreshState()

        let startedAt = now()
        let snapshotAtStart = latest ?? monitor.latest
        let known = knownPosition(of: oldPrimary, in: snapshotAtStart)
        let oldHealth = snapshotAtStart[endpoint: oldPrimary]
        var record = OperationRecord(
            id: UUID().uuidString.lowercased(), kind: kind, status: "in_progress", trigger: trigger,
            requestedBy: requestedBy, oldPrimary: oldPrimary, oldRegion: topology.endpoint(named: oldPrimary)?.region,
            newPrimary: nil, newRegion: nil, plan: nil,
            onsetAt: kind == .automaticFailover
                ? oldHealth?.failingSince ?? oldHealth?.lastSuccessAt ?? startedAt : nil,
            lastGoodProbeAt: oldHealth?.lastSuccessAt,
            detectedAt: startedAt, finishedAt: nil, steps: [], oldPrimaryPosition: known?.lsn.description,
            oldPrimaryPositionSource: known == nil ? "unknown" : "last_probe", promotedPosition: nil, rpoBytes: nil,
            rtoSeconds: nil, replicationMode: topology.replication.mode.rawValue, error: nil)
        await persist(record)
        let operationID = record.id
        let log = logger.with(["failover_id": "\(operationID)", "kind": "\(kind.rawValue)"])
        log.notice("operation started", metadata: ["old_primary": "\(oldPrimary)", "trigger": "\(trigger)"])

        // 1. Detection: what was seen, journaled.
        await step(&record, "detection") {
            var facts = ["trigger": trigger]
            if let evidence {
                facts["still_receiving"] = evidence.stillReceiving.joined(separator: ",")
                facts["lost_stream"] = evidence.lostStream.joined(separator: ",")
                facts["unreachable"] = evidence.unreachable.joined(separator: ",")
                facts["failures"] = String(evidence.consecutiveFailures)
            }
            return facts
        }

        // 2. Alert: emitted, never awaited.
        await step(&record, "alert") {
            emit(
                .failoverTriggered, .critical, endpoint: oldPrimary,
                summary:
                    "\(kind.rawValue.replacingOccurrences(of: "_", with: " ")) of \(oldPrimary) started: \(trigger)",
                facts: ["failover_id": operationID, "trigger": trigger])
            return ["event": ControlEvent.Kind.failoverTriggered.rawValue]
        }

        // 3. Selection, on positions read at one moment: an automatic failover has just probed the
        // standbys; a requested operation probes everything now.
        if kind != .automaticFailover {
            latest = await monitor.confirm(
                endpoints: topology.allEndpoints.map(\.name), minimumTimeout: Self.confirmationTimeout)
        }
        let snapshot = latest ?? monitor.latest
        let plan = CandidateSelector.plan(
            oldPrimary: oldPrimary, oldPrimaryPosition: known?.lsn, snapshot: snapshot, topology: topology, mode: mode,
            fenced: fenced)
        record.plan = plan
        await step(&record, "selection") {
            [
                "candidate": plan.candidate ?? "",
                "catch_up_from": plan.catchUpFrom ?? "",
                "rejected": plan.rejected.map { "\($0.endpoint): \($0.reason)" }.joined(separator: "; "),
                "reasons": plan.reasons.joined(separator: "; "),
                "predicted_loss_bytes": plan.predictedLossBytes.map(String.init) ?? "unknown",
            ]
        }
        guard plan.candidate != nil else {
            return await fail(&record, .noCandidate(plan.rejected), log: log)
        }

        // 4. Promotion: fence, catch up, re-point, promote (RegionalFailoverService+Promotion.swift).
        let context = OperationContext(
            kind: kind, mode: mode, oldPrimary: oldPrimary, plan: plan, snapshot: snapshot, ops: operations, log: log)
        let promotion: Promotion
        switch await promote(&record, context) {
        case .promoted(let outcome): promotion = outcome
        case .stopped(let closed): return closed
        }
        let newPrimary = promotion.newPrimary
        let candidate = promotion.candidate
        let followers = promotion.followers
        let promotedPosition = promotion.position
        let reachable = promotion.reachable
        let ops = context.ops
        fenced.remove(newPrimary)
        record.newPrimary = newPrimary
        record.newRegion = topology.endpoint(named: newPrimary)?.region
        record.promotedPosition = promotedPosition?.description
        if let old = record.oldPrimaryPosition.flatMap({ LSN($0) }), let new = promotedPosition {
            record.rpoBytes = max(0, old - new)
        }
        await persist(record)
        reachFaultPoint("after_promotion")

        // 5. Routing: the new write target, the remaining standbys, hooks.
        writeTarget = newPrimary
        try? await store.setControl("write_target", newPrimary)
        publishRouting(writesPaused: false)
        // Every other standby under the new primary; cascades stay inside their region. Those
        // already re-pointed at it before the promotion are left alone.
        let all = follows(for: newPrimary, oldPrimary: oldPrimary, snapshot: snapshot, reachable: reachable)
        let snapshotNow = latest ?? monitor.latest
        let alreadyPointed = newPrimary == candidate ? Set(followers.map(\.endpoint)) : []
        let changed = all.filter {
            !alreadyPointed.contains($0.endpoint) && snapshotNow[endpoint: $0.endpoint]?.upstream != $0.upstream
        }
        if newPrimary != candidate {
            // A later candidate was promoted: give it the synchronous standbys meant for it.
            _ = await prepare(newPrimary, oldPrimary: oldPrimary, snapshot: snapshot, ops: ops)
        }
        await step(&record, "routing") {
            var facts = ["write_target": newPrimary]
            facts.merge(await Self.repoint(changed, ops: ops), uniquingKeysWith: { $1 })
            for (index, hook) in settings.hooks.enumerated() {
                do {
                    let output = try await HookRunner.run(
                        hook, placeholders: placeholders(old: oldPrimary, new: newPrimary),
                        timeout: settings.hookTimeout, secrets: commandSecrets)
                    facts["hook_\(index)"] = output["output"] ?? ""
                } catch {
                    facts["hook_\(index)_error"] = "\(error)"
                }
            }
            return facts
        }

        // 6. Verification: writable, standbys attached.
        let expected = Set(all.filter { $0.upstream == newPrimary }.map(\.endpoint))
        let verified = await step(&record, "verification") { () async throws -> [String: String] in
            try await ops.writeProbe(newPrimary, timeout: settings.verifyTimeout)
            let deadline = ContinuousClock.now + settings.verifyTimeout
            var attached = try await ops.streamingStandbys(of: newPrimary)
            while !expected.isSubset(of: attached) && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
                attached = try await ops.streamingStandbys(of: newPrimary)
            }
            let missing = expected.subtracting(attached)
            return [
                "writable": "true", "attached": attached.sorted().joined(separator: ","),
                "missing": missing.sorted().joined(separator: ","),
            ]
        }
        if case .failure(let error) = verified {
            return await fail(&record, .failed("verification of \(newPrimary) failed: \(error)"), log: log)
        }
        let verifiedAt = record.step("verification")?.finishedAt ?? now()
        record.rtoSeconds = record.onsetAt.map { verifiedAt.timeIntervalSince($0) }

        // A planned switchover hands the old primary back as a standby when a rejoin command exists.
        if kind == .switchover, let command = settings.rejoinCommand {
            let rejoined = await step(&record, "rejoin") {
                try await HookRunner.run(
                    command, placeholders: placeholders(old: oldPrimary, new: newPrimary),
                    timeout: settings.hookTimeout,
                    secrets: commandSecrets)
            }
            if case .success = rejoined {
                fenced.remove(oldPrimary)
                fencedWhileUp.remove(oldPrimary)
                try? await store.setControl("fenced", fenced.sorted().joined(separator: ","))
                publishRouting()
            }
        }

        // 7. Notification.
        record.status = "completed"
        record.finishedAt = now()
        lastFinishedAt = record.finishedAt
        if kind == .automaticFailover {
            lastAutomaticFailoverAt = record.finishedAt
            try? await store.setControl(
                "last_automatic_failover_at", String(record.finishedAt!.timeIntervalSince1970))
        }
        let rto = record.rtoSeconds
        let rpo = record.rpoBytes
        let rpoSource = record.oldPrimaryPositionSource
        await step(&record, "notification") {
            emit(
                kind == .switchover ? .switchoverCompleted : .failoverCompleted, kind == .switchover ? .medium : .high,
                endpoint: newPrimary,
                summary: "\(newPrimary) is the primary (was \(oldPrimary)); RTO \(Self.format(rto)) s, "
                    + "RPO \(rpo.map { "\($0) bytes" } ?? "unknown")",
                facts: [
                    "failover_id": operationID, "old_primary": oldPrimary, "new_primary": newPrimary,
                    "rto_seconds": Self.format(rto), "rpo_bytes": rpo.map(String.init) ?? "unknown",
                    "rpo_source": rpoSource,
                ])
            return ["rto_seconds": Self.format(rto)]
        }
        await persist(record)
        log.notice(
            "operation completed",
            metadata: [
                "new_primary": "\(newPrimary)", "rto_seconds": "\(Self.format(record.rtoSeconds))",
                "rpo_bytes": "\(record.rpoBytes.map(String.init) ?? "unknown")",
            ])
        return record
    }

    func fail(_ record: inout OperationRecord, _ error: FailoverError, log: Logger) async -> OperationRecord {
        record.status = "failed"
        record.error = error.description
        record.finishedAt = now()
        publishRouting(writesPaused: false)
        emit(
            .failoverFailed, .critical, endpoint: record.oldPrimary,
            summary:
                "\(record.kind.rawValue.replacingOccurrences(of: "_", with: " ")) of \(record.oldPrimary) failed: \(error)",
            facts: ["failover_id": record.id, "error": error.description])
        await persist(record)
        log.error("operation failed", metadata: ["error": "\(error)"])
        return record
    }

    /// Where every reachable standby streams from once `primary` is the primary.
    func follows(
        for primary: String, oldPrimary: String, snapshot: HealthSnapshot, reachable: Set<String>
    ) -> [Follow] {
        topology.allEndpoints.compactMap { endpoint in
            guard endpoint.name != oldPrimary, endpoint.name != primary, reachable.contains(endpoint.name),
                let upstream = ReplicationLayout.expectedUpstream(
                    of: endpoint.name, primary: primary, topology: topology, snapshot: snapshot,
                    excluding: [oldPrimary])
            else { return nil }
            return Follow(endpoint: endpoint.name, upstream: upstream)
        }
    }

    /// Gives `candidate` the synchronous standbys it will wait for as primary: the configured ones
    /// other than itself that are healthy now (none: asynchronous, said in the journal).
    func prepare(
        _ candidate: String, oldPrimary: String, snapshot: HealthSnapshot, ops: DatabaseOperations
    ) async -> [String: String] {
        guard
            let names = CandidateSelector.synchronousStandbyNames(
                for: candidate, topology: topology, snapshot: snapshot, excluding: [oldPrimary])
        else { return [:] }
        do {
            try await ops.setSynchronousStandbys(candidate, names)
            return ["synchronous_standby_names": names.isEmpty ? "(none: asynchronous)" : names]
        } catch {
            return ["synchronous_standby_names_error": "\(error)"]
        }
    }

    /// Re-points standbys in parallel; returns per-standby outcomes for the journal.
    static func repoint(_ follows: [Follow], ops: DatabaseOperations) async -> [String: String] {
        await withTaskGroup(of: (String, String).self) { group in
            for follow in follows {
                group.addTask {
                    do {
                        try await ops.repoint(follow.endpoint, to: follow.upstream)
                        return ("repoint_\(follow.endpoint)", follow.upstream)
                    } catch {
                        return ("repoint_\(follow.endpoint)_error", "\(error)")
                    }
                }
            }
            var facts: [String: String] = [:]
            for await (key, value) in group { facts[key] = value }
            return facts
        }
    }

    /// Runs one step: journals it before and after, times it, records it.
    ///
    /// Until a promotion succeeded, the journal is what makes a crash recoverable: a step whose
    /// journal entry the state store refused does not run, and the operation stops (see
    /// ``storeFailure``).
    @discardableResult
    func step(
        _ record: inout OperationRecord, _ name: String, startFacts: [String: String] = [:],
        _ body: () async throws -> [String: String]
    ) async -> Result<[String: String], FailoverError> {
        let started = now()
        let beforePromotion = record.newPrimary == nil
        if !(await journal(record.id, name, "started", startFacts)), beforePromotion {
            let error = FailoverError.failed(
                "\(name) not started: the state store refused its journal entry (\(storeFailure ?? "unknown error"))")
            record.steps.append(
                StepRecord(name: name, startedAt: started, finishedAt: now(), outcome: "failed", detail: "\(error)"))
            return .failure(error)
        }
        reachFaultPoint("\(name):started")
        var entry = StepRecord(name: name, startedAt: started, finishedAt: nil, outcome: "ok", detail: "")
        let result: Result<[String: String], FailoverError>
        do {
            let facts = try await body()
            entry.detail = Self.describe(facts)
            result = .success(facts)
        } catch {
            entry.outcome = "failed"
            entry.detail = "\(error)"
            result = .failure(error as? FailoverError ?? .failed("\(name): \(error)"))
        }
        entry.finishedAt = now()
        record.steps.append(entry)
        var facts = (try? result.get()) ?? ["error": entry.detail]
        facts["seconds"] = Self.format(entry.seconds)
        await journal(record.id, name, entry.outcome == "ok" ? "finished" : "failed", facts)
        reachFaultPoint("\(name):\(entry.outcome == "ok" ? "finished" : "failed")")
        return result
    }

    /// Kills the process at a named point when `FAILOVERD_FAULT_POINT` names it (tests of crash
    /// recovery only; inert otherwise). Points: `STEP:started`, `STEP:finished`, `STEP:failed`
    /// (after the journal entry), `promotion:sent` (after `pg_promote`, before its journal entry)
    /// and `after_promotion` (after the record names the new primary).
    func reachFaultPoint(_ name: String) {
        guard faultPoint == name else { return }
        logger.critical("fault point reached: stopping the process", metadata: ["fault_point": "\(name)"])
        kill(getpid(), SIGKILL)
    }

    // MARK: Bookkeeping

    /// Writes the record; a failure is remembered in ``storeFailure``.
    @discardableResult
    func persist(_ record: OperationRecord) async -> Bool {
        guard let payload = try? Self.encoder.encode(record) else { return false }
        do {
            try await store.saveOperation(
                StateStore.Operation(
                    id: record.id, kind: record.kind.rawValue, status: record.status, startedAt: record.detectedAt,
                    finishedAt: record.finishedAt, payload: payload))
            return true
        } catch {
            storeFailure = "\(error)"
            logger.error("state store write failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// Appends a journal entry; a failure is remembered in ``storeFailure``.
    @discardableResult
    func journal(_ id: String, _ step: String, _ phase: String, _ facts: [String: String]) async -> Bool {
        let detail = (try? Self.encoder.encode(facts)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        do {
            try await store.appendJournal(
                StateStore.JournalEntry(operationID: id, step: step, phase: phase, at: now(), detail: detail))
            return true
        } catch {
            storeFailure = "\(error)"
            logger.error("journal write failed", metadata: ["error": "\(error)", "step": "\(step)"])
            return false
        }
    }

    /// Writes the fenced set; a failure is remembered in ``storeFailure``.
    func saveFenced() async {
        do {
            try await store.setControl("fenced", fenced.sorted().joined(separator: ","))
        } catch {
            storeFailure = "\(error)"
            logger.error("state store write failed", metadata: ["error": "\(error)", "key": "fenced"])
        }
    }

    func emit(
        _ kind: ControlEvent.Kind, _ severity: ControlEvent.Severity, endpoint: String?, summary: String,
        facts: [String: String]
    ) {
        let event = ControlEvent(
            kind: kind, severity: severity, cluster: topology.name,
            region: endpoint.flatMap { topology.endpoint(named: $0)?.region }, endpoint: endpoint, summary: summary,
            facts: facts, at: now(), dedupKey: "\(topology.name)/\(kind.rawValue)/\(endpoint ?? "-")")
        events.emit(event)
    }

    func publishRouting(writesPaused: Bool? = nil) {
        let table = routingState.withLock { table in
            let paused = writesPaused ?? table.writesPaused
            let fencedList = fenced.sorted()
            if table.writeTarget != writeTarget || table.writesPaused != paused || table.fenced != fencedList {
                table = RoutingTable(
                    epoch: table.epoch + 1, writeTarget: writeTarget, writesPaused: paused, fenced: fencedList)
            }
            return table
        }
        for continuation in routingSubscribers.continuations.withLock({ Array($0.values) }) {
            continuation.yield(table)
        }
    }

    func refreshState() {
        let snapshot = latest ?? monitor.latest
        let state = ClusterStateRules.state(
            snapshot: snapshot, writeTarget: writeTarget, operationRunning: running != nil,
            lastFailoverFinishedAt: lastFinishedAt, now: now(), hold: settings.completeStateHold)
        if state != clusterState {
            logger.info(
                "cluster state changed", metadata: ["from": "\(clusterState.rawValue)", "to": "\(state.rawValue)"])
            clusterState = state
        }
    }

    /// The first write target: the recorded one, else the one reachable primary.
    func adoptWriteTarget(_ snapshot: HealthSnapshot) async {
        let primaries = snapshot.reachablePrimaries.filter { !fenced.contains($0.endpoint) }
        guard primaries.count == 1, let primary = primaries.first else { return }
        writeTarget = primary.endpoint
        try? await store.setControl("write_target", primary.endpoint)
        publishRouting()
        logger.notice("write target adopted", metadata: ["endpoint": "\(primary.endpoint)"])
    }

    /// After a restart, the stored write target against what the servers report: a stored target
    /// that answers as a standby while exactly one other, unfenced server is a primary was replaced
    /// while this daemon was away (by an operator, or a promotion it could not confirm). Route to
    /// the primary that exists rather than to a standby; anything less clear is left to an operator.
    func reconcileWriteTarget(_ snapshot: HealthSnapshot) async {
        guard running == nil, let stored = writeTarget, let health = snapshot[endpoint: stored] else { return }
        // Every server probed at least once since this start (answering or not): only then is "the
        // one other primary" known.
        guard snapshot.endpoints.allSatisfy({ $0.lastProbeAt != nil }) else { return }
        writeTargetReconciled = true
        guard health.reachable else { return }
        guard health.role == .standby else { return }
        let primaries = snapshot.reachablePrimaries.filter { !fenced.contains($0.endpoint) }
        guard primaries.count == 1, let primary = primaries.first else {
            logger.critical(
                "the stored write target is a standby and no single other primary answers; an operator must act",
                metadata: ["write_target": "\(stored)", "primaries": "\(primaries.map(\.endpoint))"])
            return
        }
        writeTarget = primary.endpoint
        try? await store.setControl("write_target", primary.endpoint)
        publishRouting()
        logger.warning(
            "stored write target is a standby; routing to the one primary",
            metadata: ["stored": "\(stored)", "endpoint": "\(primary.endpoint)"])
    }

    func notePrimaryPosition(_ snapshot: HealthSnapshot) {
        guard let primary = writeTarget, let health = snapshot[endpoint: primary], health.reachable,
            let lsn = health.currentLSN, let at = health.lastSuccessAt
        else { return }
        lastPrimaryPosition = (primary, lsn, at)
    }

    func knownPosition(of endpoint: String, in snapshot: HealthSnapshot) -> (lsn: LSN, at: Date)? {
        if let last = lastPrimaryPosition, last.endpoint == endpoint { return (last.lsn, last.at) }
        guard let health = snapshot[endpoint: endpoint], let lsn = health.currentLSN else { return nil }
        return (lsn, health.lastSuccessAt ?? now())
    }

    func reportEndpointChanges(_ snapshot: HealthSnapshot) {
        for health in snapshot.endpoints {
            if health.isDown && !downEndpoints.contains(health.endpoint) {
                downEndpoints.insert(health.endpoint)
                emit(
                    .endpointDown, health.endpoint == writeTarget ? .critical : .high, endpoint: health.endpoint,
                    summary: "\(health.endpoint) (\(health.address)) failed \(health.consecutiveFailures) probes",
                    facts: ["last_error": health.lastError ?? "", "failures": String(health.consecutiveFailures)])
            } else if !health.isDown && health.reachable && downEndpoints.contains(health.endpoint) {
                downEndpoints.remove(health.endpoint)
                emit(
                    .endpointRecovered, .low, endpoint: health.endpoint,
                    summary: "\(health.endpoint) (\(health.address)) answers again", facts: [:])
            }
        }
    }

    /// An endpoint that says it is a primary but is not the write target is fenced at once and
    /// never routed to; only an operator rejoins it.
    func fenceReturnedPrimaries(_ snapshot: HealthSnapshot) async {
        for health in snapshot.endpoints where health.endpoint != writeTarget && writeTarget != nil {
            if !health.reachable {
                fencedWhileUp.remove(health.endpoint)
                continue
            }
            guard health.role == .primary, !fencedWhileUp.contains(health.endpoint) else { continue }
            fencedWhileUp.insert(health.endpoint)
            fenced.insert(health.endpoint)
            try? await store.setControl("fenced", fenced.sorted().joined(separator: ","))
            publishRouting()
            var outcome = "fenced read-only"
            do {
                _ = try await operations.fence(health.endpoint)
            } catch {
                outcome = "fencing failed: \(error)"
            }
            emit(
                .oldPrimaryReturned, .critical, endpoint: health.endpoint,
                summary:
                    "\(health.endpoint) came back as a primary while \(writeTarget ?? "?") is the primary: \(outcome)",
                facts: ["write_target": writeTarget ?? "", "outcome": outcome])
            logger.critical(
                "old primary returned", metadata: ["endpoint": "\(health.endpoint)", "outcome": "\(outcome)"])
        }
    }

    func placeholders(old: String, new: String) -> [String: String] {
        let oldEndpoint = topology.endpoint(named: old)
        let newEndpoint = topology.endpoint(named: new)
        return [
            "cluster": topology.name, "old_primary": old, "new_primary": new, "endpoint": old, "primary": new,
            "host": oldEndpoint?.host ?? "", "port": oldEndpoint.map { String($0.port) } ?? "",
            "old_host": oldEndpoint?.host ?? "", "old_port": oldEndpoint.map { String($0.port) } ?? "",
            "new_host": newEndpoint?.host ?? "", "new_port": newEndpoint.map { String($0.port) } ?? "",
        ]
    }

    /// Values a command's output must never carry into the journal or the API.
    var commandSecrets: [String] { [topology.connection.password?.reveal()].compactMap(\.self) }

    static let encoder = OperationRecord.encoder()

    static func describe(_ facts: [String: String]) -> String {
        facts.sorted { $0.key < $1.key }.filter { !$0.value.isEmpty }.map { "\($0.key)=\($0.value)" }
            .joined(separator: " ")
    }

    static func format(_ seconds: Double?) -> String {
        seconds.map { String(format: "%.3f", $0) } ?? "unknown"
    }
}

extension String {
    /// One fact of a journal entry's detail.
    fileprivate func fact(_ key: String) -> String? {
        guard let data = data(using: .utf8),
            let facts = try? JSONDecoder().decode([String: String].self, from: data)
        else { return nil }
        return facts[key]
    }
}

extension Logger {
    fileprivate func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (key, value) in metadata { copy[metadataKey: key] = value }
        return copy
    }
}
