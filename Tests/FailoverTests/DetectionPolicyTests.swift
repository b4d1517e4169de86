import Failover
import Health
import Postgres
import Testing
import Topology

/// Step 1: is the primary down, and do its standbys confirm it?
@Suite struct DetectionPolicyTests {
    let staleness = Duration.milliseconds(1500)

    /// The verdict and its evidence, comparable in one expectation.
    struct Verdict: Equatable, CustomStringConvertible {
        var kind: String
        var failures = 3
        var lastError: String? = "connection refused"
        var stillReceiving: [String] = []
        var lostStream: [String] = []
        var unreachable: [String] = []

        var description: String {
            "\(kind) failures \(failures) error \(lastError ?? "none") receiving \(stillReceiving) lost \(lostStream) "
                + "unreachable \(unreachable)"
        }

        static func failed(
            stillReceiving: [String] = [], lostStream: [String] = [], unreachable: [String] = []
        ) -> Self {
            Self(kind: "failed", stillReceiving: stillReceiving, lostStream: lostStream, unreachable: unreachable)
        }

        static func partitionSuspected(
            stillReceiving: [String] = [], lostStream: [String] = [], unreachable: [String] = []
        ) -> Self {
            Self(
                kind: "partitionSuspected", stillReceiving: stillReceiving, lostStream: lostStream,
                unreachable: unreachable)
        }

        init(
            kind: String, stillReceiving: [String] = [], lostStream: [String] = [], unreachable: [String] = []
        ) {
            self.kind = kind
            self.stillReceiving = stillReceiving
            self.lostStream = lostStream
            self.unreachable = unreachable
        }

        init(_ assessment: PrimaryAssessment) {
            switch assessment {
            case .healthy:
                self.init(kind: "healthy")
                failures = 0
                lastError = nil
            case .suspect(let failures):
                self.init(kind: "suspect")
                self.failures = failures
                lastError = nil
            case .failed(let evidence):
                self.init(evidence, kind: "failed")
            case .partitionSuspected(let evidence):
                self.init(evidence, kind: "partitionSuspected")
            }
        }

        init(_ evidence: DetectionEvidence, kind: String) {
            self.init(
                kind: kind, stillReceiving: evidence.stillReceiving, lostStream: evidence.lostStream,
                unreachable: evidence.unreachable)
            failures = evidence.consecutiveFailures
            lastError = evidence.lastError
        }
    }

    func assess(_ cluster: Cluster, primary: String = "us-east-1") -> Verdict {
        Verdict(
            DetectionPolicy.assess(
                primary: primary, snapshot: cluster.snapshot, topology: cluster.topology, staleness: staleness))
    }

    @Test func anAnsweringPrimaryIsHealthy() throws {
        #expect(assess(try Cluster.synchronous()) == Verdict(.healthy))
    }

    @Test(arguments: [1, 2])
    func failuresBelowTheThresholdMakeItSuspect(failures: Int) throws {
        var cluster = try Cluster.synchronous()
        cluster.unreachable("us-east-1", failures: failures)
        #expect(assess(cluster) == Verdict(.suspect(failures: failures)))
    }

