public import Foundation
public import Postgres

extension HealthSnapshot {
    /// The primary's WAL position, against which standbys' byte lag is measured: the
    /// ``EndpointHealth/currentLSN`` of the reachable endpoint that says it is primary (the highest,
    /// if several do), else `lastKnown`, so a standby's lag stays meaningful after the primary died.
    ///
    /// - Parameters:
    ///   - trackers: Every endpoint's tracker.
    ///   - lastKnown: The position this function returned last time, kept by the caller.
    public static func primaryPosition(of trackers: [EndpointHealthTracker], lastKnown: LSN?) -> LSN? {
        let positions = trackers.compactMap { tracker in
            tracker.reachable && tracker.role == .primary ? tracker.currentLSN : nil
        }
        return positions.max() ?? lastKnown
    }

    /// Builds one snapshot from every endpoint's tracker.
    ///
    /// - Parameters:
    ///   - sequence: The snapshot's number, one more than the previous one.
    ///   - takenAt: When it was built.
    ///   - trackers: Every endpoint's tracker, in the topology's order (kept in the snapshot).
    ///   - primaryPosition: The primary's position, from ``primaryPosition(of:lastKnown:)``.
    public static func assemble(
        sequence: UInt64,
        takenAt: Date,
        trackers: [EndpointHealthTracker],
        primaryPosition: LSN?
    ) -> HealthSnapshot {
        let names = EndpointHealthTracker.endpointsByAddress(trackers.map(\.endpoint))
        return HealthSnapshot(
            sequence: sequence,
            takenAt: takenAt,
            endpoints: trackers.map { $0.health(primaryPosition: primaryPosition, endpointsByAddress: names) }
        )
    }
}
