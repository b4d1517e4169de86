import Failover
import Health
import Postgres
import Testing
import Topology
import Vocabulary

/// Step 3: which standby is promoted, what it costs, and how the others follow.
@Suite struct CandidateSelectorTests {
    static let notSynchronous =
        "not a synchronous standby; automatic failover promotes only those when replication is synchronous"

    func plan(
        _ cluster: Cluster, mode: SelectionMode = .automatic, oldPrimaryPosition: LSN? = LSN(Cluster.primaryPosition)
    ) -> FailoverPlan {
        CandidateSelector.plan(
            oldPrimary: "us-east-1", oldPrimaryPosition: oldPrimaryPosition, snapshot: cluster.snapshot,
            topology: cluster.topology, mode: mode)
    }

    /// Rejections as `endpoint: reason`, to compare in one expectation.
    func rejections(_ plan: FailoverPlan) -> [String] {
        plan.rejected.map { rejection($0.endpoint, $0.reason) }
    }

    func rejection(_ endpoint: String, _ reason: String) -> String {
        "\(endpoint): \(reason)"
    }

    /// Followers as `endpoint <- upstream`.
    func follows(_ plan: FailoverPlan) -> [String] {
        plan.followers.map { follow($0.endpoint, $0.upstream) }
    }

    func follow(_ endpoint: String, _ upstream: String) -> String {
        "\(endpoint) <- \(upstream)"
    }

    func position(behind: UInt64) -> String {
        Cluster.lsn(behind: behind).description
    }

    // MARK: Preference