    @Test func aPrimaryWhoseStandbysLostTheStreamHasFailed() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster.lostStream("us-east-2", "eu-west-1", "ap-south-1")
        #expect(assess(cluster) == Verdict.failed(lostStream: ["us-east-2", "eu-west-1", "ap-south-1"]))
    }

    @Test func aPrimaryWhoseStandbysCannotBeAskedIsNotDeclaredFailed() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        for name in ["us-east-2", "eu-west-1", "eu-west-2", "ap-south-1"] {
            cluster.unreachable(name)
        }
        // Nobody said the stream is gone: the control plane may be the one cut off.
        // eu-west-2 last streamed from eu-west-1: a cascade, which says nothing about the primary.
        #expect(
            assess(cluster) == Verdict.partitionSuspected(unreachable: ["us-east-2", "eu-west-1", "ap-south-1"]))
    }

    @Test func standbysThatCannotBeAskedCountAsStillReceiving() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        // The primary's region cut off with its replica: us-east-2 may still acknowledge its commits.
        cluster.unreachable("us-east-2")
        cluster.lostStream("eu-west-1")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(
                    stillReceiving: ["ap-south-1"], lostStream: ["eu-west-1"], unreachable: ["us-east-2"]))
        cluster.lostStream("ap-south-1")
        #expect(
            assess(cluster) == Verdict.failed(lostStream: ["eu-west-1", "ap-south-1"], unreachable: ["us-east-2"]))
    }

    @Test func aStandbyWhoseReplicationViewsDidNotAnswerCannotVote() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster.lostStream("us-east-2", "eu-west-1", "ap-south-1")
        cluster["us-east-2"].replicationKnown = false
        cluster["eu-west-1"].replicationKnown = false
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(lostStream: ["ap-south-1"], unreachable: ["us-east-2", "eu-west-1"]))
    }

    @Test func aRefusingStandbyHasLostItsStream() throws {
        var cluster = try Cluster.synchronous()
        // The whole region died: its replica refuses connections, it receives nothing.
        cluster.down("us-east-1", "us-east-2")
        cluster.lostStream("eu-west-1", "ap-south-1")
        #expect(assess(cluster) == Verdict.failed(lostStream: ["us-east-2", "eu-west-1", "ap-south-1"]))
    }

    @Test func aFencedOldPrimaryNeverVotes() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster.lostStream("us-east-2", "ap-south-1")
        let verdict = Verdict(
            DetectionPolicy.assess(
                primary: "us-east-1", snapshot: cluster.snapshot, topology: cluster.topology, staleness: staleness,
                fenced: ["us-east-2", "ap-south-1"]))
        #expect(verdict == Verdict.partitionSuspected(stillReceiving: ["eu-west-1"]))
    }

    @Test func mostAnsweringStandbysStillStreamingSuggestsAPartition() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster.lostStream("ap-south-1")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(stillReceiving: ["us-east-2", "eu-west-1"], lostStream: ["ap-south-1"]))
    }

    @Test func aReplicaStillStreamingFromItsUnreachableLeaderDoesNotVote() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        // The control plane lost us-east-1, eu-west-1 and ap-south-1; us-east-2 still receives from the
        // primary, and eu-west-2 still receives fresh WAL through eu-west-1: it never lost its stream.
        cluster.unreachable("eu-west-1")
        cluster.unreachable("ap-south-1")
        #expect(cluster["eu-west-2"].upstream == "eu-west-1")
        #expect(cluster["eu-west-2"].walReceiver?.status == "streaming")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(stillReceiving: ["us-east-2"], unreachable: ["eu-west-1", "ap-south-1"]))
    }

    @Test func aTieMeansAlive() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster.lostStream("eu-west-1")
        cluster.unreachable("ap-south-1")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(
                    stillReceiving: ["us-east-2"], lostStream: ["eu-west-1"], unreachable: ["ap-south-1"]))
        cluster.lostStream("us-east-2")
        #expect(
            assess(cluster)
                == Verdict.failed(lostStream: ["us-east-2", "eu-west-1"], unreachable: ["ap-south-1"]))
    }

    @Test(arguments: [1.5, 1.6, 30, 3600])
    func aStaleLastMessageCountsAsLost(age: Double) throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster["us-east-2"].walReceiver?.lastMessageReceiptAge = age
        cluster["eu-west-1"].walReceiver?.lastMessageReceiptAge = age
        cluster.lostStream("ap-south-1")
        #expect(assess(cluster) == Verdict.failed(lostStream: ["us-east-2", "eu-west-1", "ap-south-1"]))
    }

    @Test(arguments: [0.0, 0.5, 1.499])
    func aFreshLastMessageCountsAsReceiving(age: Double) throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster["us-east-2"].walReceiver?.lastMessageReceiptAge = age
        cluster["eu-west-1"].walReceiver?.lastMessageReceiptAge = age
        cluster.lostStream("ap-south-1")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(stillReceiving: ["us-east-2", "eu-west-1"], lostStream: ["ap-south-1"]))
    }

    @Test func anUnknownMessageAgeCountsAsLost() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        cluster["us-east-2"].walReceiver?.lastMessageReceiptAge = nil
        cluster["eu-west-1"].walReceiver?.lastMessageReceiptAge = nil
        #expect(
            assess(cluster)
                == Verdict.failed(stillReceiving: ["ap-south-1"], lostStream: ["us-east-2", "eu-west-1"]))
    }

    @Test func standbysStreamingFromAnotherEndpointDoNotVote() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        // Still streaming, but from other standbys: their freshness says nothing about the primary.
        cluster["us-east-2"].upstream = "eu-west-1"
        cluster["eu-west-1"].upstream = "us-east-2"
        cluster.lostStream("ap-south-1")
        #expect(assess(cluster) == Verdict.failed(lostStream: ["ap-south-1"]))
    }

    @Test func cascadedReplicasDoNotVote() throws {
        var cluster = try Cluster.synchronous()
        cluster.down("us-east-1")
        // eu-west-2 keeps streaming fresh WAL from eu-west-1; were it a voter, 2 of 4 would not be a majority.
        cluster.lostStream("ap-south-1")
        #expect(cluster["eu-west-2"].upstream == "eu-west-1")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(stillReceiving: ["us-east-2", "eu-west-1"], lostStream: ["ap-south-1"]))
        // Nor does a cascaded replica that lost its stream.
        cluster.lostStream("eu-west-2")
        #expect(
            assess(cluster)
                == Verdict.partitionSuspected(stillReceiving: ["us-east-2", "eu-west-1"], lostStream: ["ap-south-1"]))
    }

    @Test func anUnknownPrimaryIsHealthy() throws {
        #expect(assess(try Cluster.synchronous(), primary: "nowhere-1") == Verdict(.healthy))
    }
}
