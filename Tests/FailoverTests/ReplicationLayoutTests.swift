import Failover
import Health
import Testing
import Topology
import Vocabulary

/// Who streams from whom under a given primary.
@Suite struct ReplicationLayoutTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var endpoint: String
        var primary: String
        var expected: String?
        var testDescription: String { "\(endpoint) under \(primary) → \(expected ?? "nil")" }
    }

    @Test(arguments: [
        Case(endpoint: "us-east-1", primary: "us-east-1", expected: nil),
        Case(endpoint: "us-east-2", primary: "us-east-1", expected: "us-east-1"),
        Case(endpoint: "eu-west-1", primary: "us-east-1", expected: "us-east-1"),
        Case(endpoint: "eu-west-2", primary: "us-east-1", expected: "eu-west-1"),
        Case(endpoint: "ap-south-1", primary: "us-east-1", expected: "us-east-1"),
        // A replica promoted in the first region: its leader follows it like any other standby.
        Case(endpoint: "us-east-1", primary: "us-east-2", expected: "us-east-2"),
        Case(endpoint: "eu-west-2", primary: "us-east-2", expected: "eu-west-1"),
        // The eu-west leader promoted: its replica and the other regions stream from it.
        Case(endpoint: "eu-west-2", primary: "eu-west-1", expected: "eu-west-1"),
        Case(endpoint: "us-east-1", primary: "eu-west-1", expected: "eu-west-1"),
        Case(endpoint: "us-east-2", primary: "eu-west-1", expected: "us-east-1"),
        Case(endpoint: "ap-south-1", primary: "eu-west-1", expected: "eu-west-1"),
        // The eu-west replica promoted: the region's file leader streams from it.
        Case(endpoint: "eu-west-1", primary: "eu-west-2", expected: "eu-west-2"),
        Case(endpoint: "us-east-2", primary: "eu-west-2", expected: "us-east-1"),
        Case(endpoint: "nowhere-1", primary: "us-east-1", expected: nil),
    ])
    func withEveryLeaderHealthy(_ testCase: Case) throws {
        let cluster = try Cluster.synchronous()
        #expect(
            ReplicationLayout.expectedUpstream(
                of: testCase.endpoint, primary: testCase.primary, topology: cluster.topology,
                snapshot: cluster.snapshot) == testCase.expected)
        #expect(
            ReplicationLayout.expectedUpstream(
                of: testCase.endpoint, primary: testCase.primary, topology: cluster.topology, snapshot: nil)
                == testCase.expected)
    }

    @Test func aReplicaStreamsFromThePrimaryWhileItsLeaderIsUnhealthy() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("eu-west-1")
        #expect(
            ReplicationLayout.expectedUpstream(
                of: "eu-west-2", primary: "us-east-1", topology: cluster.topology, snapshot: cluster.snapshot)
                == "us-east-1")
        cluster = try Cluster.synchronous()
        cluster.unreachable("eu-west-1")
        #expect(
            ReplicationLayout.expectedUpstream(
                of: "eu-west-2", primary: "us-east-1", topology: cluster.topology, snapshot: cluster.snapshot)
                == "us-east-1")
    }

    @Test func aReplicaStreamsFromThePrimaryWhenItsLeaderIsExcluded() throws {
        let cluster = try Cluster.synchronous()
        #expect(
            ReplicationLayout.expectedUpstream(
                of: "us-east-2", primary: "eu-west-1", topology: cluster.topology, snapshot: cluster.snapshot,
                excluding: ["us-east-1"]) == "eu-west-1")
        #expect(
            ReplicationLayout.expectedUpstream(
                of: "eu-west-2", primary: "us-east-1", topology: cluster.topology, snapshot: nil,
                excluding: ["eu-west-1"]) == "us-east-1")
        #expect(
            ReplicationLayout.expectedUpstream(
                of: "eu-west-2", primary: "us-east-1", topology: cluster.topology, snapshot: nil,
                excluding: ["us-east-2"]) == "eu-west-1")
    }

    @Test func theActingLeaderIsThePrimaryInItsOwnRegion() throws {
        let topology = try Lab.topology()
        let usEast = try #require(topology.region(named: "us-east"))
        let euWest = try #require(topology.region(named: "eu-west"))
        #expect(ReplicationLayout.actingLeader(of: usEast, primary: "us-east-2", topology: topology) == "us-east-2")
        #expect(ReplicationLayout.actingLeader(of: usEast, primary: "eu-west-1", topology: topology) == "us-east-1")
        #expect(ReplicationLayout.actingLeader(of: euWest, primary: "us-east-1", topology: topology) == "eu-west-1")
        #expect(ReplicationLayout.actingLeader(of: euWest, primary: "eu-west-2", topology: topology) == "eu-west-2")
    }

    @Test func standbysThatDoNotStreamWhereTheyBelongAreStrays() throws {
        var cluster = try Cluster.synchronous()
        #expect(
            ReplicationLayout.strays(
                primary: "us-east-1", topology: cluster.topology, snapshot: cluster.snapshot, fenced: []
            ).isEmpty)

        // Lost their stream: a region leader goes under the primary, a replica under its leader.
        cluster.lostStream("ap-south-1", "eu-west-2")
        #expect(
            ReplicationLayout.strays(
                primary: "us-east-1", topology: cluster.topology, snapshot: cluster.snapshot, fenced: [])
                == [
                    Follow(endpoint: "eu-west-2", upstream: "eu-west-1"),
                    Follow(endpoint: "ap-south-1", upstream: "us-east-1"),
                ])

        // A replica whose leader is down goes under the primary; a standby that does not answer is
        // left alone (it cannot be re-pointed), and so is the down leader.
        cluster = try Cluster.synchronous()
        cluster.lostStream("eu-west-2", "ap-south-1")
        cluster.down("eu-west-1")
        cluster.unreachable("ap-south-1")
        #expect(
            ReplicationLayout.strays(
                primary: "us-east-1", topology: cluster.topology, snapshot: cluster.snapshot, fenced: [])
                == [Follow(endpoint: "eu-west-2", upstream: "us-east-1")])
    }

    @Test func aStandbyStreamingFromAFencedServerIsAStray() throws {
        var cluster = try Cluster.synchronous()
        cluster["ap-south-1"].upstream = "eu-west-1"
        let strays = ReplicationLayout.strays(
            primary: "us-east-1", topology: cluster.topology, snapshot: cluster.snapshot, fenced: ["eu-west-1"])
        // The fenced server itself is never re-pointed; eu-west-2 cascades under it and is moved too.
        #expect(strays.contains(Follow(endpoint: "ap-south-1", upstream: "us-east-1")))
        #expect(!strays.contains { $0.endpoint == "eu-west-1" })
    }
}
