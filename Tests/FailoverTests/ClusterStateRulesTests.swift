import Failover
import Foundation
import Health
import Testing
import Vocabulary

/// The state the cluster is shown in, from a snapshot and what the service is doing.
@Suite struct ClusterStateRulesTests {
    let now = Date(timeIntervalSince1970: 1_700_000_600)
    let hold = Duration.seconds(60)

    func state(
        _ cluster: Cluster, writeTarget: String? = "us-east-1", running: Bool = false, finishedAt: Date? = nil
    ) -> ClusterState {
        ClusterStateRules.state(
            snapshot: cluster.snapshot, writeTarget: writeTarget, operationRunning: running,
            lastFailoverFinishedAt: finishedAt, now: now, hold: hold)
    }

    /// us-east-1 failed and us-east-2 was promoted; the others stream from it (or cascade).
    func afterFailoverToUsEast2() throws -> Cluster {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster["us-east-2"].role = .primary
        cluster["us-east-2"].currentLSN = Cluster.lsn(behind: 0x100)
        cluster["us-east-2"].walReceiver = nil
        cluster["us-east-2"].upstream = nil
        cluster["eu-west-1"].upstream = "us-east-2"
        cluster["ap-south-1"].upstream = "us-east-2"
        return cluster
    }

    @Test func everythingWellIsHealthy() throws {
        #expect(state(try Cluster.synchronous()) == .healthy)
    }

    @Test func anEndpointDownIsDegraded() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("ap-south-1")
        #expect(state(cluster) == .degraded)
    }

    @Test func aStandbyNotStreamingIsDegraded() throws {
        var cluster = try Cluster.synchronous()
        cluster.lostStream("eu-west-2")
        #expect(state(cluster) == .degraded)
    }

    @Test func aStandbyWithoutAWalReceiverIsDegraded() throws {
        var cluster = try Cluster.synchronous()
        cluster["eu-west-1"].walReceiver = nil
        #expect(state(cluster) == .degraded)
    }

    @Test func anEndpointOverAThresholdIsDegraded() throws {
        var cluster = try Cluster.synchronous()
        cluster["eu-west-2"].lagLevel = .warning
        #expect(state(cluster) == .degraded)
    }

    @Test func theWriteTargetDownIsDegraded() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        #expect(state(cluster) == .degraded)
    }

    @Test func theWriteTargetFailingProbesBeforeItIsDownIsDegraded() throws {
        var cluster = try Cluster.synchronous()
        cluster.unreachable("us-east-1", failures: 1)
        #expect(state(cluster) == .degraded)
    }

    @Test func aWriteTargetThatIsNotPrimaryIsDegraded() throws {
        #expect(state(try Cluster.synchronous(), writeTarget: "eu-west-1") == .degraded)
    }

    @Test func noWriteTargetIsDegraded() throws {
        #expect(state(try Cluster.synchronous(), writeTarget: nil) == .degraded)
    }

    @Test func aRunningOperationIsFailoverInProgress() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        #expect(state(cluster, running: true) == .failoverInProgress)
        #expect(state(try Cluster.synchronous(), running: true, finishedAt: now - 5) == .failoverInProgress)
    }

    @Test func everyStandbyStreamingWithinTheHoldIsFailoverComplete() throws {
        let cluster = try afterFailoverToUsEast2()
        #expect(state(cluster, writeTarget: "us-east-2", finishedAt: now - 10) == .failoverComplete)
        #expect(state(cluster, writeTarget: "us-east-2", finishedAt: now - 59.9) == .failoverComplete)
    }

    @Test func aStandbyStillReattachingWithinTheHoldIsRecoveryInProgress() throws {
        var cluster = try afterFailoverToUsEast2()
        cluster.lostStream("ap-south-1")
        #expect(state(cluster, writeTarget: "us-east-2", finishedAt: now - 10) == .recoveryInProgress)
    }

    @Test func afterTheHoldAWellClusterIsHealthyAgain() throws {
        let cluster = try afterFailoverToUsEast2()
        // The old primary stays down: only its recovery makes the cluster healthy.
        #expect(state(cluster, writeTarget: "us-east-2", finishedAt: now - 60) == .degraded)
        var recovered = cluster
        recovered["us-east-1"].reachable = true
        recovered["us-east-1"].isDown = false
        recovered["us-east-1"].consecutiveFailures = 0
        recovered["us-east-1"].role = .standby
        recovered["us-east-1"].upstream = "us-east-2"
        recovered["us-east-1"].walReceiver = cluster["eu-west-1"].walReceiver
        #expect(state(recovered, writeTarget: "us-east-2", finishedAt: now - 10) == .failoverComplete)
        #expect(state(recovered, writeTarget: "us-east-2", finishedAt: now - 60) == .healthy)
        #expect(state(recovered, writeTarget: "us-east-2", finishedAt: now - 3600) == .healthy)
    }

    @Test func nothingHealthyIsUnknown() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "us-east-2", "eu-west-1", "eu-west-2", "ap-south-1")
        #expect(state(cluster) == .unknown)
        #expect(state(cluster, finishedAt: now - 10) == .unknown)
    }

    @Test func endpointsFailingProbesCountAsNotHealthy() throws {
        var cluster = try Cluster.synchronous()
        for name in ["us-east-1", "us-east-2", "eu-west-1", "eu-west-2", "ap-south-1"] {
            cluster.unreachable(name)
        }
        #expect(state(cluster) == .unknown)
    }
}
