import Foundation
import Health
import Postgres
import Testing
import Topology

/// Which position standbys are measured against, and the snapshot built from the trackers.
@Suite struct HealthSnapshotAssemblyTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    let first = Fixtures.endpoint("a", port: 5432)
    let second = Fixtures.endpoint("b", region: "eu-west", port: 5433)
    let third = Fixtures.endpoint("c", region: "ap-south", port: 5434)

    func tracker(_ endpoint: Endpoint, _ probes: EndpointProbe...) -> EndpointHealthTracker {
        var tracker = EndpointHealthTracker(endpoint: endpoint)
        for (index, probe) in probes.enumerated() {
            tracker.record(probe, at: start + Double(index))
        }
        return tracker
    }

    @Test func theReachablePrimaryGivesThePosition() {
        let trackers = [
            tracker(first, Fixtures.primary(first, lsn: 0x3000)),
            tracker(second, Fixtures.standby(second, receive: 0x9000, replay: 0x9000)),
        ]
        #expect(HealthSnapshot.primaryPosition(of: trackers, lastKnown: LSN(0x1000)) == LSN(0x3000))
    }

    @Test func ofSeveralReachablePrimariesTheHighestCounts() {
        let trackers = [
            tracker(first, Fixtures.primary(first, lsn: 0x3000)),
            tracker(second, Fixtures.primary(second, lsn: 0x4000)),
        ]
        #expect(HealthSnapshot.primaryPosition(of: trackers, lastKnown: nil) == LSN(0x4000))
    }

    @Test func withoutAReachablePrimaryTheLastKnownPositionCounts() {
        let trackers = [
            // Was primary at 0x7000, then stopped answering.
            tracker(first, Fixtures.primary(first, lsn: 0x7000), Fixtures.failure(first)),
            tracker(second, Fixtures.standby(second)),
        ]
        #expect(HealthSnapshot.primaryPosition(of: trackers, lastKnown: LSN(0x3000)) == LSN(0x3000))
        #expect(HealthSnapshot.primaryPosition(of: trackers, lastKnown: nil) == nil)
        #expect(HealthSnapshot.primaryPosition(of: [], lastKnown: LSN(0x10)) == LSN(0x10))
    }

    @Test func theSnapshotKeepsTheTopologyOrderAndFillsLagAndUpstream() throws {
        let trackers = [
            tracker(first, Fixtures.primary(first, lsn: 0x3000)),
            tracker(second, Fixtures.standby(second, receive: 0x2000, replay: 0x2000, sender: ("localhost", 5432))),
            tracker(third, Fixtures.standby(third, receive: 0x1000, replay: 0x1000, sender: ("127.0.0.1", 5433))),
        ]
        let position = HealthSnapshot.primaryPosition(of: trackers, lastKnown: nil)
        let snapshot = HealthSnapshot.assemble(
            sequence: 7,
            takenAt: start,
            trackers: trackers,
            primaryPosition: position
        )
        #expect(snapshot.sequence == 7)
        #expect(snapshot.takenAt == start)
        #expect(snapshot.endpoints.map(\.endpoint) == ["a", "b", "c"])
        #expect(snapshot.reachablePrimaries.map(\.endpoint) == ["a"])
        let b = try #require(snapshot[endpoint: "b"])
        #expect(b.upstream == "a")
        #expect(b.lagBytes == 0x1000)
        let c = try #require(snapshot[endpoint: "c"])
        #expect(c.upstream == "b")
        #expect(c.lagBytes == 0x2000)
        #expect(snapshot[endpoint: "a"]?.lagBytes == nil)
    }
}
