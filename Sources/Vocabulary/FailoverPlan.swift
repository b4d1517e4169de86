/// A standby that could be promoted, and where it stands.
public struct Candidate: Sendable, Equatable, Codable {
    public var endpoint: String
    public var region: String
    /// Lower is preferred: 0 a replica of the old primary's region, 1... region leaders by priority,
    /// then other replicas.
    public var preference: Int
    /// The most advanced WAL position it holds (received or replayed), as PostgreSQL prints it.
    public var position: String?
    public var lagBytes: Int64?
    public var latencyMilliseconds: Double?

    public init(
        endpoint: String, region: String, preference: Int, position: String? = nil, lagBytes: Int64? = nil,
        latencyMilliseconds: Double? = nil
    ) {
        self.endpoint = endpoint
        self.region = region
        self.preference = preference
        self.position = position
        self.lagBytes = lagBytes
        self.latencyMilliseconds = latencyMilliseconds
    }
}

/// A standby that was not chosen, and why, in words an operator can act on.
public struct Rejection: Sendable, Equatable, Codable {
    public var endpoint: String
    public var reason: String

    public init(endpoint: String, reason: String) {
        self.endpoint = endpoint
        self.reason = reason
    }
}

/// Where a standby streams from once the new primary is in place.
public struct Follow: Sendable, Equatable, Codable {
    public var endpoint: String
    public var upstream: String

    public init(endpoint: String, upstream: String) {
        self.endpoint = endpoint
        self.upstream = upstream
    }
}

/// The outcome of step 3 (selection): who is promoted, how, and what it costs. A dry run returns
/// exactly this.
public struct FailoverPlan: Sendable, Equatable, Codable {
    public var oldPrimary: String
    /// The endpoint to promote; nil when no standby qualifies.
    public var candidate: String?
    /// A standby holding more WAL than `candidate`: the candidate streams from it until their
    /// positions match (bounded), so that a preference never costs data.
    public var catchUpFrom: String?
    /// Promoted instead when the catch-up does not finish in time: the most advanced eligible standby.
    public var fallback: String?
    /// Eligible standbys, best first.
    public var ranked: [Candidate]
    public var rejected: [Rejection]
    /// The old primary's last known WAL position.
    public var oldPrimaryPosition: String?
    /// The position the new primary will have (the candidate's, or the catch-up source's).
    public var promotedPosition: String?
    /// WAL bytes the old primary had that the new one will not: nil when the old position is unknown.
    public var predictedLossBytes: Int64?
    /// Every other standby and its upstream under the new primary.
    public var followers: [Follow]
    /// `synchronous_standby_names` for the new primary: the configured synchronous standbys other
    /// than itself; empty when none remain (replication becomes asynchronous, and the plan says so).
    public var synchronousStandbyNames: String?
    /// One line per decision, for the journal and the dry run.
    public var reasons: [String]

    public init(
        oldPrimary: String, candidate: String? = nil, catchUpFrom: String? = nil, fallback: String? = nil,
        ranked: [Candidate], rejected: [Rejection], oldPrimaryPosition: String? = nil, promotedPosition: String? = nil,
        predictedLossBytes: Int64? = nil, followers: [Follow], synchronousStandbyNames: String? = nil, reasons: [String]
    ) {
        self.oldPrimary = oldPrimary
        self.candidate = candidate
        self.catchUpFrom = catchUpFrom
        self.fallback = fallback
        self.ranked = ranked
        self.rejected = rejected
        self.oldPrimaryPosition = oldPrimaryPosition
        self.promotedPosition = promotedPosition
        self.predictedLossBytes = predictedLossBytes
        self.followers = followers
        self.synchronousStandbyNames = synchronousStandbyNames
        self.reasons = reasons
    }
}
