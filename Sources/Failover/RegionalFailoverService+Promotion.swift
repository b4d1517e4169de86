import Foundation
import Health
import Logging
import Postgres
import Topology
import Vocabulary

/// What every step of one operation needs to know.
struct OperationContext: Sendable {
    let kind: OperationKind
    let mode: SelectionMode
    let oldPrimary: String
    let plan: FailoverPlan
    /// The positions selection decided on.
    let snapshot: HealthSnapshot
    let ops: DatabaseOperations
    let log: Logger

    /// An operator accepted data loss (`force`).
    var force: Bool {
        switch mode {
        case .automatic: false
        case .region(_, let force), .endpoint(_, let force): force
        }
    }
}

/// A successful step 4.
struct Promotion: Sendable {
    let newPrimary: String
    /// The candidate the standbys were re-pointed at before promotion (the new primary, unless a
    /// later candidate had to be promoted).
    let candidate: String
    let followers: [Follow]
    let position: LSN?
    /// Standbys that answered at selection.
    let reachable: Set<String>
}

enum PromotionStepResult: Sendable {
    case promoted(Promotion)
    /// The operation ended (failed, restored or in doubt); its closed record.
    case stopped(OperationRecord)
}

/// What step 4 changed before promoting, so that stopping before a promotion restores it.
struct PromotionUndo: Sendable {
    var fenceAttempted = false
    /// Standbys re-pointed, with the upstream they had.
    var repointed: [Follow] = []
    /// The candidate's `synchronous_standby_names` before it was prepared.
    var candidateSynchronousNames: (endpoint: String, value: String)?
}

