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

/// The journal, the records, the events and the routing table: what every step writes.
extension RegionalFailoverService {
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

    /// Writes the record; a failure is remembered in ``storeFailure``.
    @discardableResult
    func persist(_ record: OperationRecord) async -> Bool {
        do {
            try await store.saveRecord(record)
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
                JournalEntry(operationID: id, step: step, phase: phase, at: now(), detail: detail))
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
            try await store.setFenced(fenced)
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

extension Logger {
    func with(_ metadata: Logger.Metadata) -> Logger {
        var copy = self
        for (key, value) in metadata { copy[metadataKey: key] = value }
        return copy
    }
}
