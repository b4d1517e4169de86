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

/// Start of the service: the control values, the operations a crash interrupted, and the stored
/// write target compared with what the servers say.
extension RegionalFailoverService {
    /// Reads the control values and closes or completes what a crash interrupted.
    func restore() async {
        // Each start of the service is a new generation of routing tables, in the high 32 bits of
        // the epoch: a restarted daemon's tables are newer than any its predecessor published, so a
        // separate proxy that kept the last one follows the new daemon again.
        let generation = (try? await store.nextRoutingGeneration()) ?? 1
        let values = (try? await store.controlValues()) ?? ControlValues()
        paused = values.paused
        promotionInDoubt = values.promotionInDoubt
        writeTarget = values.writeTarget
        fenced = values.fenced
        lastAutomaticFailoverAt = values.lastAutomaticFailoverAt
        let interrupted = (try? await store.recordsInProgress()) ?? []
        for var record in interrupted {
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
                try? await store.setPromotionInDoubt(inDoubt)
                fenced.insert(record.oldPrimary)
                try? await store.setFenced(fenced)
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
                try? await store.setWriteTarget(newPrimary)
                fenced.remove(newPrimary)
                fenced.insert(record.oldPrimary)
                if record.kind == .automaticFailover {
                    // It counts for anti-flapping like any completed automatic failover.
                    lastAutomaticFailoverAt = now()
                    try? await store.setLastAutomaticFailover(at: lastAutomaticFailoverAt)
                }
                try? await store.setFenced(fenced)
            } else {
                record.status = "abandoned"
                record.error = "the control plane stopped before any promotion; nothing was promoted"
                if record.step("promotion") != nil || entries.contains(where: { $0.step == "fencing" }) {
                    // The old primary may have been fenced: lift it, it is still the primary.
                    try? await operations.unfence(record.oldPrimary)
                    fenced.remove(record.oldPrimary)
                    try? await store.setFenced(fenced)
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

    /// The first write target: the recorded one, else the one reachable primary.
    func adoptWriteTarget(_ snapshot: HealthSnapshot) async {
        let primaries = snapshot.reachablePrimaries.filter { !fenced.contains($0.endpoint) }
        guard primaries.count == 1, let primary = primaries.first else { return }
        await routeWrites(to: primary.endpoint)
        logger.notice("write target adopted", metadata: ["endpoint": "\(primary.endpoint)"])
    }

    /// Makes `endpoint` the write target: stored, then published to the routing table's followers.
    private func routeWrites(to endpoint: String) async {
        writeTarget = endpoint
        try? await store.setWriteTarget(endpoint)
        publishRouting()
    }

    /// Logs once per start that the servers contradict the stored write target and nothing is done.
    private func reportUnclearWriteTarget(_ message: Logger.Message, stored: String, primaries: [EndpointHealth]) {
        guard !reconcileReported else { return }
        reconcileReported = true
        logger.critical(message, metadata: ["write_target": "\(stored)", "primaries": "\(primaries.map(\.endpoint))"])
    }

    /// After a restart, the stored write target against what the servers report: a stored target
    /// that answers as a standby while exactly one other, unfenced server is a primary, or that does
    /// not answer at all while exactly one other is a primary on a newer timeline, was replaced
    /// while this daemon was away (by an operator, a promotion it could not confirm, or a state file
    /// restored from an older backup). Route to the primary that exists rather than fence it;
    /// anything less clear is left to an operator.
    func reconcileWriteTarget(_ snapshot: HealthSnapshot) async {
        guard running == nil, let stored = writeTarget, let health = snapshot[endpoint: stored] else { return }
        // Every server probed at least once since this start (answering or not): only then is "the
        // one other primary" known.
        guard snapshot.endpoints.allSatisfy({ $0.lastProbeAt != nil }) else { return }
        guard health.reachable else {
            // Not answering since this start. Until it is down (a slow first probe), keep asking.
            guard health.isDown else { return }
            let others = snapshot.reachablePrimaries.filter { !fenced.contains($0.endpoint) }
            guard let other = others.first else {
                // No other primary: detection decides, as for any primary that stops answering.
                writeTargetReconciled = true
                return
            }
            // Another server is a primary: promoted while this daemon was away, or the state file
            // is older than the last failover. Fencing it would stop the cluster's writes for a
            // stored name; route to it when it is clearly the successor: the only primary, on a
            // newer timeline than every other server reports (a promotion starts a new timeline).
            let newest =
                snapshot.endpoints.filter { $0.endpoint != other.endpoint && $0.reachable }
                .compactMap(\.timeline).max() ?? 1
            if others.count == 1, let timeline = other.timeline, timeline > newest {
                writeTargetReconciled = true
                await routeWrites(to: other.endpoint)
                logger.critical(
                    "the stored write target does not answer and another server is the primary on a newer timeline; routing to it",
                    metadata: ["stored": "\(stored)", "endpoint": "\(other.endpoint)", "timeline": "\(timeline)"])
                return
            }
            // Neither fence nor fail over while the servers contradict the store this way.
            reportUnclearWriteTarget(
                "the stored write target does not answer and other servers are primaries; waiting, or an operator acts",
                stored: stored, primaries: others)
            return
        }
        guard health.role == .standby else {
            writeTargetReconciled = true
            return
        }
        let primaries = snapshot.reachablePrimaries.filter { !fenced.contains($0.endpoint) }
        guard primaries.count == 1, let primary = primaries.first else {
            // Neither fence nor fail over while the servers contradict the store: a primary that
            // did not answer this round may answer the next. An operator can act meanwhile.
            reportUnclearWriteTarget(
                "the stored write target is a standby and no single other primary answers; waiting, or an operator acts",
                stored: stored, primaries: primaries)
            return
        }
        writeTargetReconciled = true
        await routeWrites(to: primary.endpoint)
        logger.warning(
            "stored write target is a standby; routing to the one primary",
            metadata: ["stored": "\(stored)", "endpoint": "\(primary.endpoint)"])
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