extension RegionalFailoverService {
    /// Step 4: fence the old primary, let the candidate catch up, re-point the standbys that will
    /// follow it, promote it.
    ///
    /// Until `pg_promote` is sent, every stop restores what this step changed (the fence, the
    /// re-pointed standbys, the candidate's synchronous standbys). Once it is sent, the promotion is
    /// final: never another candidate, never the old primary unfenced.
    func promote(_ record: inout OperationRecord, _ context: OperationContext) async -> PromotionStepResult {
        let kind = context.kind
        let oldPrimary = context.oldPrimary
        let plan = context.plan
        let ops = context.ops
        var undo = PromotionUndo()
        guard let firstChoice = plan.candidate else {
            return .stopped(await fail(&record, .noCandidate(plan.rejected), log: context.log))
        }
        if kind != .automaticFailover {
            // Writes stop here: the outage of a requested operation is measured from this moment.
            record.onsetAt = now()
            publishRouting(writesPaused: true)
        }

        // Fence.
        var oldFinalPosition: LSN?
        var fencedBySQL = false
        undo.fenceAttempted = true
        let fenceResult = await step(&record, "fencing") { () async throws -> [String: String] in
            do {
                oldFinalPosition = try await ops.fenceRetrying(oldPrimary)
                fencedBySQL = true
                return ["fenced": oldPrimary, "position": oldFinalPosition?.description ?? "unknown"]
            } catch  where kind != .switchover {
                // A dead or hung primary cannot be fenced by SQL; it is fenced when it returns.
                return ["fenced": "", "unreachable": "\(error)"]
            }
        }
        if case .failure(let error) = fenceResult {
            return .stopped(await abort(&record, context, undo, "fencing \(oldPrimary) failed: \(error)"))
        }
        if let command = settings.fencingCommand, kind != .switchover {
            let commandResult = await step(&record, "fencing_command") {
                try await HookRunner.run(
                    command, placeholders: placeholders(old: oldPrimary, new: firstChoice),
                    timeout: settings.hookTimeout, secrets: commandSecrets)
            }
            if case .failure(let error) = commandResult, !fencedBySQL, isAsynchronous(context),
                !settings.allowUnfencedPromotion
            {
                return .stopped(
                    await abort(
                        &record, context, undo,
                        "fencing_command failed and \(oldPrimary) did not answer SQL: with asynchronous replication "
                            + "it could go on committing beside a new primary (\(error))"))
            }
        }
        fenced.insert(oldPrimary)
        fencedWhileUp.insert(oldPrimary)
        await saveFenced()
        if let position = oldFinalPosition {
            record.oldPrimaryPosition = position.description
            record.oldPrimaryPositionSource = "measured"
        }

        // Catch up.
        var candidate = firstChoice
        let bestKnown = plan.promotedPosition.flatMap { LSN($0) }
        if kind == .switchover, let target = oldFinalPosition {
            // Zero loss: the target must hold every byte the fenced primary wrote.
            let reached = await step(&record, "catch_up") { () async throws -> [String: String] in
                let position = try await ops.waitForPosition(
                    candidate, atLeast: target, timeout: settings.catchUpTimeout)
                guard let position, position >= target else {
                    throw FailoverError.timedOut("\(candidate) catching up to \(target)", settings.catchUpTimeout)
                }
                return ["target": target.description, "reached": position.description]
            }
            if case .failure(let error) = reached {
                return .stopped(await abort(&record, context, undo, "switchover aborted: \(error)"))
            }
        } else if let source = plan.catchUpFrom, let target = bestKnown {
            undo.repointed.append(
                Follow(endpoint: candidate, upstream: context.snapshot[endpoint: candidate]?.upstream ?? oldPrimary))
            let caughtUp = await step(&record, "catch_up") { () async throws -> [String: String] in
                try await ops.repoint(candidate, to: source)
                let position = try await ops.waitForPosition(
                    candidate, atLeast: target, timeout: settings.catchUpTimeout)
                guard let position, position >= target else {
                    throw FailoverError.timedOut("\(candidate) catching up from \(source)", settings.catchUpTimeout)
                }
                return ["from": source, "target": target.description, "reached": position.description]
            }
            if case .failure(let error) = caughtUp {
                // Never below the best known position without force: that would drop commits
                // some standby holds.
                let fallback = plan.fallback.flatMap { name in plan.ranked.first { $0.endpoint == name } }
                let fallbackPosition = fallback?.position.flatMap { LSN($0) } ?? LSN(0)
                guard let fallback, context.force || fallbackPosition >= target else {
                    return .stopped(
                        await abort(
                            &record, context, undo,
                            "\(candidate) did not catch up (\(error)) and no eligible standby holds \(target); "
                                + "a forced manual failover may accept the loss"))
                }
                candidate = fallback.endpoint
                await journal(record.id, "catch_up", "note", ["fallback": fallback.endpoint])
            }
        }

        // Re-point the standbys that will stream straight from the new primary before promoting it:
        // they follow its timeline switch by themselves, and a synchronous commit on it finds them.
        // Only standbys that answer now: a dead one costs a timeout and can attach later.
        let snapshot = context.snapshot
        let reachable = Set(snapshot.endpoints.filter(\.isHealthy).map(\.endpoint))
        let followers = follows(for: candidate, oldPrimary: oldPrimary, snapshot: snapshot, reachable: reachable)
            .filter { $0.upstream == candidate }
        undo.repointed += followers.map {
            Follow(endpoint: $0.endpoint, upstream: snapshot[endpoint: $0.endpoint]?.upstream ?? oldPrimary)
        }
        if let names = snapshot[endpoint: candidate]?.synchronousStandbyNames {
            undo.candidateSynchronousNames = (candidate, names)
        }
        await step(&record, "repoint_before_promotion") {
            var facts = await prepare(candidate, oldPrimary: oldPrimary, snapshot: snapshot, ops: ops)
            facts.merge(await Self.repoint(followers, ops: ops), uniquingKeysWith: { $1 })
            return facts
        }
        if let storeFailure {
            return .stopped(
                await abort(
                    &record, context, undo,
                    "the state store failed (\(storeFailure)); no promotion without a journal"))
        }

        // Promote: the candidate first; another only if the first promotion was never sent and it
        // holds the best known position.
        var candidates = [candidate]
        if kind != .switchover {
            candidates += plan.ranked.filter { next in
                next.endpoint != candidate
                    && (context.force || bestKnown == nil
                        || (next.position.flatMap { LSN($0) } ?? LSN(0)) >= bestKnown!)
            }.map(\.endpoint)
        }
        var promotedPosition: LSN?
        var promoted: String?
        var inDoubt: String?
        for next in candidates.prefix(3) {
            var outcome = DatabaseOperations.PromotionOutcome.notSent("not attempted")
            let result = await step(&record, "promotion", startFacts: ["candidate": next]) {
                () async throws -> [String: String] in
                outcome = await ops.promote(next)
                reachFaultPoint("promotion:sent")
                switch outcome {
                case .promoted(let position):
                    promotedPosition = position
                    return ["promoted": next, "position": position?.description ?? "unknown"]
                case .notSent(let why):
                    throw FailoverError.failed("promotion of \(next) not sent: \(why)")
                case .inDoubt(let why):
                    throw FailoverError.failed("promotion of \(next) sent but not confirmed: \(why)")
                }
            }
            if case .success = result {
                promoted = next
                break
            }
            if case .notSent = outcome {
                if storeFailure != nil { break }
                continue
            }
            // Sent: it may become the primary at any moment, so it is final.
            if (try? await ops.isInRecovery(next)) == false {
                promoted = next
                promotedPosition = try? await ops.position(next)
                await journal(record.id, "promotion", "finished", ["promoted": next, "confirmed": "after a retry"])
            } else {
                inDoubt = next
            }
            break
        }
        guard let newPrimary = promoted else {
            if let inDoubt {
                promotionInDoubt = inDoubt
                try? await store.setPromotionInDoubt(inDoubt)
                return .stopped(
                    await fail(
                        &record,
                        .failed(
                            "the promotion of \(inDoubt) was sent but not confirmed; it is final: \(oldPrimary) stays "
                                + "fenced and \(inDoubt) becomes the write target once it answers as a primary"),
                        log: context.log))
            }
            return .stopped(await abort(&record, context, undo, "no candidate could be promoted"))
        }
        return .promoted(
            Promotion(
                newPrimary: newPrimary, candidate: candidate, followers: followers, position: promotedPosition,
                reachable: reachable))
    }