    @Test func aReplicaInTheOldPrimarysRegionComesFirst() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster)
        #expect(plan.oldPrimary == "us-east-1")
        #expect(plan.candidate == "us-east-2")
        #expect(plan.ranked.map(\.endpoint) == ["us-east-2", "eu-west-1", "ap-south-1", "eu-west-2"])
        #expect(plan.ranked.map(\.preference) == [0, 2, 3, 5])
        #expect(plan.ranked.first?.position == position(behind: 0x100))
        #expect(plan.ranked.first?.lagBytes == 0x100)
        #expect(plan.ranked.first?.latencyMilliseconds == 2)
        #expect(rejections(plan) == [])
        #expect(plan.catchUpFrom == nil)
        #expect(plan.fallback == nil)
        #expect(plan.oldPrimaryPosition == "1/0")
        #expect(plan.promotedPosition == position(behind: 0x100))
        #expect(plan.predictedLossBytes == 0x100)
        #expect(plan.reasons == ["us-east-2 preferred: a replica in the old primary's region us-east"])
    }

    @Test func withTheFirstRegionDownTheNextRegionsLeaderIsPromoted() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1", "us-east-2")
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(plan.ranked.map(\.endpoint) == ["eu-west-1", "ap-south-1", "eu-west-2"])
        #expect(rejections(plan) == [rejection("us-east-2", "unreachable: connection refused")])
        #expect(plan.catchUpFrom == nil)
        #expect(plan.promotedPosition == position(behind: 0x200))
        #expect(plan.predictedLossBytes == 0x200)
        #expect(
            plan.reasons.first
                == "eu-west-1 preferred: leader of eu-west, the highest-priority region with an eligible standby")
    }

    @Test func aLowerPriorityLeaderComesBeforeAHigherPriorityRegionsReplica() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1", "us-east-2", "eu-west-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "ap-south-1")
        #expect(plan.ranked.map(\.endpoint) == ["ap-south-1", "eu-west-2"])
        #expect(
            plan.reasons.first
                == "ap-south-1 preferred: leader of ap-south, the highest-priority region with an eligible standby")
    }

    @Test func anotherRegionsReplicaOnlyWhenNoLeaderIsEligible() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1", "us-east-2", "eu-west-1", "ap-south-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-2")
        #expect(plan.ranked.map(\.endpoint) == ["eu-west-2"])
        #expect(plan.rejected.map(\.endpoint) == ["us-east-2", "eu-west-1", "ap-south-1"])
        #expect(plan.reasons.first == "eu-west-2 preferred: a replica of eu-west; no region leader is eligible")
    }

    @Test func amongEqualPreferenceTheMostAdvancedComesFirst() throws {
        var cluster = try Cluster.asynchronous(extraUsEastReplica: true)
        cluster.down("us-east-1")
        cluster.position("us-east-3", behind: 0x80)
        let plan = plan(cluster)
        // us-east-3 is slower to reach (3 ms against 2 ms) but holds more WAL.
        #expect(plan.candidate == "us-east-3")
        #expect(plan.ranked.map(\.endpoint) == ["us-east-3", "us-east-2", "eu-west-1", "ap-south-1", "eu-west-2"])
        #expect(plan.catchUpFrom == nil)
        #expect(plan.promotedPosition == position(behind: 0x80))
    }

    @Test func amongEqualPreferenceAndPositionTheLowestLatencyComesFirst() throws {
        var cluster = try Cluster.asynchronous(extraUsEastReplica: true)
        cluster.down("us-east-1")
        cluster.position("us-east-3", behind: 0x100)
        #expect(plan(cluster).ranked.map(\.endpoint).prefix(2) == ["us-east-2", "us-east-3"])
        cluster["us-east-3"].smoothedLatencyMilliseconds = 1.5
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-3")
        #expect(plan.ranked.map(\.endpoint).prefix(2) == ["us-east-3", "us-east-2"])
        #expect(plan.catchUpFrom == nil)
    }

    // MARK: Eligibility

    @Test func aStandbyLaggingMoreThanTheLimitIsRejected() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 20 * 1024 * 1024)
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "20971520 bytes behind the old primary, more than max_lag_on_failover (16MB)")
            ])
        #expect(plan.catchUpFrom == nil)
    }

    @Test func aStandbyLaggingExactlyTheLimitIsEligible() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 16 * 1024 * 1024)
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(rejections(plan) == [])
    }

    @Test(arguments: [SelectionMode.endpoint("us-east-2", force: true), .region("us-east", force: true)])
    func forceInAManualModeIgnoresTheLagLimit(mode: SelectionMode) throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 20 * 1024 * 1024)
        let plan = plan(cluster, mode: mode)
        #expect(plan.candidate == "us-east-2")
        #expect(plan.rejected.map(\.endpoint) == ["eu-west-1", "eu-west-2", "ap-south-1"])
        // eu-west-1 holds more WAL: us-east-2 catches up from it, else nobody else is eligible.
        #expect(plan.catchUpFrom == "eu-west-1")
        #expect(plan.fallback == "us-east-2")
    }

    @Test(arguments: [SelectionMode.endpoint("us-east-2", force: false), .region("us-east", force: false)])
    func withoutForceAManualModeKeepsTheLagLimit(mode: SelectionMode) throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 20 * 1024 * 1024)
        let plan = plan(cluster, mode: mode)
        #expect(plan.candidate == nil)
        #expect(
            plan.rejected.first { $0.endpoint == "us-east-2" }?.reason
                == "20971520 bytes behind the old primary, more than max_lag_on_failover (16MB)")
    }

    @Test func synchronousReplicationPromotesOnlySynchronousStandbysAutomatically() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(plan.ranked.map(\.endpoint) == ["us-east-2", "eu-west-1"])
        #expect(
            rejections(plan) == [
                rejection("eu-west-2", Self.notSynchronous),
                rejection("ap-south-1", Self.notSynchronous),
            ])
    }

    @Test func synchronousReplicationFallsToTheOtherSynchronousStandby() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "us-east-2")
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(plan.ranked.map(\.endpoint) == ["eu-west-1"])
    }

    @Test func synchronousReplicationWithNoSynchronousStandbyLeftHasNoCandidate() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "us-east-2", "eu-west-1")
        let plan = plan(cluster)
        #expect(plan.candidate == nil)
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "unreachable: connection refused"),
                rejection("eu-west-1", "unreachable: connection refused"),
                rejection("eu-west-2", Self.notSynchronous),
                rejection("ap-south-1", Self.notSynchronous),
            ])
    }

    @Test func manualModesMayPromoteAnAsynchronousStandby() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "eu-west-1")
        let plan = plan(cluster, mode: .region("eu-west", force: false))
        #expect(plan.candidate == "eu-west-2")
        #expect(plan.rejected.first { $0.endpoint == "eu-west-2" } == nil)
        #expect(plan.rejected.first { $0.endpoint == "eu-west-1" }?.reason == "unreachable: connection refused")
    }

    @Test func regionModeConsidersOnlyThatRegion() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster, mode: .region("eu-west", force: false))
        #expect(plan.candidate == "eu-west-1")
        #expect(plan.ranked.map(\.endpoint) == ["eu-west-1", "eu-west-2"])
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "not in the requested region eu-west"),
                rejection("ap-south-1", "not in the requested region eu-west"),
            ])
    }

    @Test func endpointModeConsidersOnlyThatEndpoint() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster, mode: .endpoint("ap-south-1", force: false))
        #expect(plan.candidate == "ap-south-1")
        #expect(plan.ranked.map(\.endpoint) == ["ap-south-1"])
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "not the requested endpoint ap-south-1"),
                rejection("eu-west-1", "not the requested endpoint ap-south-1"),
                rejection("eu-west-2", "not the requested endpoint ap-south-1"),
            ])
        // us-east-2 holds the most WAL: the requested endpoint catches up from it first.
        #expect(plan.catchUpFrom == "us-east-2")
        #expect(plan.promotedPosition == position(behind: 0x100))
    }

    @Test func unreachableAndDownStandbysAreRejectedWithTheirError() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1", "eu-west-1")
        cluster.unreachable("us-east-2", error: "timeout after 500ms")
        cluster.unreachable("eu-west-2")
        cluster["eu-west-2"].lastError = nil
        let plan = plan(cluster)
        #expect(plan.candidate == "ap-south-1")
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "unreachable: timeout after 500ms"),
                rejection("eu-west-1", "unreachable: connection refused"),
                rejection("eu-west-2", "unreachable"),
            ])
    }

    @Test func anEndpointThatIsNotAStandbyIsRejected() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster["us-east-2"].role = .primary
        cluster["eu-west-2"].role = .unknown
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "not a standby (role primary)"),
                rejection("eu-west-2", "not a standby (role unknown)"),
            ])
    }

    // MARK: Never lose data for a preference

    @Test func thePreferredCandidateCatchesUpFromAMoreAdvancedStandby() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 0x1000)
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(plan.catchUpFrom == "eu-west-1")
        #expect(plan.fallback == "eu-west-1")
        #expect(plan.promotedPosition == position(behind: 0x200))
        #expect(plan.predictedLossBytes == 0x200)
        #expect(
            plan.reasons.contains(
                "eu-west-1 holds 3584 more bytes of WAL: us-east-2 catches up from it first, else eu-west-1 is promoted"
            ))
    }

    @Test func theFallbackIsTheMostAdvancedEligibleStandby() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 0x300)
        cluster.position("eu-west-1", behind: 0x200)
        cluster.position("ap-south-1", behind: 0x100)
        let plan = plan(cluster)
        // ap-south-1 is asynchronous, so not a candidate, but it holds the most WAL.
        #expect(plan.candidate == "us-east-2")
        #expect(plan.catchUpFrom == "ap-south-1")
        #expect(plan.fallback == "eu-west-1")
        #expect(plan.promotedPosition == position(behind: 0x100))
        #expect(plan.predictedLossBytes == 0x100)
    }

    @Test func anUnreachableStandbyIsNoCatchUpSource() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        cluster.position("us-east-2", behind: 0x1000)
        cluster.unreachable("eu-west-1")
        let plan = plan(cluster)
        // eu-west-2 (0x300 behind) is the most advanced standby that answers.
        #expect(plan.candidate == "us-east-2")
        #expect(plan.catchUpFrom == "eu-west-2")
        #expect(plan.fallback == "eu-west-2")
        #expect(plan.promotedPosition == position(behind: 0x300))
    }

    struct LossCase: Sendable, CustomTestStringConvertible {
        var oldPrimaryPosition: LSN?
        var expected: Int64?
        var testDescription: String {
            "old \(oldPrimaryPosition?.description ?? "unknown") → \(expected.map(String.init) ?? "nil")"
        }
    }

    @Test(arguments: [
        LossCase(oldPrimaryPosition: nil, expected: nil),
        LossCase(oldPrimaryPosition: LSN(Cluster.primaryPosition), expected: 0x100),
        LossCase(oldPrimaryPosition: LSN(Cluster.primaryPosition + 0x1000), expected: 0x1100),
        LossCase(oldPrimaryPosition: Cluster.lsn(behind: 0x100), expected: 0),
        LossCase(oldPrimaryPosition: Cluster.lsn(behind: 0x5000), expected: 0),
    ])
    func predictedLossIsTheOldPositionBeyondThePromotedOne(_ testCase: LossCase) throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster, oldPrimaryPosition: testCase.oldPrimaryPosition)
        #expect(plan.promotedPosition == position(behind: 0x100))
        #expect(plan.oldPrimaryPosition == testCase.oldPrimaryPosition?.description)
        #expect(plan.predictedLossBytes == testCase.expected)
    }

    // MARK: Followers

    @Test func followersKeepCascadesWhenTheSameRegionReplicaIsPromoted() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(
            follows(plan) == [
                follow("eu-west-1", "us-east-2"),
                follow("eu-west-2", "eu-west-1"),
                follow("ap-south-1", "us-east-2"),
            ])
    }

    @Test func followersStreamFromAPromotedRegionLeader() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "us-east-2")
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(
            follows(plan) == [
                follow("us-east-2", "eu-west-1"),
                follow("eu-west-2", "eu-west-1"),
                follow("ap-south-1", "eu-west-1"),
            ])
    }

    @Test func aReplicaWhoseLeaderIsDownFollowsTheNewPrimary() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "eu-west-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(
            follows(plan) == [
                follow("eu-west-1", "us-east-2"),
                follow("eu-west-2", "us-east-2"),
                follow("ap-south-1", "us-east-2"),
            ])
    }

    // MARK: synchronous_standby_names

    @Test func synchronousStandbyNamesDropTheNewPrimary() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(plan.synchronousStandbyNames == #"ANY 1 ("eu-west-1")"#)
        #expect(!plan.reasons.contains("no configured synchronous standby remains: replication becomes asynchronous"))
        let switchover = self.plan(cluster, mode: .endpoint("eu-west-1", force: false))
        #expect(switchover.candidate == "eu-west-1")
        #expect(switchover.synchronousStandbyNames == #"ANY 1 ("us-east-2")"#)
    }

    @Test func synchronousStandbyNamesDropAStandbyThatIsDown() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1", "us-east-2")
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(plan.synchronousStandbyNames == "")
        #expect(plan.reasons.contains("no configured synchronous standby remains: replication becomes asynchronous"))
    }

    @Test func synchronousStandbyNamesCapTheCountAtTheStandbysLeft() throws {
        let replication = """
            replication:
              mode: synchronous
              synchronous_standbys: [us-east-2, eu-west-1, ap-south-1]
              synchronous_count: 2
            """
        var cluster = Cluster(topology: try Lab.topology(replication: replication))
        cluster.down("us-east-1")
        #expect(plan(cluster).synchronousStandbyNames == #"ANY 2 ("eu-west-1", "ap-south-1")"#)
        cluster.down("ap-south-1")
        #expect(plan(cluster).synchronousStandbyNames == #"ANY 1 ("eu-west-1")"#)
    }

    @Test func synchronousStandbyNamesAreEmptyWhenNoneRemain() throws {
        var cluster = Cluster(topology: try Lab.topology(replication: Lab.onlyUsEast2Synchronous))
        cluster.down("us-east-1")
        let plan = plan(cluster)
        #expect(plan.candidate == "us-east-2")
        #expect(plan.synchronousStandbyNames == "")
        #expect(plan.reasons.contains("no configured synchronous standby remains: replication becomes asynchronous"))
    }

    @Test func asynchronousReplicationHasNoSynchronousStandbyNames() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1")
        #expect(plan(cluster).synchronousStandbyNames == nil)
    }

    // MARK: No candidate

    @Test func noEligibleStandbyGivesNoCandidateAndEveryRejection() throws {
        var cluster = try Cluster.asynchronous()
        cluster.down("us-east-1", "us-east-2", "eu-west-1", "eu-west-2")
        cluster.position("ap-south-1", behind: 17 * 1024 * 1024)
        let plan = plan(cluster)
        #expect(plan.candidate == nil)
        #expect(plan.ranked == [])
        #expect(
            rejections(plan) == [
                rejection("us-east-2", "unreachable: connection refused"),
                rejection("eu-west-1", "unreachable: connection refused"),
                rejection("eu-west-2", "unreachable: connection refused"),
                rejection("ap-south-1", "17825792 bytes behind the old primary, more than max_lag_on_failover (16MB)"),
            ])
        #expect(plan.catchUpFrom == nil)
        #expect(plan.fallback == nil)
        #expect(plan.promotedPosition == nil)
        #expect(plan.predictedLossBytes == nil)
        #expect(follows(plan) == [])
        #expect(plan.synchronousStandbyNames == nil)
        #expect(plan.reasons == ["no standby qualifies"])
    }

    // MARK: Timelines

    @Test func aStandbyOnAnotherTimelineIsNeitherCandidateNorCatchUpSource() throws {
        var cluster = try Cluster.synchronous()
        cluster["us-east-1"].primaryTimeline = 1
        cluster.down("us-east-1")
        // us-east-2 is the most advanced by LSN, but on another timeline: its bytes are not the
        // old primary's history.
        cluster.position("us-east-2", behind: 0x10)
        cluster["us-east-2"].walReceiver?.receivedTimeline = 2
        cluster.position("eu-west-1", behind: 0x200)
        let plan = plan(cluster)
        #expect(plan.candidate == "eu-west-1")
        #expect(plan.catchUpFrom == nil || plan.catchUpFrom != "us-east-2")
        #expect(
            plan.rejected.contains {
                $0.endpoint == "us-east-2"
                    && $0.reason.hasPrefix("on timeline 2 while the old primary is on timeline 1")
            })
    }

    @Test func anUnknownTimelineIsNoReasonToReject() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster["us-east-2"].walReceiver?.receivedTimeline = 7
        #expect(plan(cluster).candidate == "us-east-2")
    }
}
