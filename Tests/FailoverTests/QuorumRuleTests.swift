import Failover
import Health
import Testing
import Topology

/// The synchronous quorum rule: with `ANY k (S)`, fail over only while fewer than k of S are
/// unreachable.
@Suite struct QuorumRuleTests {
    @Test(arguments: [
        ("ANY 1 (\"us-east-2\", \"eu-west-1\")", 1, ["us-east-2", "eu-west-1"]),
        ("ANY 2 (a, b, c)", 2, ["a", "b", "c"]),
        ("FIRST 2 (a, b, c)", 2, ["a", "b", "c"]),
        ("first 1 (a,b)", 1, ["a", "b"]),
        ("2 (a, b)", 2, ["a", "b"]),
        ("a, b", 1, ["a", "b"]),
        ("a", 1, ["a"]),
        ("ANY 1 (*)", 1, ["*"]),
        ("ANY 1 (\"odd\"\"name\")", 1, ["odd\"name"]),
    ])
    func parsesEveryFormPostgreSQLAccepts(text: String, count: Int, members: [String]) {
        #expect(SynchronousStandbySet.parse(text) == SynchronousStandbySet(count: count, members: members))
    }

    @Test(arguments: ["", "   ", "ANY x (a)", "ANY 0 (a)", "ANY 1 ()"])
    func emptyOrUnreadableIsNoSet(text: String) {
        #expect(SynchronousStandbySet.parse(text) == nil)
    }

    func assess(_ cluster: Cluster, observed: String? = nil) -> QuorumVerdict {
        QuorumRule.assess(
            oldPrimary: "us-east-1", synchronousStandbyNames: observed ?? cluster["us-east-1"].synchronousStandbyNames,
            snapshot: cluster.snapshot, topology: cluster.topology)
    }

    @Test func aCrashWithEveryMemberReachableIsSafe() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        #expect(assess(cluster) == .safe)
    }

    @Test func theRegionsOwnMemberCutOffWithItBlocksWhenOneAcknowledgementSuffices() throws {
        // ANY 1 (us-east-2, eu-west-1): us-east-2 alone may hold a commit.
        var cluster = try Cluster.synchronous()
        cluster.silent("us-east-1", "us-east-2")
        #expect(assess(cluster) == .blocked(unreachable: ["us-east-2"], count: 1))
    }

    @Test func twoAcknowledgementsSurviveTheLossOfOneMember() throws {
        var cluster = try Cluster.synchronous()
        cluster.silent("us-east-1", "us-east-2")
        let observed = "ANY 2 (\"us-east-2\", \"eu-west-1\", \"ap-south-1\")"
        #expect(assess(cluster, observed: observed) == .safe)
        cluster.silent("ap-south-1")
        #expect(assess(cluster, observed: observed) == .blocked(unreachable: ["us-east-2", "ap-south-1"], count: 2))
    }

    @Test func aStarCountsEveryStandby() throws {
        var cluster = try Cluster.synchronous()
        cluster.silent("us-east-1", "eu-west-2")
        #expect(assess(cluster, observed: "ANY 1 (*)") == .blocked(unreachable: ["eu-west-2"], count: 1))
        #expect(assess(cluster, observed: "ANY 2 (*)") == .safe)
    }

    @Test func anEmptySettingIsAsynchronous() throws {
        var cluster = try Cluster.synchronous()
        cluster.silent("us-east-1", "us-east-2")
        #expect(assess(cluster, observed: "") == .asynchronous)
    }

    @Test func withoutAnObservationTheClusterFileDecides() throws {
        var cluster = try Cluster.synchronous()
        cluster.silent("us-east-1", "us-east-2")
        cluster["us-east-1"].synchronousStandbyNames = nil
        #expect(assess(cluster) == .blocked(unreachable: ["us-east-2"], count: 1))
        var asynchronous = try Cluster.asynchronous()
        asynchronous.silent("us-east-1")
        asynchronous["us-east-1"].synchronousStandbyNames = nil
        #expect(assess(asynchronous) == .asynchronous)
    }
}