    /// Stops an operation before any promotion and restores what it changed: the old primary
    /// takes writes again (if it is alive), the standbys stream from it, the candidate waits for
    /// the standbys it waited for.
    func abort(
        _ record: inout OperationRecord, _ context: OperationContext, _ undo: PromotionUndo, _ reason: String
    ) async -> OperationRecord {
        let ops = context.ops
        let oldPrimary = context.oldPrimary
        var restored: [String: String] = [:]
        if undo.fenceAttempted {
            do {
                try await ops.unfence(oldPrimary)
                restored["unfenced"] = oldPrimary
            } catch {
                restored["unfence_error"] = "\(error)"
            }
        }
        for follow in undo.repointed {
            do {
                try await ops.repoint(follow.endpoint, to: follow.upstream)
                restored["repoint_\(follow.endpoint)"] = follow.upstream
            } catch {
                restored["repoint_\(follow.endpoint)_error"] = "\(error)"
            }
        }
        if let (endpoint, value) = undo.candidateSynchronousNames {
            do {
                try await ops.setSynchronousStandbys(endpoint, value)
                restored["synchronous_standby_names_\(endpoint)"] = value.isEmpty ? "(none)" : value
            } catch {
                restored["synchronous_standby_names_\(endpoint)_error"] = "\(error)"
            }
        }
        fenced.remove(oldPrimary)
        fencedWhileUp.remove(oldPrimary)
        try? await store.setFenced(fenced)
        publishRouting()
        await journal(record.id, "abort", "note", restored)
        return await fail(&record, .failed("\(reason); nothing was promoted, changes undone"), log: context.log)
    }

    /// Whether the old primary's commits waited for no standby.
    func isAsynchronous(_ context: OperationContext) -> Bool {
        QuorumRule.effectiveSet(
            of: context.oldPrimary, observed: context.snapshot[endpoint: context.oldPrimary]?.synchronousStandbyNames,
            topology: topology) == nil
    }

    /// A promotion the service could not confirm became real: route to it.
    func adoptPromotionInDoubt(_ snapshot: HealthSnapshot) async {
        guard let candidate = promotionInDoubt, let health = snapshot[endpoint: candidate], health.reachable,
            health.role == .primary
        else { return }
        let old = writeTarget
        promotionInDoubt = nil
        try? await store.setPromotionInDoubt(nil)
        writeTarget = candidate
        try? await store.setWriteTarget(candidate)
        fenced.remove(candidate)
        fencedWhileUp.remove(candidate)
        if let old, old != candidate {
            fenced.insert(old)
        }
        await saveFenced()
        publishRouting(writesPaused: false)
        logger.critical(
            "a promotion in doubt completed: routing to it",
            metadata: ["endpoint": "\(candidate)", "old_primary": "\(old ?? "none")"])
    }
}
