import Foundation
import Health
import Logging
import Postgres
import ServiceLifecycle
import Synchronization
import Topology
import Vocabulary

#if canImport(Glibc)
    import Glibc
#endif

/// Every snapshot: report what changed, fence returning primaries, and decide whether the primary
/// failed (detection, the partition rule, the gates before an automatic failover).
extension RegionalFailoverService {
    func handle(_ snapshot: HealthSnapshot) async {
        // While the process stops, probes end with cancellation errors: they say nothing about the
        // databases, and no decision may be taken on them.
        guard !Task.isCancelled else { return }
        latest = snapshot
        notePrimaryPosition(snapshot)
        reportEndpointChanges(snapshot)
        checkReceiverTimeouts(snapshot)
        checkSynchronousQuorum(snapshot)
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
        if snapshot[endpoint: primary]?.isHealthy == true { reattachStrays(snapshot, primary: primary) }

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
                // While some standby keeps timing out, each round gives them twice the time (up to
                // 4 s): on a starved machine the verdict comes later, but it comes.
                fresh = await monitor.confirm(endpoints: others, minimumTimeout: confirmationTimeoutNow)
                let timedOut = fresh.endpoints.contains {
                    $0.endpoint != primary && !$0.reachable && !$0.lastFailureRefused
                }
                confirmationTimeoutNow =
                    timedOut
                    ? min(confirmationTimeoutNow * 2, Self.longestConfirmationTimeout) : Self.confirmationTimeout
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

    /// Probes every server for a requested operation (switchover, manual failover, dry run) on the
    /// flow's own threads. A server that timed out (not one that refused) is asked again, twice,
    /// with twice the time each round: on a starved machine a connection with its authentication
    /// can take more than a second, and an operator's target must not be rejected as unreachable
    /// for that. A server that never answers costs 1 + 2 + 4 s at most.
    func askEveryServer() async -> HealthSnapshot {
        var timeout = Self.confirmationTimeout
        var snapshot = await monitor.confirm(endpoints: topology.allEndpoints.map(\.name), minimumTimeout: timeout)
        for _ in 0..<2 {
            let unanswered = snapshot.endpoints.filter { !$0.reachable && !$0.lastFailureRefused }.map(\.endpoint)
            guard !unanswered.isEmpty else { break }
            timeout = timeout * 2
            snapshot = await monitor.confirm(endpoints: unanswered, minimumTimeout: timeout)
        }
        return snapshot
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

    /// Says when the primary has fewer synchronous standbys streaming than `synchronous_standby_names`
    /// needs: every commit then waits, although the primary answers every probe (its probes are
    /// reads). Reported once the condition has lasted `stream_staleness` (a standby re-connecting is
    /// not news), resolved when enough stream again.
    func checkSynchronousQuorum(_ snapshot: HealthSnapshot) {
        guard running == nil, let primary = writeTarget, let health = snapshot[endpoint: primary],
            health.reachable, health.role == .primary, health.replicationKnown,
            let set = SynchronousStandbySet.parse(health.synchronousStandbyNames ?? "")
        else { return }
        let streaming = health.replication.filter { peer in
            peer.state == "streaming" && (set.members.contains("*") || set.members.contains(peer.applicationName))
        }.map(\.applicationName)
        if streaming.count >= set.count {
            quorumShortSince = nil
            if quorumLostReported {
                quorumLostReported = false
                emit(
                    .synchronousQuorumRestored, .low, endpoint: primary,
                    summary: "\(primary) has its synchronous standbys again (\(streaming.joined(separator: ", ")))",
                    facts: ["streaming": streaming.joined(separator: ","), "needed": String(set.count)])
            }
            return
        }
        let at = now()
        guard let since = quorumShortSince else {
            quorumShortSince = at
            return
        }
        guard !quorumLostReported, at.timeIntervalSince(since) >= settings.streamStaleness.seconds else { return }
        quorumLostReported = true
        emit(
            .synchronousQuorumLost, .high, endpoint: primary,
            summary:
                "\(primary) needs \(set.count) synchronous standby acknowledgement(s) per commit but only "
                + "\(streaming.count) of \(set.members.joined(separator: ", ")) stream(s): commits wait",
            facts: [
                "streaming": streaming.joined(separator: ","), "needed": String(set.count),
                "synchronous_standby_names": health.synchronousStandbyNames ?? "",
            ])
        logger.error("synchronous quorum lost", metadata: ["endpoint": "\(primary)"])
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
                "the control plane cannot reach primary \(primary), but its standbys do not confirm that it is down "
                + "(they still receive WAL from it, or cannot be asked either): no failover",
            facts: [
                "still_receiving": evidence.stillReceiving.joined(separator: ","),
                "lost_stream": evidence.lostStream.joined(separator: ","),
                "unreachable": evidence.unreachable.joined(separator: ","),
                "last_error": evidence.lastError ?? "",
            ])
        logger.error("partition suspected", metadata: ["endpoint": "\(primary)"])
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
            try? await store.setFenced(fenced)
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
}
