public import Foundation
public import Health
public import Postgres
public import Topology
public import Vocabulary

/// Why an operation is choosing a new primary; the rules differ a little.
public enum SelectionMode: Sendable, Equatable {
    /// The primary failed: only synchronous standbys when replication is synchronous.
    case automatic
    /// An operator moves the primary to a region (manual failover); `force` ignores the lag limit.
    case region(String, force: Bool)
    /// An operator moves the primary to one endpoint (switchover or manual failover).
    case endpoint(String, force: Bool)
}

/// Step 3 of the failover flow, as a pure function.
public enum CandidateSelector {
    /// Chooses the standby to promote.
    ///
    /// - Parameters:
    ///   - oldPrimary: the primary being replaced.
    ///   - oldPrimaryPosition: its last known `pg_current_wal_lsn()`, if any.
    public static func plan(
        oldPrimary: String,
        oldPrimaryPosition: LSN?,
        snapshot: HealthSnapshot,
        topology: ClusterTopology,
        mode: SelectionMode,
        fenced: Set<String> = []
    ) -> FailoverPlan {
        let oldRegion = topology.endpoint(named: oldPrimary)?.region
        // Positions compare only on one timeline: a standby on another has not followed the old
        // primary's history (or has diverged from it), whatever its LSN says.
        let primaryTimeline = snapshot[endpoint: oldPrimary]?.primaryTimeline
        let regionRank = Dictionary(
            topology.regionsByPriority.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        let synchronous =
            topology.replication.mode == .synchronous ? Set(topology.replication.synchronousStandbys) : nil
        var ranked: [(candidate: Candidate, lsn: LSN?)] = []
        var rejected: [Rejection] = []
        var reasons: [String] = []

        for health in snapshot.endpoints where health.endpoint != oldPrimary {
            guard let endpoint = topology.endpoint(named: health.endpoint) else { continue }
            let force: Bool
            switch mode {
            case .automatic:
                force = false
            case .region(let region, let forced):
                force = forced
                guard endpoint.region == region else {
                    rejected.append(
                        Rejection(endpoint: health.endpoint, reason: "not in the requested region \(region)"))
                    continue
                }
            case .endpoint(let name, let forced):
                force = forced
                guard endpoint.name == name else {
                    rejected.append(Rejection(endpoint: health.endpoint, reason: "not the requested endpoint \(name)"))
                    continue
                }
            }
            if fenced.contains(health.endpoint) {
                rejected.append(
                    Rejection(
                        endpoint: health.endpoint,
                        reason: "fenced: an old primary that has not been rejoined (rejoin it first)"))
                continue
            }
            if let reason = ineligibility(
                health, endpoint: endpoint, force: force,
                synchronousOnly: mode == .automatic ? synchronous : nil)
                ?? timelineMismatch(health, primaryTimeline: primaryTimeline)
            {
                rejected.append(Rejection(endpoint: health.endpoint, reason: reason))
                continue
            }
            let preference = Self.preference(of: endpoint, oldRegion: oldRegion, regionRank: regionRank)
            let lsn = health.walPosition
            ranked.append(
                (
                    Candidate(
                        endpoint: health.endpoint, region: endpoint.region, preference: preference,
                        position: lsn?.description, lagBytes: health.lagBytes,
                        latencyMilliseconds: health.smoothedLatencyMilliseconds), lsn
                ))
        }
        ranked.sort { lhs, rhs in
            if lhs.candidate.preference != rhs.candidate.preference {
                return lhs.candidate.preference < rhs.candidate.preference
            }
            if lhs.lsn != rhs.lsn { return (lhs.lsn ?? LSN(0)) > (rhs.lsn ?? LSN(0)) }
            return (lhs.candidate.latencyMilliseconds ?? .infinity) < (rhs.candidate.latencyMilliseconds ?? .infinity)
        }

        var plan = FailoverPlan(
            oldPrimary: oldPrimary, candidate: nil, catchUpFrom: nil, fallback: nil, ranked: ranked.map(\.candidate),
            rejected: rejected, oldPrimaryPosition: oldPrimaryPosition?.description, promotedPosition: nil,
            predictedLossBytes: nil, followers: [], synchronousStandbyNames: nil, reasons: reasons)
        guard let best = ranked.first else {
            plan.reasons.append("no standby qualifies")
            return plan
        }
        plan.candidate = best.candidate.endpoint
        reasons.append(
            "\(best.candidate.endpoint) preferred: \(preferenceWords(best.candidate.preference, region: best.candidate.region, oldRegion: oldRegion, regions: regionRank.count))"
        )

        // Never lose data to honour a preference: the most advanced reachable standby sets the bar.
        let reachableStandbys = snapshot.endpoints.filter {
            $0.endpoint != oldPrimary && $0.isHealthy && $0.role == .standby
                && timelineMismatch($0, primaryTimeline: primaryTimeline) == nil
        }
        let mostAdvanced = reachableStandbys.max { ($0.walPosition ?? LSN(0)) < ($1.walPosition ?? LSN(0)) }
        var promotedLSN = best.lsn
        if let mostAdvanced, let top = mostAdvanced.walPosition, top > (best.lsn ?? LSN(0)),
            mostAdvanced.endpoint != best.candidate.endpoint
        {
            plan.catchUpFrom = mostAdvanced.endpoint
            plan.fallback = ranked.max { ($0.lsn ?? LSN(0)) < ($1.lsn ?? LSN(0)) }?.candidate.endpoint
            promotedLSN = top
            reasons.append(
                "\(mostAdvanced.endpoint) holds \(top - (best.lsn ?? LSN(0))) more bytes of WAL: "
                    + "\(best.candidate.endpoint) catches up from it first, else \(plan.fallback ?? "nobody") is promoted"
            )
        }
        plan.promotedPosition = promotedLSN?.description
        if let old = oldPrimaryPosition, let promoted = promotedLSN {
            plan.predictedLossBytes = max(0, old - promoted)
        }

        let newPrimary = best.candidate.endpoint
        let unavailable: Set<String> = [oldPrimary]
        plan.followers = topology.allEndpoints.compactMap { endpoint in
            guard endpoint.name != oldPrimary, endpoint.name != newPrimary,
                let upstream = ReplicationLayout.expectedUpstream(
                    of: endpoint.name, primary: newPrimary, topology: topology, snapshot: snapshot,
                    excluding: unavailable)
            else { return nil }
            return Follow(endpoint: endpoint.name, upstream: upstream)
        }
        plan.synchronousStandbyNames = synchronousStandbyNames(
            for: newPrimary, topology: topology, snapshot: snapshot, excluding: unavailable)
        if plan.synchronousStandbyNames == "" {
            reasons.append("no configured synchronous standby remains: replication becomes asynchronous")
        }
        plan.reasons = reasons
        return plan
    }

    /// Why `health` cannot be promoted, or nil when it can.
    static func ineligibility(
        _ health: EndpointHealth, endpoint: Endpoint, force: Bool, synchronousOnly: Set<String>?
    ) -> String? {
        if !health.reachable {
            return "unreachable" + (health.lastError.map { ": \($0)" } ?? "")
        }
        if health.isDown { return "down after \(health.consecutiveFailures) failed probes" }
        if health.role != .standby { return "not a standby (role \(health.role.rawValue))" }
        if let synchronousOnly, !synchronousOnly.contains(endpoint.name) {
            return "not a synchronous standby; automatic failover promotes only those when replication is synchronous"
        }
        if !force, let lag = health.lagBytes, lag > endpoint.health.maxLagOnFailover.bytes {
            return
                "\(lag) bytes behind the old primary, more than max_lag_on_failover (\(endpoint.health.maxLagOnFailover))"
        }
        return nil
    }

    /// Why a standby whose WAL receiver is on another timeline than the old primary cannot be
    /// compared with it (nor promoted, nor used to catch up); nil when the timelines match or
    /// either is unknown.
    static func timelineMismatch(_ health: EndpointHealth, primaryTimeline: Int?) -> String? {
        guard let primaryTimeline, health.role == .standby, let timeline = health.walReceiver?.receivedTimeline,
            timeline != primaryTimeline
        else { return nil }
        return "on timeline \(timeline) while the old primary is on timeline \(primaryTimeline): its WAL is not "
            + "the old primary's history (a standby that has not followed, or has diverged)"
    }

    /// Whether `endpoint`, were it eligible, would rank before `candidate` by preference alone (a
    /// replica of the old primary's region, then region leaders by priority, then other replicas).
    public static func wouldPrefer(
        _ endpoint: String, over candidate: String?, oldPrimary: String, topology: ClusterTopology
    ) -> Bool {
        guard let candidate else { return true }
        guard let node = topology.endpoint(named: endpoint), let chosen = topology.endpoint(named: candidate) else {
            return false
        }
        let oldRegion = topology.endpoint(named: oldPrimary)?.region
        let regionRank = Dictionary(
            topology.regionsByPriority.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        return preference(of: node, oldRegion: oldRegion, regionRank: regionRank)
            < preference(of: chosen, oldRegion: oldRegion, regionRank: regionRank)
    }

    /// Lower is preferred: 0 a replica of the old primary's region, 1... region leaders by region
    /// priority, then other replicas by region priority.
    static func preference(of endpoint: Endpoint, oldRegion: String?, regionRank: [String: Int]) -> Int {
        if endpoint.region == oldRegion && endpoint.role == .replica { return 0 }
        if endpoint.role == .leader { return 1 + (regionRank[endpoint.region] ?? 0) }
        return 1 + regionRank.count + (regionRank[endpoint.region] ?? 0)
    }

    static func preferenceWords(_ preference: Int, region: String, oldRegion: String?, regions: Int) -> String {
        if preference == 0 { return "a replica in the old primary's region \(oldRegion ?? "?")" }
        if preference <= regions { return "leader of \(region), the highest-priority region with an eligible standby" }
        return "a replica of \(region); no region leader is eligible"
    }

    /// The configured synchronous standbys other than `newPrimary` that are healthy now, as
    /// `ANY n (...)`; "" when none remain (every commit would otherwise wait forever for a standby
    /// that is gone); nil when replication is asynchronous.
    static func synchronousStandbyNames(
        for newPrimary: String, topology: ClusterTopology, snapshot: HealthSnapshot, excluding unavailable: Set<String>
    ) -> String? {
        guard topology.replication.mode == .synchronous else { return nil }
        let remaining = topology.replication.synchronousStandbys.filter { name in
            name != newPrimary && !unavailable.contains(name) && snapshot[endpoint: name]?.isHealthy == true
        }
        guard !remaining.isEmpty else { return "" }
        let count = min(topology.replication.synchronousCount, remaining.count)
        return "ANY \(count) (\(remaining.map { "\"\($0)\"" }.joined(separator: ", ")))"
    }
}

/// Anti-flapping: automatic failovers closer together than the configured interval need an operator.
public enum AntiFlapPolicy {
    public static func allowsAutomaticFailover(
        lastAutomaticFailoverAt: Date?, now: Date, minimumInterval: Duration
    ) -> Bool {
        guard let last = lastAutomaticFailoverAt else { return true }
        return now.timeIntervalSince(last) >= minimumInterval.seconds
    }
}
