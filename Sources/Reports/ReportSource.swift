public import Foundation
public import StateStore
public import Topology
import Vocabulary

extension ReportTargets {
    /// The objectives a cluster file sets in its health settings.
    public init(_ health: HealthSettings) {
        self.init(
            rtoSeconds: health.rtoTarget.seconds, rpoSecondsSynchronous: health.rpoTargetSynchronous.seconds,
            rpoSecondsAsynchronous: health.rpoTargetAsynchronous.seconds)
    }
}

extension Duration {
    fileprivate var seconds: Double {
        let (whole, fraction) = components
        return Double(whole) + Double(fraction) / 1e18
    }
}

/// Reads history from the state store and builds reports: the only part of this module that does I/O.
public enum ReportSource {
    /// The report of the operations that started in `[from, to)`.
    ///
    /// A stored payload that does not decode as an ``OperationRecord`` is skipped rather than failing
    /// the whole report.
    public static func report(
        store: StateStore, cluster: String, from: Date, to: Date, targets: ReportTargets, now: Date = Date()
    ) async throws -> Report {
        let decoder = OperationRecord.decoder()
        var events: [EventReport] = []
        for stored in try await store.operations(from: from, to: to) {
            guard let record = try? decoder.decode(OperationRecord.self, from: stored.payload) else { continue }
            let journal = try await store.journal(operationID: record.id)
            events.append(
                EventReportBuilder.build(
                    record: record, journal: journal, startedAt: stored.startedAt, targets: targets, now: now))
        }
        return Report(cluster: cluster, generatedAt: now, from: from, to: to, targets: targets, events: events)
    }
}
