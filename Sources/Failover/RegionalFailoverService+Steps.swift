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

/// The seven steps of an operation (step 4, promotion, is in RegionalFailoverService+Promotion.swift).
extension RegionalFailoverService {
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
            latest = await askEveryServer()
        }
        var snapshot = latest ?? monitor.latest
        var plan = CandidateSelector.plan(
            oldPrimary: oldPrimary, oldPrimaryPosition: known?.lsn, snapshot: snapshot, topology: topology, mode: mode,
            fenced: fenced)
        if kind == .automaticFailover {
            // A standby the failover would prefer, but which only timed out (a busy machine, or a
            // cut network): asked once more with 2 s before a less preferred one is chosen.
            let unanswered = topology.allEndpoints.map(\.name).filter { name in
                guard name != oldPrimary, let health = snapshot[endpoint: name] else { return false }
                return !health.reachable && !health.lastFailureRefused && !fenced.contains(name)
                    && CandidateSelector.wouldPrefer(
                        name, over: plan.candidate, oldPrimary: oldPrimary, topology: topology)
            }
            if !unanswered.isEmpty {
                snapshot = await monitor.confirm(endpoints: unanswered, minimumTimeout: .seconds(2))
                latest = snapshot
                plan = CandidateSelector.plan(
                    oldPrimary: oldPrimary, oldPrimaryPosition: known?.lsn, snapshot: snapshot, topology: topology,
                    mode: mode, fenced: fenced)
            }
        }
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
        try? await store.setWriteTarget(newPrimary)
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
                try? await store.setFenced(fenced)
                publishRouting()
            }
        }

        // 7. Notification.
        record.status = "completed"
        record.finishedAt = now()
        lastFinishedAt = record.finishedAt
        if kind == .automaticFailover {
            lastAutomaticFailoverAt = record.finishedAt
            try? await store.setLastAutomaticFailover(at: record.finishedAt)
        }
        let rto = record.rtoSeconds
        let rpo = record.rpoBytes
        // What an operator reading the alert needs: who, why, at which positions, at what cost.
        var completionFacts = [
            "failover_id": operationID, "old_primary": oldPrimary, "new_primary": newPrimary,
            "rto_seconds": Self.format(rto), "rpo_bytes": rpo.map(String.init) ?? "unknown",
            "rpo_source": record.oldPrimaryPositionSource, "replication_mode": record.replicationMode,
        ]
        completionFacts["new_region"] = record.newRegion
        completionFacts["old_primary_position"] = record.oldPrimaryPosition
        completionFacts["promoted_position"] = record.promotedPosition
        if let reasons = record.plan?.reasons, !reasons.isEmpty {
            completionFacts["why"] = reasons.joined(separator: "; ")
        }
        await step(&record, "notification") {
            emit(
                kind == .switchover ? .switchoverCompleted : .failoverCompleted, kind == .switchover ? .medium : .high,
                endpoint: newPrimary,
                summary: "\(newPrimary) is the primary (was \(oldPrimary)); RTO \(Self.format(rto)) s, "
                    + "RPO \(rpo.map { "\($0) bytes" } ?? "unknown")",
                facts: completionFacts)
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

    /// The facts of `failover_failed`: the error, the step that failed, and what was known.
    func failureFacts(_ record: OperationRecord, _ error: FailoverError) -> [String: String] {
        var facts = ["failover_id": record.id, "error": error.description, "old_primary": record.oldPrimary]
        facts["failed_step"] = record.steps.last { $0.outcome == "failed" }?.name ?? record.steps.last?.name
        facts["candidate"] = record.plan?.candidate
        facts["old_primary_position"] = record.oldPrimaryPosition
        facts["promoted"] = record.newPrimary
        return facts
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
            facts: failureFacts(record, error))
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
}
