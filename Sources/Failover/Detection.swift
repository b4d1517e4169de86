public import Health
import Postgres
public import Topology
public import Vocabulary

/// What the standbys said when the primary stopped answering the control plane.
public struct DetectionEvidence: Sendable, Equatable, Codable {
    /// Failed probes of the primary in a row.
    public var consecutiveFailures: Int
    /// The primary's last probe error (no secrets).
    public var lastError: String?
    /// Standbys that still receive WAL from the primary (streaming, a recent message).
    public var stillReceiving: [String]
    /// Standbys of the primary that lost their stream.
    public var lostStream: [String]
    /// Standbys of the primary the control plane could not ask (no answer, or their replication
    /// views did not answer): they may still receive from it, so they count on its side.
    public var unreachable: [String]
}

/// The verdict on the current primary.
public enum PrimaryAssessment: Sendable, Equatable {
    /// It answered its last probe.
    case healthy
    /// It failed probes, fewer than its threshold.
    case suspect(failures: Int)
    /// It is down and its standbys confirm it: fail over.
    case failed(DetectionEvidence)
    /// It is down for the control plane, but its standbys that lost their stream are not more
    /// than those that still receive from it or could not be asked: it may be alive behind a
    /// broken path. Do not fail over.
    case partitionSuspected(DetectionEvidence)
}

/// Step 1 of the failover flow, as a pure function of a snapshot.
public enum DetectionPolicy {
    /// - Parameters:
    ///   - primary: the endpoint that is the write target.
    ///   - snapshot: a fresh snapshot: its standbys were probed after the primary went down.
    ///   - staleness: a standby still receives while its last message is younger than this.
    ///   - fenced: old primaries that have not been rejoined: they never vote.
    public static func assess(
        primary: String,
        snapshot: HealthSnapshot,
        topology: ClusterTopology,
        staleness: Duration,
        fenced: Set<String> = []
    ) -> PrimaryAssessment {
        guard let health = snapshot[endpoint: primary] else { return .healthy }
        if !health.isDown {
            return health.consecutiveFailures > 0 ? .suspect(failures: health.consecutiveFailures) : .healthy
        }
        // The standbys that stream straight from the primary, or would if they could: one whose
        // receiver names another endpoint (a cascade) says nothing about the primary.
        let direct = snapshot.endpoints.filter { standby in
            guard standby.endpoint != primary, !fenced.contains(standby.endpoint) else { return false }
            if let upstream = standby.upstream { return upstream == primary }
            return ReplicationLayout.expectedUpstream(
                of: standby.endpoint, primary: primary, topology: topology, snapshot: snapshot) == primary
        }
        var evidence = DetectionEvidence(
            consecutiveFailures: health.consecutiveFailures, lastError: health.lastError,
            stillReceiving: [], lostStream: [], unreachable: [])
        for standby in direct {
            if !standby.reachable && standby.lastFailureRefused {
                // Its host says nothing listens there: a dead standby receives nothing.
                evidence.lostStream.append(standby.endpoint)
            } else if !standby.reachable || !standby.replicationKnown {
                evidence.unreachable.append(standby.endpoint)
            } else if isReceiving(standby, from: primary, staleness: staleness) {
                evidence.stillReceiving.append(standby.endpoint)
            } else {
                evidence.lostStream.append(standby.endpoint)
            }
        }
        // Only a standby that answered "my stream is gone" votes for a failover. One that could not
        // be asked may sit beside the primary, cut off with it and still acknowledging its commits,
        // so it counts as still receiving; a tie means alive.
        let alive = evidence.stillReceiving.count + evidence.unreachable.count
        if evidence.lostStream.count > alive {
            return .failed(evidence)
        }
        return .partitionSuspected(evidence)
    }

    /// Streaming from `primary`, with a message from it younger than `staleness`. A sender that is no
    /// endpoint of the file (the standby reaches the primary by another address than the control
    /// plane does) counts as the primary: a direct standby has no other upstream.
    static func isReceiving(_ standby: EndpointHealth, from primary: String, staleness: Duration) -> Bool {
        guard let receiver = standby.walReceiver, receiver.status == "streaming",
            standby.upstream == primary || standby.upstream == nil
        else {
            return false
        }
        guard let age = receiver.lastMessageReceiptAge else { return false }
        return age < staleness.seconds
    }
}

/// Who streams from whom, for a given primary.
public enum ReplicationLayout {
    /// The endpoint acting as `region`'s leader: the primary in its own region, else the file's leader.
    public static func actingLeader(of region: Region, primary: String, topology: ClusterTopology) -> String {
        topology.endpoint(named: primary)?.region == region.name ? primary : region.leader.name
    }

    /// Where `endpoint` should stream from when `primary` is the primary: acting region leaders and
    /// the primary's own region stream from the primary; other replicas cascade from their region's
    /// acting leader while it is healthy, else from the primary. Nil for the primary itself.
    public static func expectedUpstream(
        of endpoint: String,
        primary: String,
        topology: ClusterTopology,
        snapshot: HealthSnapshot?,
        excluding unavailable: Set<String> = []
    ) -> String? {
        guard endpoint != primary, let node = topology.endpoint(named: endpoint),
            let region = topology.region(named: node.region)
        else { return nil }
        let leader = actingLeader(of: region, primary: primary, topology: topology)
        if leader == endpoint || leader == primary { return primary }
        let leaderUsable =
            !unavailable.contains(leader) && (snapshot.map { $0[endpoint: leader]?.isHealthy ?? false } ?? true)
        return leaderUsable ? leader : primary
    }

    /// Standbys that answer but do not stream where they belong, with the upstream to point them
    /// at: no streaming WAL receiver (still configured for a primary that is gone, say, because they
    /// did not answer during the failover that replaced it), or streaming from a fenced server. Only
    /// when that upstream is healthy; never the primary or a fenced server itself.
    public static func strays(
        primary: String, topology: ClusterTopology, snapshot: HealthSnapshot, fenced: Set<String>
    ) -> [Follow] {
        topology.allEndpoints.compactMap { endpoint in
            guard endpoint.name != primary, !fenced.contains(endpoint.name),
                let health = snapshot[endpoint: endpoint.name], health.isHealthy, health.role == .standby
            else { return nil }
            let streaming = health.walReceiver?.status == "streaming"
            let fromFenced = health.upstream.map { fenced.contains($0) } ?? false
            guard !streaming || fromFenced,
                let upstream = expectedUpstream(
                    of: endpoint.name, primary: primary, topology: topology, snapshot: snapshot, excluding: fenced),
                snapshot[endpoint: upstream]?.isHealthy == true
            else { return nil }
            return Follow(endpoint: endpoint.name, upstream: upstream)
        }
    }
}
